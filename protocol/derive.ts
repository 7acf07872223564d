/**
 * BIP32 unhardened public derivation, expressed as additive tweaks so that the network can sign for any child
 * key. Only unhardened steps exist: a hardened step needs the whole private key, which nobody has.
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, Fn, type Point, pointToBytes } from './curve.ts';
import { mulBase } from './ecc.ts';
import { FrostnetError } from './errors.ts';
import { Memo } from './memo.ts';
import type { TweakStep } from './tweak.ts';

export const HARDENED = 0x80000000;

export type ExtendedKey = { readonly key: Point; readonly chainCode: Uint8Array };
export type Derived = ExtendedKey & { readonly steps: readonly TweakStep[] };

/** CKDpub for one unhardened index; the tweak is IL. */
export function deriveChild(parent: ExtendedKey, index: number): ExtendedKey & { tweak: bigint } {
  if (!Number.isSafeInteger(index) || index < 0 || index >= HARDENED)
    throw new FrostnetError(
      'INVALID_INPUT',
      `derivation index ${index}: only unhardened indexes 0..2^31-1 exist`,
    );
  const data = new Uint8Array(37);
  data.set(pointToBytes(parent.key), 0);
  new DataView(data.buffer).setUint32(33, index, false);
  const I = hmac(sha512, parent.chainCode, data);
  const IL = I.subarray(0, 32);
  let t = 0n;
  for (const b of IL) t = (t << 8n) | BigInt(b);
  // BIP32: IL >= n or an infinite child makes this index invalid; the caller moves to the next one.
  if (t >= Fn.ORDER)
    throw new FrostnetError('INVALID_INPUT', `derivation index ${index} is invalid (IL >= n)`);
  const key = parent.key.add(mulBase(t));
  if (key.is0()) throw new FrostnetError('INVALID_INPUT', `derivation index ${index} is invalid (infinity)`);
  return { key, chainCode: I.slice(32), tweak: t };
}

/**
 * Children already derived, by parent and path: every party derives the key of each request it signs (a raw
 * message's path, the drill key, an EVM account), most often the same few again, and each step costs an
 * HMAC-SHA512, a base multiplication and an addition. Public data only.
 */
const derived = new Memo<Derived>(1024);

/** Derives along an unhardened path and returns the tweaks that take the parent's shares to the child's. */
export function derivePath(root: ExtendedKey, path: readonly number[]): Derived {
  const key = `${bytesToHex(pointToBytes(root.key))}${bytesToHex(root.chainCode)}/${path.join('/')}`;
  return derived.get(key, () => deriveUncached(root, path));
}

function deriveUncached(root: ExtendedKey, path: readonly number[]): Derived {
  let node: ExtendedKey = root;
  const steps: TweakStep[] = [];
  for (const index of path) {
    const child = deriveChild(node, index);
    steps.push(Object.freeze({ evenY: false, add: child.tweak }));
    node = child;
  }
  return Object.freeze({ key: node.key, chainCode: node.chainCode, steps: Object.freeze(steps) });
}

/** "m/0/5": a path as PSBT derivation fields and descriptors write it. */
export const formatPath = (path: readonly number[]): string => ['m', ...path].join('/');

/** Parses "m/0/5" or "0/5" into indexes; hardened markers are refused with a reason. */
export function parsePath(path: string): number[] {
  const parts = path
    .trim()
    .replace(/^m\/?/, '')
    .split('/')
    .filter((p) => p.length > 0);
  return parts.map((p) => {
    if (/['hH]$/.test(p))
      throw new FrostnetError('INVALID_INPUT', `path ${path}: hardened steps need the whole key`);
    if (!/^\d+$/.test(p)) throw new FrostnetError('INVALID_INPUT', `path ${path}: "${p}" is not an index`);
    return Number(p);
  });
}
