/**
 * Additive key tweaks, applied alike to the group key, to every verifying share and to every signing share,
 * so that a threshold key can sign for a derived key (BIP32 unhardened child, Taproot output key) while no party
 * holds more than its own share. Adding t to every share adds t to the shared secret, since the Lagrange
 * coefficients of any signing set sum to one.
 */
import type { FrostPublic, FrostSecret } from '@noble/curves/abstract/frost.js';
import { Fn, hasEvenY, type Point, parsePoint, pointToBytes, taggedHash, xOnly } from './curve.ts';
import { mulBase } from './ecc.ts';
import { FrostnetError } from './errors.ts';
import { at } from './indexing.ts';

/** One derivation step: optionally negate the key to even Y (BIP340 x-only semantics), then add `add`·G. */
export type TweakStep = { readonly evenY: boolean; readonly add: bigint };

function applyStep(P: Point, step: TweakStep): { point: Point; negated: boolean } {
  const negated = step.evenY && !hasEvenY(P);
  const base = negated ? P.negate() : P;
  const point = step.add === 0n ? base : base.add(mulBase(step.add));
  if (point.is0()) throw new FrostnetError('INVALID_INPUT', 'tweak leads to the point at infinity');
  return { point, negated };
}

/** The key after every step. */
export function tweakPoint(P: Point, steps: readonly TweakStep[]): Point {
  let point = P;
  for (const s of steps) point = applyStep(point, s).point;
  return point;
}

/**
 * Every step folded into one affine map: the key after them is (negate ? -P : P) + add·G, and so is every
 * share's image, (negate ? -s : s) + add, and every verifying share's. One pass over the steps' points.
 */
export type ComposedTweak = { readonly key: Point; readonly negate: boolean; readonly add: bigint };

export function composeSteps(P: Point, steps: readonly TweakStep[]): ComposedTweak {
  let key = P;
  let negate = false;
  let add = 0n;
  for (const s of steps) {
    const step = applyStep(key, s);
    if (step.negated) {
      negate = !negate;
      add = Fn.neg(add);
    }
    add = Fn.add(add, s.add);
    key = step.point;
  }
  return { key, negate, add };
}

/** A whole secret key after every step, for single-key reference signing in tests and tools. */
export function tweakSecretKey(secret: bigint, steps: readonly TweakStep[]): bigint {
  let x = secret;
  let P = mulBase(secret);
  for (const s of steps) {
    const { point, negated } = applyStep(P, s);
    x = Fn.add(negated ? Fn.neg(x) : x, s.add);
    P = point;
  }
  return x;
}

/**
 * The public package of a key group after every step: commitment[0] (the group key) and every verifying
 * share move together; higher commitments only flip sign with the key.
 */
export function tweakPublic(pub: FrostPublic, steps: readonly TweakStep[]): FrostPublic {
  if (steps.length === 0) return pub;
  let commitments = pub.commitments.map((c) => parsePoint(c, 'commitment'));
  let shares = Object.entries(pub.verifyingShares).map(
    ([id, v]) => [id, parsePoint(v, 'verifying share')] as const,
  );
  for (const s of steps) {
    const { negated } = applyStep(at(commitments, 0, 'the public package'), s);
    const tG = s.add === 0n ? undefined : mulBase(s.add);
    const move = (p: Point, shift: boolean) => {
      const q = negated ? p.negate() : p;
      return shift && tG ? q.add(tG) : q;
    };
    commitments = commitments.map((c, k) => move(c, k === 0));
    shares = shares.map(([id, v]) => [id, move(v, true)] as const);
  }
  return {
    signers: { ...pub.signers },
    commitments: commitments.map(pointToBytes),
    verifyingShares: Object.fromEntries(shares.map(([id, v]) => [id, pointToBytes(v)])),
  };
}

/** One party's signing share after every step (the group key decides each negation). */
export function tweakSecret(secret: FrostSecret, groupKey: Point, steps: readonly TweakStep[]): FrostSecret {
  if (steps.length === 0) return secret;
  let x = Fn.fromBytes(secret.signingShare);
  let P = groupKey;
  for (const s of steps) {
    const { point, negated } = applyStep(P, s);
    x = Fn.add(negated ? Fn.neg(x) : x, s.add);
    P = point;
  }
  return { identifier: secret.identifier, signingShare: Fn.toBytes(x) as Uint8Array<ArrayBuffer> };
}

/**
 * The BIP341 tweak of an internal key: t = hash_TapTweak(x(P) || merkle root). Without a merkle root it is the
 * tweak for an empty script tree (BIP86): the output key commits to no script path, so no party can hide one
 * in the group key. With one, the output key commits to exactly that script tree; every party computes the
 * root from the tree it agreed to, never from what a request names.
 */
export function taprootStep(internalKey: Point, merkleRoot?: Uint8Array): TweakStep {
  if (merkleRoot !== undefined && (!(merkleRoot instanceof Uint8Array) || merkleRoot.length !== 32))
    throw new FrostnetError('INVALID_INPUT', 'taproot merkle root: expected 32 bytes');
  const even = hasEvenY(internalKey) ? internalKey : internalKey.negate();
  const t = Fn.fromBytes(taggedHash('TapTweak', xOnly(even), ...(merkleRoot ? [merkleRoot] : [])));
  return { evenY: true, add: t };
}
