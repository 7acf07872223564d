/**
 * The wallet layout of a key group. The root is the untweaked group key with the chain code agreed in the DKG
 * (depth 0 of a BIP32 tree). Receive keys sit at [0, i], change keys at [1, i], all unhardened so that the
 * network can sign for them by tweaking shares. Every address key is a Taproot output key, by default with an
 * empty script tree (the key path is the only way to spend); a key with a recovery policy commits each address
 * to that policy's tree instead (recovery.ts), and to nothing else.
 */
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, equalBytes, type Point, parsePoint, pointToBytes, xOnly } from '../../protocol/curve.ts';
import { derivePath, type ExtendedKey } from '../../protocol/derive.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { type TweakStep, taprootStep, tweakPoint } from '../../protocol/tweak.ts';
import { base58check } from './base58.ts';
import { bitcoinNetwork, type NetworkName } from './network.ts';

export type { ExtendedKey };

/** A key group as a Bitcoin wallet. */
export type Wallet = { readonly root: ExtendedKey; readonly network: NetworkName };

export const RECEIVE_BRANCH = 0;
export const CHANGE_BRANCH = 1;

export type WalletKey = {
  /** Unhardened BIP32 path from the root. */
  readonly path: readonly number[];
  /** The BIP32 child key, used as the Taproot internal key. */
  readonly internalKey: Point;
  /** The x-only Taproot output key (BIP341 tweak with `merkleRoot`, or with no script tree). */
  readonly outputKey: Uint8Array;
  /** The merkle root of the script tree the output key commits to; undefined for an empty tree. */
  readonly merkleRoot?: Uint8Array;
  /** Tweaks that take the root key (and every share) to the output key: the BIP32 steps, then the Taproot step. */
  readonly steps: readonly TweakStep[];
};

/** Builds the root from the group key (33-byte compressed) and the 32-byte chain code. */
export function walletRoot(groupKey: Uint8Array, chainCode: Uint8Array): ExtendedKey {
  const key = parsePoint(groupKey, 'group key');
  if (!(chainCode instanceof Uint8Array) || chainCode.length !== 32)
    throw new FrostnetError('INVALID_INPUT', 'chain code: expected 32 bytes');
  return { key, chainCode: Uint8Array.from(chainCode) };
}

/**
 * The output key and its tweaks for any unhardened path below the root, committing to the script tree of
 * `merkleRoot` (none when undefined).
 */
export function keyAtPath(root: ExtendedKey, path: readonly number[], merkleRoot?: Uint8Array): WalletKey {
  const child = derivePath(root, path);
  const steps = [...child.steps, taprootStep(child.key, merkleRoot)];
  const outputKey = xOnly(tweakPoint(root.key, steps));
  return {
    path: [...path],
    internalKey: child.key,
    outputKey,
    steps,
    ...(merkleRoot && { merkleRoot: Uint8Array.from(merkleRoot) }),
  };
}

/** Receive key i ([0, i]) or change key i ([1, i]). */
export function walletKey(root: ExtendedKey, at: { change: boolean; index: number }): WalletKey {
  return keyAtPath(root, [at.change ? CHANGE_BRANCH : RECEIVE_BRANCH, at.index]);
}

/** "m/0/5": the path as PSBT derivation fields and descriptors write it. */
export const formatPath = (path: readonly number[]): string => ['m', ...path].join('/');

/** hash160 of the compressed root key, first four bytes (BIP32 key identifier). */
export function masterFingerprint(root: ExtendedKey): Uint8Array {
  return ripemd160(sha256(pointToBytes(root.key))).slice(0, 4);
}

export const fingerprintHex = (root: ExtendedKey): string => bytesToHex(masterFingerprint(root));

export const sameFingerprint = (a: Uint8Array, root: ExtendedKey): boolean =>
  equalBytes(a, masterFingerprint(root));

/** The 78-byte BIP32 serialization of the root public key: depth 0, no parent, child number 0. */
export function xpubBytes(root: ExtendedKey, network: NetworkName): Uint8Array {
  const out = new Uint8Array(78);
  const view = new DataView(out.buffer);
  view.setUint32(0, bitcoinNetwork(network).bip32.public, false);
  // depth (byte 4), parent fingerprint (5..8) and child number (9..12) stay zero for a root.
  out.set(root.chainCode, 13);
  out.set(pointToBytes(root.key), 45);
  return out;
}

/** The root as an extended public key: xpub on mainnet, tpub elsewhere. */
export const xpub = (root: ExtendedKey, network: NetworkName): string =>
  base58check(xpubBytes(root, network));
