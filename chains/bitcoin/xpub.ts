/**
 * BIP32 extended public keys and key origins as wallets exchange them: the serialization (xpub on mainnet,
 * tpub elsewhere), key fingerprints, and "[fingerprint/path]" origins with hardened steps. Parsing checks
 * everything a mistyped or mismatched key could get wrong, so that a key given to us fails here, not in a
 * wallet years later.
 */
import { ripemd160 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  bytesToHex,
  equalBytes,
  hexToBytes,
  type Point,
  parsePoint,
  pointToBytes,
} from '../../protocol/curve.ts';
import { type ExtendedKey, HARDENED } from '../../protocol/derive.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { base58check, base58checkDecode } from './base58.ts';
import { type NetworkName, parseNetwork, XPUB_VERSIONS } from './network-names.ts';

/** An extended public key with the BIP32 fields its serialization carries besides key and chain code. */
export type ExtendedPublicKey = ExtendedKey & {
  readonly depth: number;
  readonly parentFingerprint: Uint8Array;
  readonly childNumber: number;
};

/** Where a key comes from: its wallet's master fingerprint and the path (hardened steps >= 2^31) from there. */
export type KeyOrigin = { readonly fingerprint: Uint8Array; readonly path: readonly number[] };

const XPUB_BYTES = 78;
const PUBLIC_VERSIONS = new Set(Object.values(XPUB_VERSIONS));

const invalid = (what: string, why: string) => new FrostnetError('INVALID_INPUT', `${what}: ${why}`);

/** hash160 of the compressed key, first four bytes (the BIP32 key identifier's fingerprint). */
export function keyFingerprint(key: Point): Uint8Array {
  return ripemd160(sha256(pointToBytes(key))).slice(0, 4);
}

/** The BIP32 serialization for `network`: xpub on mainnet, tpub on the test networks. */
export function serializeXpub(k: ExtendedPublicKey, network: NetworkName): string {
  const out = new Uint8Array(XPUB_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, XPUB_VERSIONS[parseNetwork(network)], false);
  out[4] = k.depth;
  out.set(k.parentFingerprint, 5);
  view.setUint32(9, k.childNumber, false);
  out.set(k.chainCode, 13);
  out.set(pointToBytes(k.key), 45);
  return base58check(out);
}

/**
 * Parses an xpub or tpub (the same key either way: the prefix only names the network). Private keys and
 * SLIP-132 prefixes (ypub, zpub, ...) are refused with what to give instead.
 */
export function parseXpub(text: string, what = 'extended key'): ExtendedPublicKey {
  if (typeof text !== 'string') throw invalid(what, 'expected an xpub');
  if (/^[xt]prv/.test(text))
    throw invalid(what, 'that is a private key; give its public key (xpub or tpub), which cannot spend');
  if (/^[yzYZuvUV]pub/.test(text))
    throw invalid(
      what,
      `give the key as an xpub or tpub (the ${text.slice(0, 4)} prefix names a script type)`,
    );
  const data = base58checkDecode(text, what);
  if (data.length !== XPUB_BYTES) throw invalid(what, `expected ${XPUB_BYTES} bytes, got ${data.length}`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (!PUBLIC_VERSIONS.has(view.getUint32(0, false))) throw invalid(what, 'not an xpub or tpub');
  const depth = data[4]!;
  const parentFingerprint = data.slice(5, 9);
  const childNumber = view.getUint32(9, false);
  if (depth === 0 && (childNumber !== 0 || parentFingerprint.some((b) => b !== 0)))
    throw invalid(what, 'a depth-0 key with a parent or a child number');
  if (data[45] !== 0x02 && data[45] !== 0x03) throw invalid(what, 'its key is not a compressed public key');
  const key = parsePoint(data.slice(45, 78), what);
  return { key, chainCode: data.slice(13, 45), depth, parentFingerprint, childNumber };
}

/** "m/48h/0h/0h/2h/0/5" with `marker` after hardened steps: "h" for descriptors, "'" for PSBT fields. */
export function formatDerivation(path: readonly number[], marker: 'h' | "'"): string {
  return ['m', ...path.map((i) => (i >= HARDENED ? `${i - HARDENED}${marker}` : `${i}`))].join('/');
}

/** "[d34db33f/48h/0h/0h/2h]": the key origin as descriptors write it. */
export function formatKeyOrigin(origin: KeyOrigin): string {
  return `[${bytesToHex(origin.fingerprint)}${formatDerivation(origin.path, 'h').slice(1)}]`;
}

/** Parses the inside of a "[fingerprint/path]" origin; hardened steps may be written h, H or '. */
export function parseKeyOrigin(text: string, what = 'key origin'): KeyOrigin {
  const [fp, ...steps] = text.split('/');
  if (!/^[0-9a-fA-F]{8}$/.test(fp ?? '')) throw invalid(what, `"${fp}" is not a fingerprint (8 hex digits)`);
  const path = steps.map((s) => {
    const m = /^(\d+)([hH']?)$/.exec(s);
    const n = m ? Number(m[1]) : Number.NaN;
    if (!m || !Number.isSafeInteger(n) || n >= HARDENED)
      throw invalid(what, `"${s}" is not a derivation step`);
    return m[2] ? n + HARDENED : n;
  });
  return { fingerprint: hexToBytes(fp!.toLowerCase()), path };
}

/**
 * Checks that an origin describes this key: as many steps as its depth, the last one its child number, and at
 * depth 1 the parent's fingerprint; a depth-0 key is its own origin.
 */
export function checkOrigin(key: ExtendedPublicKey, origin: KeyOrigin, what: string): void {
  if (origin.path.length !== key.depth)
    throw invalid(what, `its origin has ${origin.path.length} steps, but the key is at depth ${key.depth}`);
  if (key.depth === 0 && !equalBytes(origin.fingerprint, keyFingerprint(key.key)))
    throw invalid(what, "a depth-0 key's origin fingerprint must be its own");
  if (key.depth > 0 && origin.path[origin.path.length - 1] !== key.childNumber)
    throw invalid(what, "its origin's last step is not the key's child number");
  if (key.depth === 1 && !equalBytes(origin.fingerprint, key.parentFingerprint))
    throw invalid(what, "its origin fingerprint is not the key's parent");
}
