/**
 * The wallet layout of a key group. The root is the untweaked group key with the chain code agreed in the DKG
 * (depth 0 of a BIP32 tree). Receive keys sit at [0, i], change keys at [1, i], all unhardened so that the
 * network can sign for them by tweaking shares. Every address key is a Taproot output key, by default with an
 * empty script tree (the key path is the only way to spend); a key with a recovery policy commits each address
 * to that policy's tree instead (recovery.ts), and to nothing else.
 */
import { bytesToHex, equalBytes, type Point, parsePoint, xOnly } from '../../protocol/curve.ts';
import { derivePath, type ExtendedKey, formatPath } from '../../protocol/derive.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { type TweakStep, taprootStep, tweakPoint } from '../../protocol/tweak.ts';
import type { NetworkName } from './network.ts';
import { type RecoveryPolicy, type RecoveryTreeAt, recoveryTreeAt } from './recovery.ts';
import { keyFingerprint, serializeXpub } from './xpub.ts';

export type { ExtendedKey };

/**
 * A key group as a Bitcoin wallet: its root, the network, and the recovery policy its members agreed to, if
 * any (from the key's own record, never from a request).
 */
export type Wallet = {
  readonly root: ExtendedKey;
  readonly network: NetworkName;
  readonly recovery?: RecoveryPolicy;
};

import { CHANGE_BRANCH, RECEIVE_BRANCH } from '../domains.ts';

export { CHANGE_BRANCH, RECEIVE_BRANCH };

export type WalletKey = {
  /** Unhardened BIP32 path from the root. */
  readonly path: readonly number[];
  /** The BIP32 child key, used as the Taproot internal key. */
  readonly internalKey: Point;
  /** The x-only Taproot output key (BIP341 tweak with `merkleRoot`, or with no script tree). */
  readonly outputKey: Uint8Array;
  /** The merkle root of the script tree the output key commits to; undefined for an empty tree. */
  readonly merkleRoot?: Uint8Array;
  /** The recovery tree behind merkleRoot, for keys of a wallet with a recovery policy. */
  readonly recoveryTree?: RecoveryTreeAt;
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
  const taproot = taprootStep(child.key, merkleRoot);
  const steps = [...child.steps, taproot];
  // The BIP32 steps take the root to child.key, so only the Taproot step is left to apply.
  const outputKey = xOnly(tweakPoint(child.key, [taproot]));
  return {
    path: [...path],
    internalKey: child.key,
    outputKey,
    steps,
    ...(merkleRoot && { merkleRoot: Uint8Array.from(merkleRoot) }),
  };
}

/** Receive address i or change address i. */
export type AddressAt = { readonly change: boolean; readonly index: number };

/** [0, i] for receive address i, [1, i] for change address i. */
export const addressPath = (at: AddressAt): number[] => [
  at.change ? CHANGE_BRANCH : RECEIVE_BRANCH,
  at.index,
];

/** Receive key i ([0, i]) or change key i ([1, i]), with no script tree. */
export function walletKey(root: ExtendedKey, at: AddressAt): WalletKey {
  return keyAtPath(root, addressPath(at));
}

/**
 * The key the wallet's descriptor gives `path`: without a recovery policy keyAtPath's empty-tree key; with one,
 * the key committing to the policy's tree at that address, which exists only for receive and change keys.
 */
export function descriptorKey(wallet: Wallet, path: readonly number[]): WalletKey {
  if (!wallet.recovery) return keyAtPath(wallet.root, path);
  const [branch, index] = path;
  if (path.length !== 2 || (branch !== RECEIVE_BRANCH && branch !== CHANGE_BRANCH))
    throw new FrostnetError(
      'WRONG_CONTEXT',
      `${formatPath(path)} is not an address of this key: with a recovery policy its addresses are m/0/i and m/1/i`,
    );
  const recoveryTree = recoveryTreeAt(wallet.recovery, branch, index!);
  return { ...keyAtPath(wallet.root, path, recoveryTree.merkleRoot), recoveryTree };
}

export { formatPath };

/** hash160 of the compressed root key, first four bytes (BIP32 key identifier). */
export const masterFingerprint = (root: ExtendedKey): Uint8Array => keyFingerprint(root.key);

export const fingerprintHex = (root: ExtendedKey): string => bytesToHex(masterFingerprint(root));

export const sameFingerprint = (a: Uint8Array, root: ExtendedKey): boolean =>
  equalBytes(a, masterFingerprint(root));

/** The root as an extended public key (depth 0, no parent, child number 0): xpub on mainnet, tpub elsewhere. */
export const xpub = (root: ExtendedKey, network: NetworkName): string =>
  serializeXpub({ ...root, depth: 0, parentFingerprint: new Uint8Array(4), childNumber: 0 }, network);
