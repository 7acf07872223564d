/** secp256k1 primitives shared by the ceremonies: scalar and point codecs that validate at the edge. */
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/curves/utils.js';
import { decompress, msm, mulSmall } from './ecc.ts';
import { FrostnetError } from './errors.ts';

export const Point = secp256k1.Point;
export type Point = InstanceType<typeof secp256k1.Point>;
export const Fn = Point.Fn;
export const G = Point.BASE;

export { bytesToHex, hexToBytes };

/** Parses a 33-byte compressed point; rejects identity and off-curve encodings. */
export function parsePoint(bytes: Uint8Array, what = 'point'): Point {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 33)
    throw new FrostnetError('INVALID_INPUT', `${what}: expected 33-byte compressed point`);
  try {
    // Compressed encodings have no identity: a point that decodes is a valid, non-zero point.
    return decompress(bytes);
  } catch {
    throw new FrostnetError('INVALID_INPUT', `${what}: not a point on secp256k1`);
  }
}

/** Parses a 32-byte big-endian scalar in [0, n). `nonzero` also rejects 0. */
export function parseScalar(bytes: Uint8Array, what = 'scalar', nonzero = false): bigint {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32)
    throw new FrostnetError('INVALID_INPUT', `${what}: expected 32-byte scalar`);
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  if (n >= Fn.ORDER) throw new FrostnetError('INVALID_INPUT', `${what}: scalar not below the group order`);
  if (nonzero && n === 0n) throw new FrostnetError('INVALID_INPUT', `${what}: zero scalar`);
  return n;
}

/** Byte arrays backed by a plain ArrayBuffer, as noble's package types expect. */
export type Bytes = Uint8Array<ArrayBuffer>;

export const scalarToBytes = (n: bigint): Bytes => Fn.toBytes(Fn.create(n)) as Bytes;
export const pointToBytes = (p: Point): Bytes => p.toBytes(true) as Bytes;
export const xOnly = (p: Point): Uint8Array => p.toBytes(true).subarray(1);
export const hasEvenY = (p: Point): boolean => p.toAffine().y % 2n === 0n;

/** BIP340 tagged hash. */
export const taggedHash = (tag: string, ...parts: Uint8Array[]): Uint8Array =>
  schnorr.utils.taggedHash(tag, ...parts);

/** Identifiers up to this are evaluated by Horner's rule with doublings; larger ones by multiplications. */
const SMALL_X = 1n << 20n;

/**
 * Evaluates a polynomial commitment at x: sum_k C_k * x^(k + firstPower). `firstPower` 1 serves commitments
 * that leave out a zero constant term. Identifiers are small integers, so Horner's rule costs a few doublings
 * per coefficient, several times less than one multi-scalar multiplication by the powers of x.
 */
export function evalCommitment(commitment: readonly Point[], x: bigint, firstPower = 0): Point {
  if (x >= 0n && x < SMALL_X) {
    const n = Number(x);
    let acc = Point.ZERO;
    for (let k = commitment.length - 1; k >= 0; k--) acc = mulSmall(acc, n).add(commitment[k]);
    for (let i = 0; i < firstPower; i++) acc = mulSmall(acc, n);
    return acc;
  }
  const powers: bigint[] = [];
  let p = Fn.pow(x, BigInt(firstPower));
  for (let k = 0; k < commitment.length; k++) {
    powers.push(p);
    p = Fn.mul(p, x);
  }
  return msm(commitment, powers);
}

/** Evaluates a scalar polynomial at x (Horner). */
export function evalPolynomial(coefficients: readonly bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = Fn.add(Fn.mul(acc, x), coefficients[k]);
  return acc;
}

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);
