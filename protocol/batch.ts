/**
 * Batch verification of linear relations between points, each claimed by one party: all of them folded into one
 * random linear combination and checked as one multi-scalar multiplication; only when that fails is each
 * checked alone, to name exactly the parties whose relations are false. The random weights are 128 bits from
 * an injected generator, so a false relation passes the batch with probability 2^-128, and tests can seed it.
 */
import type { RNG } from '@noble/curves/abstract/frost.js';
import { bytesToNumberBE, randomBytes } from '@noble/curves/utils.js';
import { Fn, Point } from './curve.ts';
import { msm, mulBase } from './ecc.ts';
import { at } from './indexing.ts';
import type { PartyId } from './keys.ts';

/**
 * The claim Σ scalars[i]·points[i] + base·G = 0 made by `party`. Points and scalars are public; `base` may be
 * secret (a received share), so it is only ever multiplied in constant time.
 */
export type Relation = {
  readonly party: PartyId;
  readonly points: readonly Point[];
  readonly scalars: readonly bigint[];
  readonly base: bigint;
};

const WEIGHT_BYTES = 16;
const HALF = Fn.ORDER >> 1n;

const baseTimes = (k: bigint): Point => (k === 0n ? Point.ZERO : mulBase(k));

/** Σ s_i·P_i with every coefficient above n/2 turned into a short one on the negated point. */
function combination(points: readonly Point[], scalars: readonly bigint[]): Point {
  const ps: Point[] = [];
  const ss: bigint[] = [];
  points.forEach((p, i) => {
    const s = Fn.create(at(scalars, i, 'batch scalars'));
    if (s > HALF) {
      ps.push(p.negate());
      ss.push(Fn.neg(s));
    } else {
      ps.push(p);
      ss.push(s);
    }
  });
  return msm(ps, ss);
}

const holds = (r: Relation): boolean =>
  combination(r.points, r.scalars)
    .add(baseTimes(Fn.create(r.base)))
    .is0();

/** A weight in [1, 2^128). */
function weight(rng: RNG): bigint {
  const w = bytesToNumberBE(rng(WEIGHT_BYTES));
  return w === 0n ? 1n : w;
}

/** The parties, in order, whose relations are false; empty when every relation holds. */
export function failingParties(relations: readonly Relation[], rng: RNG = randomBytes): PartyId[] {
  if (relations.length === 0) return [];
  if (relations.length > 1) {
    const points: Point[] = [];
    const scalars: bigint[] = [];
    let base = 0n;
    for (const r of relations) {
      const w = weight(rng);
      r.points.forEach((p, i) => {
        points.push(p);
        scalars.push(Fn.mul(w, at(r.scalars, i, `the relation of ${r.party}`)));
      });
      base = Fn.add(base, Fn.mul(w, r.base));
    }
    if (combination(points, scalars).add(baseTimes(base)).is0()) return [];
  }
  return [...new Set(relations.filter((r) => !holds(r)).map((r) => r.party))];
}
