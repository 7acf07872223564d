/** secp256k1 primitives shared by the ceremonies: scalar and point codecs that validate at the edge. */
import type { RNG } from '@noble/curves/abstract/frost.js';
import { schnorr, secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes } from '@noble/curves/utils.js';
import { decompress, msm, mul, mulSmall } from './ecc.ts';
import { FrostnetError } from './errors.ts';
import { at, entry } from './indexing.ts';

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

/** Bytes of randomness behind one secret scalar: 48 for secp256k1, as noble's keys and FROST scalars take. */
const SCALAR_SEED_BYTES = secp256k1.lengths.seed ?? 48;

/**
 * A secret scalar uniform in [1, n), drawn from the ceremony's `rng` exactly as @noble/curves draws a secret key
 * (randomSecretKey: mapHashToField over 48 bytes, bias below 2^-128). The same bytes give the same scalar, so a
 * seeded `rng` replays a ceremony; in operation `rng` is crypto randomness.
 */
export const randomScalar = (rng: RNG): bigint =>
  Fn.fromBytes(secp256k1.utils.randomSecretKey(rng(SCALAR_SEED_BYTES)));

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
    let acc = commitment.length ? at(commitment, commitment.length - 1) : Point.ZERO;
    for (let k = commitment.length - 2; k >= 0; k--) acc = mulSmall(acc, n).add(at(commitment, k));
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

/**
 * The commitment evaluated at every one of `xs` (every member's verifying share). For many small identifiers
 * by finite differences: the commitment's Newton form over the nodes 0..d-1 (repeated synthetic division,
 * d(d-1)/2 small-multiple steps for degree d), its forward differences at 0 (d multiplications by k!), then one
 * addition per coefficient for each x from 0 to the largest. Otherwise, or when that costs more, Horner at
 * each x.
 */
export function evalCommitmentAt(commitment: readonly Point[], xs: readonly bigint[]): Point[] {
  const d = commitment.length - 1;
  const small = xs.every((x) => x >= 0n && x < 1n << 16n);
  const max = small ? Number(xs.reduce((a, b) => (a > b ? a : b), 0n)) : 0;
  // Rough costs in point additions: a Horner step at x costs ~log2(x) doublings and half as many additions.
  const horner = xs.reduce((acc, x) => acc + d * (1.5 * Math.log2(Number(x) + 2) + 1), 0);
  const differences = ((d * d) / 2) * (1.5 * Math.log2(d + 2) + 1) + 50 * d + (max + 1) * d;
  if (!small || d < 2 || differences >= horner) return xs.map((x) => evalCommitment(commitment, x));
  const table = forwardDifferences(commitment);
  const wanted = new Map(xs.map((x) => [Number(x), Point.ZERO]));
  for (let x = 0; x <= max; x++) {
    if (wanted.has(x)) wanted.set(x, at(table, 0));
    for (let i = 0; i < d; i++) table[i] = at(table, i).add(at(table, i + 1));
  }
  return xs.map((x) => entry(wanted, Number(x), 'evaluated commitments'));
}

/** Δ^k F(0) for k = 0..d, F(x) = Σ C_k x^k: Newton coefficients over 0..d-1 times k!. */
function forwardDifferences(commitment: readonly Point[]): Point[] {
  const d = commitment.length - 1;
  let q = [...commitment];
  const newton: Point[] = [];
  for (let z = 0; z < d; z++) {
    // q = (x - z)·s + r: the remainder is the Newton coefficient, the quotient goes on.
    const D = q.length - 1;
    const s: Point[] = new Array(D);
    s[D - 1] = at(q, D);
    for (let m = D - 1; m >= 1; m--) s[m - 1] = at(q, m).add(mulSmall(at(s, m), z));
    newton.push(at(q, 0).add(mulSmall(at(s, 0), z)));
    q = s;
  }
  newton.push(at(q, 0));
  let factorial = 1n;
  return newton.map((a, k) => {
    if (k > 1) factorial *= BigInt(k);
    return factorial === 1n ? a : mul(a, Fn.create(factorial));
  });
}

/** Evaluates a scalar polynomial at x (Horner). */
export function evalPolynomial(coefficients: readonly bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = Fn.add(Fn.mul(acc, x), at(coefficients, k));
  return acc;
}

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);
