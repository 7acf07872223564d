/**
 * The secp256k1 backend of the hot operations, each done by whichever library is faster at it
 * (bench/curve-ops.ts measures both; docs/performance.md has the figures). libsecp256k1 compiled to
 * WebAssembly (tiny-secp256k1) multiplies and decompresses several times faster than @noble/curves' bigint
 * arithmetic, but every call goes through serialized points, so @noble/curves keeps what is cheaper than one
 * such call: addition, doubling, multiplication by a small integer, and the Point type every module uses.
 *
 * Constant time where a secret is involved: `mulBase` and `mul` run libsecp256k1's constant-time ecmult_gen
 * and ecmult_const, and the scalar bytes handed to them are wiped after the call.
 */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import * as wasm from 'tiny-secp256k1';
import { FrostnetError } from './errors.ts';
import { at } from './indexing.ts';

type Point = InstanceType<typeof secp256k1.Point>;
const Point = secp256k1.Point;
const Fn = Point.Fn;

const FIELD_BYTES = 32;

/** 65-byte uncompressed SEC1 encoding, with one inversion (noble's toBytes spends two on a projective point). */
export function uncompressed(p: Point): Uint8Array {
  const { x, y } = p.toAffine();
  const out = new Uint8Array(1 + 2 * FIELD_BYTES);
  out[0] = 4;
  writeBE(out, 1, x);
  writeBE(out, 1 + FIELD_BYTES, y);
  return out;
}

function writeBE(out: Uint8Array, at: number, n: bigint): void {
  for (let i = at + FIELD_BYTES - 1; i >= at; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
}

const fromUncompressed = (bytes: Uint8Array): Point => Point.fromBytes(bytes);

/** The big-endian integer of bytes[at .. at + 32). */
function readBE(bytes: Uint8Array, at: number): bigint {
  const v = new DataView(bytes.buffer, bytes.byteOffset + at, FIELD_BYTES);
  return (
    (v.getBigUint64(0) << 192n) |
    (v.getBigUint64(8) << 128n) |
    (v.getBigUint64(16) << 64n) |
    v.getBigUint64(24)
  );
}

/**
 * A 33-byte compressed point, decompressed by libsecp256k1 (its square root is several times faster) and
 * checked again on the curve by @noble/curves. Throws a plain Error for anything that is not a point (the
 * callers blame whoever sent it).
 */
export function decompress(bytes: Uint8Array): Point {
  if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) throw new Error('not a compressed point');
  let full: Uint8Array;
  try {
    full = wasm.pointCompress(bytes, false);
  } catch {
    throw new Error('not a point on secp256k1');
  }
  const p = Point.fromAffine({ x: readBE(bytes, 1), y: readBE(full, 1 + FIELD_BYTES) });
  p.assertValidity();
  return p;
}

function scalarBytes(k: bigint): Uint8Array {
  if (!Fn.isValidNot0(k)) throw new FrostnetError('INVALID_INPUT', 'scalar out of range');
  return Fn.toBytes(k);
}

/** k·G, constant time; k in [1, n). */
export function mulBase(k: bigint): Point {
  const b = scalarBytes(k);
  try {
    return fromUncompressed(wasm.pointFromScalar(b, false)!);
  } finally {
    b.fill(0);
  }
}

/** k·P, constant time (also the fastest variable-base multiplication there is here); k in [0, n). */
export function mul(p: Point, k: bigint): Point {
  if (k === 0n || p.is0()) return Point.ZERO;
  const b = scalarBytes(k);
  try {
    const out = wasm.pointMultiply(uncompressed(p), b, false);
    return out ? fromUncompressed(out) : Point.ZERO;
  } finally {
    b.fill(0);
  }
}

/**
 * Σ scalars[i]·points[i] over public points and scalars. One libsecp256k1 multiplication per point beats
 * @noble/curves' interleaved wNAF and Pippenger at every size this project meets (up to a few thousand).
 */
export function msm(points: readonly Point[], scalars: readonly bigint[]): Point {
  if (points.length !== scalars.length) throw new Error('msm: as many scalars as points');
  let acc = Point.ZERO;
  for (let i = 0; i < points.length; i++) {
    const s = at(scalars, i, 'msm scalars');
    if (s === 0n) continue;
    const p = at(points, i, 'msm points');
    acc = acc.add(s === 1n ? p : mul(p, s));
  }
  return acc;
}

/** n·P for a small non-negative integer n (an identifier, a node of an interpolation): binary, top bit first. */
export function mulSmall(p: Point, n: number): Point {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error('mulSmall: expected a small non-negative integer');
  if (n === 0) return Point.ZERO;
  let top = 1;
  while (top * 2 <= n) top *= 2;
  let acc = p;
  for (let bit = top / 2; bit >= 1; bit /= 2) {
    acc = acc.double();
    if (Math.floor(n / bit) % 2 === 1) acc = acc.add(p);
  }
  return acc;
}

/**
 * BIP340 verification: libsecp256k1 for 32-byte messages (every message this project signs with BIP340 is a
 * digest or a sighash), @noble/curves for other lengths. False, never a throw, for malformed input.
 */
export function verifySchnorr(signature: Uint8Array, message: Uint8Array, xOnlyKey: Uint8Array): boolean {
  if (signature.length !== 64 || xOnlyKey.length !== 32) return false;
  try {
    if (message.length === 32) return wasm.verifySchnorr(message, xOnlyKey, signature);
  } catch {
    // libsecp256k1's wrapper refuses an r at or above the group order, which BIP340 allows (r is a field
    // element): such a signature goes to @noble/curves.
  }
  try {
    return schnorr.verify(signature, message, xOnlyKey);
  } catch {
    return false;
  }
}
