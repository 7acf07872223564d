/**
 * Batched verification (protocol/batch.ts) and its use in the ceremonies: one random linear combination per
 * check, and exact blame when it fails, with the weights drawn from a seeded generator so each case replays.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { failingParties, type Relation } from '../../protocol/batch.ts';
import { Fn, G, scalarToBytes } from '../../protocol/curve.ts';
import { createDkg } from '../../protocol/dkg.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { createRefresh } from '../../protocol/refresh.ts';
import type { CeremonyMessage, Round1, Round2 } from '../../protocol/vss.ts';
import { dkgContexts, makeKey, partyNames } from '../helpers/keys.ts';
import { type Envelope, runCeremony } from '../helpers/router.ts';
import { seededBytes } from '../helpers/seeded.ts';

/** s·G = P as a relation of `party`, true unless `error` shifts the share. */
const shareRelation = (party: string, s: bigint, error = 0n): Relation => ({
  party,
  points: [G.multiply(s)],
  scalars: [1n],
  base: Fn.neg(Fn.add(s, error)),
});

describe('failingParties', () => {
  test('true relations pass in one batch; false ones are named, each exactly', () => {
    const rng = seededBytes('relations');
    const good = ['a', 'b', 'c', 'd'].map((p, i) => shareRelation(p, BigInt(1000 + i)));
    assert.deepEqual(failingParties(good, rng), []);
    assert.deepEqual(failingParties([good[0], shareRelation('x', 7n, 1n), good[2]], rng), ['x']);
    assert.deepEqual(failingParties([shareRelation('x', 7n, 5n), good[1], shareRelation('y', 9n, 3n)], rng), [
      'x',
      'y',
    ]);
    assert.deepEqual(failingParties([shareRelation('only', 7n, 1n)], rng), ['only']);
    assert.deepEqual(failingParties([], rng), []);
  });

  test('errors that cancel in a plain sum are still caught and named', () => {
    const rng = seededBytes('cancel');
    const out = failingParties(
      [shareRelation('honest', 11n), shareRelation('x', 7n, 123n), shareRelation('y', 9n, Fn.neg(123n))],
      rng,
    );
    assert.deepEqual(out, ['x', 'y']);
  });

  test('the same seed gives the same weights', () => {
    const a = seededBytes('same');
    const b = seededBytes('same');
    assert.deepEqual(a(16), b(16));
  });
});

const tamperShare =
  (fn: (share: bigint, e: Envelope) => bigint | undefined) =>
  (e: Envelope): Envelope[] => {
    if (e.message.round !== 2) return [e];
    const m = e.message as Round2;
    const next = fn(Fn.fromBytes(m.share), e);
    return next === undefined
      ? [e]
      : [{ ...e, message: { ...m, share: scalarToBytes(next) } as CeremonyMessage }];
  };

function dkgWith(t: number, n: number, seed: string, tamper: (e: Envelope) => Envelope[]) {
  const parties = new Map(
    dkgContexts(t, partyNames(n)).map((c) => [c.self, createDkg(c, seededBytes(`${seed}/${c.self}`))]),
  );
  return runCeremony(parties, tamper);
}

const blamed = (out: ReturnType<typeof dkgWith>, party: string) => {
  const err = out.errors.get(party);
  assert.ok(err instanceof FrostnetError, `${party} should have aborted`);
  return { code: err.code, culprits: [...err.culprits].sort() };
};

describe('the ceremonies name exactly the dealers the batch catches', () => {
  test('DKG 3-of-5: two dealers send party-1 bad shares; it names both, the others finish their part', () => {
    const out = dkgWith(
      3,
      5,
      'two bad shares',
      tamperShare((s, e) =>
        e.to === 'party-1' && (e.from === 'party-2' || e.from === 'party-4') ? Fn.add(s, 1n) : undefined,
      ),
    );
    assert.deepEqual(blamed(out, 'party-1'), { code: 'INVALID_SHARE', culprits: ['party-2', 'party-4'] });
    for (const p of ['party-2', 'party-3', 'party-4', 'party-5']) assert.ok(!out.errors.has(p));
    assert.equal(out.results.size, 0);
  });

  test('DKG 3-of-5: two colluding dealers shift value between their shares (the sum is right); both named', () => {
    const out = dkgWith(
      3,
      5,
      'colluding',
      tamperShare((s, e) => {
        if (e.to !== 'party-3') return undefined;
        if (e.from === 'party-1') return Fn.add(s, 99n);
        if (e.from === 'party-5') return Fn.sub(s, 99n);
        return undefined;
      }),
    );
    assert.deepEqual(blamed(out, 'party-3'), { code: 'INVALID_SHARE', culprits: ['party-1', 'party-5'] });
  });

  test('DKG 3-of-5: two bad proofs of knowledge are named together, before anyone deals a share', () => {
    const out = dkgWith(3, 5, 'proofs', (e) => {
      if (e.message.round !== 1 || (e.from !== 'party-2' && e.from !== 'party-5')) return [e];
      const m = e.message as Round1;
      return [{ ...e, message: { ...m, proof: m.proof.map((b, i) => (i === 50 ? b ^ 1 : b)) } }];
    });
    for (const p of ['party-1', 'party-3', 'party-4'])
      assert.deepEqual(blamed(out, p), { code: 'INVALID_PROOF', culprits: ['party-2', 'party-5'] });
    assert.ok(out.pending.size === 0, 'no honest party reached round 3');
  });

  test('refresh 3-of-5: a bad share is named through the same batch', () => {
    const keys = makeKey(3, 5);
    const sessionId = new Uint8Array(32).fill(9);
    const parties = new Map(
      [...keys].map(([p, k]) => [p, createRefresh(sessionId, p, k, { rng: seededBytes(`refresh/${p}`) })]),
    );
    const out = runCeremony(
      parties,
      tamperShare((s, e) => (e.from === 'party-4' && e.to === 'party-2' ? Fn.add(s, 5n) : undefined)),
    );
    assert.deepEqual(blamed(out, 'party-2'), { code: 'INVALID_SHARE', culprits: ['party-4'] });
  });
});
