import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RNG } from '@noble/curves/abstract/frost.js';
import { bytesToHex, evalPolynomial, Fn, G, hexToBytes, pointToBytes, xOnly } from '../../protocol/curve.ts';
import type { FrostnetError } from '../../protocol/errors.ts';
import {
  groupKey,
  type KeyGroup,
  type KeyShare,
  numberedIdentifier,
  replaceMember,
} from '../../protocol/keys.ts';
import { type RepairPlan, repairStep1, repairStep2, repairStep3 } from '../../protocol/repair.ts';
import { type SigningTarget, verifyBip340 } from '../../protocol/sign.ts';
import { makeKey, partyNames, seededKey, signWith, subsets } from '../helpers/keys.ts';
import { digestOf, seededBytes } from '../helpers/seeded.ts';
import { loadVector } from '../helpers/vectors.ts';

const message = new TextEncoder().encode('after repair');
const target: SigningTarget = { scheme: 'bip340', message, steps: [] };

/** Rewrites a value in transit: a delta from helper to helper, or a sigma from helper to the lost party. */
type Tamper = (kind: 'delta' | 'sigma', from: string, to: string, value: Uint8Array) => Uint8Array;

/**
 * Runs the three steps among in-process helpers and returns what the lost party recovers. `rngOf` gives each
 * helper's randomness (crypto randomness unless a test seeds it).
 */
function runRepair(
  keys: Map<string, KeyShare>,
  plan: RepairPlan,
  tamper: Tamper = (_k, _f, _t, v) => v,
  rngOf?: (helper: string) => RNG,
) {
  const inbox = new Map(plan.helpers.map((h) => [h, new Map<string, Uint8Array>()]));
  for (const h of plan.helpers)
    for (const [to, delta] of repairStep1(keys.get(h)!, h, plan, rngOf?.(h)))
      inbox.get(to)!.set(h, tamper('delta', h, to, delta));
  const sigmas = new Map(
    plan.helpers.map((h) => [h, tamper('sigma', h, plan.lost, repairStep2(plan.helpers, inbox.get(h)!))]),
  );
  return repairStep3(keys.get(plan.helpers[0])!.group, plan, sigmas);
}

const scalar = (hex: string): bigint => Fn.fromBytes(hexToBytes(hex));

/** A consistent 3-of-5 group whose polynomial passes through (2, share): party-2's share is exactly `share`. */
function groupWithShare(share: bigint): KeyGroup {
  const free = [scalar('11'.repeat(32)), scalar('22'.repeat(32))];
  const coefficients = [...free, Fn.div(Fn.sub(share, evalPolynomial(free, 2n)), 4n)];
  const members = partyNames(5);
  const identifiers = members.map((_, i) => numberedIdentifier(i + 1));
  return {
    threshold: 3,
    members,
    identifiers,
    public: {
      signers: { min: 3, max: 5 },
      commitments: coefficients.map((c) => pointToBytes(G.multiply(c))),
      verifyingShares: Object.fromEntries(
        identifiers.map((id, i) => [
          id,
          pointToBytes(G.multiply(evalPolynomial(coefficients, BigInt(i + 1)))),
        ]),
      ),
    },
    chainCode: new Uint8Array(32),
    epoch: 0,
    transcript: new Uint8Array(32),
  };
}

/**
 * The ZF vectors pin the arithmetic of steps 2 and 3 only: a sum of three deltas and a sum of four sigmas, each
 * crossing the group order, so they pin reduction mod n. They carry no identifiers or shares, so they say nothing
 * about step 1 or its Lagrange coefficients; ZF tests those on random keys (check_repair_share_step_1), as the
 * step-1 tests below do with hand-computed coefficients.
 */
for (const file of ['zf-frost-secp256k1-repair-share.json', 'zf-frost-secp256k1-tr-repair-share.json'])
  describe(`repair vectors: ${file}`, () => {
    const v = loadVector(file);

    test('step 2 sums three deltas mod n (scalar_generation)', () => {
      const deltas = ['random_scalar_1', 'random_scalar_2', 'random_scalar_3'].map(
        (k) => v.scalar_generation[k],
      );
      assert.ok(deltas.map(scalar).reduce((a, b) => a + b) > Fn.ORDER, 'the vector crosses the order');
      const helpers = ['h1', 'h2', 'h3'];
      const sigma = repairStep2(helpers, new Map(helpers.map((h, i) => [h, hexToBytes(deltas[i])])));
      assert.equal(bytesToHex(sigma), v.scalar_generation.random_scalar_sum);
    });

    test('step 3 sums four sigmas mod n and accepts the share they make (sigma_generation)', () => {
      const g = v.sigma_generation;
      const sigmas = [g.sigma_1, g.sigma_2, g.sigma_3, g.sigma_4];
      assert.ok(sigmas.map(scalar).reduce((a, b) => a + b) > Fn.ORDER, 'the vector crosses the order');
      const group = groupWithShare(scalar(g.sigma_sum));
      const plan = { lost: 'party-2', helpers: ['party-1', 'party-3', 'party-4', 'party-5'] };
      const values = new Map(plan.helpers.map((h, i) => [h, hexToBytes(sigmas[i])]));
      const repaired = repairStep3(group, plan, values);
      assert.equal(bytesToHex(repaired.secret.signingShare), g.sigma_sum);
      assert.equal(repaired.secret.identifier, numberedIdentifier(2));
      values.set('party-5', hexToBytes(g.sigma_sum));
      assert.throws(() => repairStep3(group, plan, values), { code: 'INVALID_SHARE' });
    });
  });

describe('repair', () => {
  const keys = makeKey(3, 5);
  const lost = keys.get('party-2')!;
  const survivors = new Map([...keys].filter(([p]) => p !== 'party-2'));

  test('a 3-of-5 share deleted and repaired by 3 (or 4) helpers equals the original and signs', () => {
    for (const helpers of [
      ['party-1', 'party-4', 'party-5'],
      ['party-5', 'party-3', 'party-1', 'party-4'],
    ]) {
      const repaired = runRepair(survivors, { lost: 'party-2', helpers });
      assert.deepEqual(repaired, lost, `repaired by ${helpers}`);
      const restored = new Map([...survivors, ['party-2', repaired]]);
      for (const signers of [...subsets([...restored.keys()].sort(), 3)].filter((s) =>
        s.includes('party-2'),
      )) {
        const sig = signWith(restored, signers, target);
        assert.ok(verifyBip340(sig, message, xOnly(groupKey(lost.group))), `${signers}`);
      }
    }
  });

  test("step 1 splits the helper's share times its Lagrange coefficient at the lost identifier", () => {
    const plan = { lost: 'party-2', helpers: ['party-1', 'party-4', 'party-5'] };
    // λ_i = Π_{j≠i} (2 - x_j) / (x_i - x_j) over {1, 4, 5}, by hand: 6/12, (-3)/(-3), (-2)/4.
    const lambdas: Record<string, bigint> = {
      'party-1': Fn.div(1n, 2n),
      'party-4': 1n,
      'party-5': Fn.neg(Fn.div(1n, 2n)),
    };
    for (const h of plan.helpers) {
      const share = keys.get(h)!;
      const first = repairStep1(share, h, plan);
      assert.deepEqual([...first.keys()].sort(), [...plan.helpers].sort(), 'one delta per helper');
      const sum = [...first.values()].reduce((acc, d) => Fn.add(acc, Fn.fromBytes(d)), 0n);
      assert.equal(sum, Fn.mul(lambdas[h], Fn.fromBytes(share.secret.signingShare)));
      // What leaves the helper is fresh each time; only the kept delta is tied to the share.
      const second = repairStep1(share, h, plan);
      for (const to of plan.helpers) assert.notDeepEqual(second.get(to), first.get(to));
    }
  });

  test('a wrong sigma or delta is refused without naming anyone: it cannot be traced', () => {
    const plan = { lost: 'party-2', helpers: ['party-1', 'party-4', 'party-5'] };
    const bump = (v: Uint8Array) => Fn.toBytes(Fn.add(Fn.fromBytes(v), 1n));
    for (const [kind, from] of [
      ['sigma', 'party-4'],
      ['delta', 'party-1'],
    ] as const)
      assert.throws(
        () =>
          runRepair(survivors, plan, (k, f, to, v) => (k === kind && f === from && to !== f ? bump(v) : v)),
        (e: FrostnetError) =>
          e.code === 'INVALID_SHARE' &&
          e.culprits.length === 0 &&
          /repair of party-2's share failed/.test(e.message),
      );
  });

  test('a malformed or foreign value names its sender', () => {
    const helpers = ['party-1', 'party-4', 'party-5'];
    const good = new Map(helpers.map((h) => [h, Fn.toBytes(7n)]));
    const cases: [Map<string, Uint8Array>, string, string[]][] = [
      [new Map([...good, ['party-4', new Uint8Array(32).fill(0xff)]]), 'INVALID_SHARE', ['party-4']],
      [new Map([...good, ['party-5', new Uint8Array(31)]]), 'INVALID_SHARE', ['party-5']],
      [new Map([...good, ['party-3', Fn.toBytes(7n)]]), 'UNEXPECTED_SENDER', ['party-3']],
      [new Map([...good].slice(1)), 'INVALID_INPUT', []],
    ];
    for (const [values, code, culprits] of cases) {
      const check = (e: FrostnetError) => e.code === code && e.culprits.join() === culprits.join();
      assert.throws(() => repairStep2(helpers, values), check);
      assert.throws(() => repairStep3(lost.group, { lost: 'party-2', helpers }, values), check);
    }
  });

  test('the plan is checked: at least t helpers, all other members, holding their own shares', () => {
    const bad: [string, string, RepairPlan][] = [
      ['too few helpers', 'party-1', { lost: 'party-2', helpers: ['party-1', 'party-4'] }],
      ['the lost party helping', 'party-1', { lost: 'party-2', helpers: ['party-1', 'party-2', 'party-4'] }],
      ['a helper twice', 'party-1', { lost: 'party-2', helpers: ['party-1', 'party-1', 'party-4'] }],
      ['an outsider helping', 'party-1', { lost: 'party-2', helpers: ['party-1', 'party-4', 'party-9'] }],
      ['an outsider lost', 'party-1', { lost: 'party-9', helpers: ['party-1', 'party-4', 'party-5'] }],
      ['self not helping', 'party-3', { lost: 'party-2', helpers: ['party-1', 'party-4', 'party-5'] }],
    ];
    for (const [what, self, plan] of bad)
      assert.throws(() => repairStep1(keys.get(self)!, self, plan), { code: 'INVALID_INPUT' }, what);
    const plan = { lost: 'party-2', helpers: ['party-1', 'party-4', 'party-5'] };
    assert.throws(() => repairStep1(keys.get('party-4')!, 'party-1', plan), { code: 'INVALID_INPUT' });
  });

  test('the lost party refuses group data whose verifying shares are off the commitment', () => {
    const plan = { lost: 'party-2', helpers: ['party-1', 'party-4', 'party-5'] };
    const group = lost.group;
    const doctored: KeyGroup = {
      ...group,
      public: {
        ...group.public,
        verifyingShares: {
          ...group.public.verifyingShares,
          [lost.secret.identifier]: pointToBytes(G.multiply(5n)),
        },
      },
    };
    const sigmas = new Map(plan.helpers.map((h, i) => [h, Fn.toBytes(i === 0 ? 5n : 0n)]));
    assert.throws(() => repairStep3(doctored, plan, sigmas), { code: 'INVALID_INPUT' });
  });

  test('a member re-initialised under a new name gets the old identifier back once helpers replace it', () => {
    const moved = new Map(
      [...survivors].map(([p, k]) => [p, { ...k, group: replaceMember(k.group, 'party-2', 'party-2b') }]),
    );
    const repaired = runRepair(moved, { lost: 'party-2b', helpers: ['party-1', 'party-3', 'party-5'] });
    assert.equal(repaired.secret.identifier, lost.secret.identifier, 'the same identifier');
    assert.deepEqual(repaired.secret.signingShare, lost.secret.signingShare, 'the same share');
    assert.deepEqual(repaired.group.members, ['party-1', 'party-2b', 'party-3', 'party-4', 'party-5']);
    const restored = new Map([...moved, ['party-2b', repaired]]);
    const sig = signWith(restored, ['party-2b', 'party-4', 'party-5'], target);
    assert.ok(verifyBip340(sig, message, xOnly(groupKey(lost.group))));
    // A helper that did not replace the member has no such party to help.
    assert.throws(
      () => runRepair(survivors, { lost: 'party-2b', helpers: ['party-1', 'party-3', 'party-5'] }),
      {
        code: 'INVALID_INPUT',
        message: /party-2b: not a member/,
      },
    );
  });

  test('replaceMember keeps everything but the name, and refuses a non-member or an existing member', () => {
    const g = lost.group;
    const r = replaceMember(g, 'party-2', 'party-2b');
    assert.deepEqual({ ...r, members: g.members }, g);
    assert.throws(() => replaceMember(g, 'party-9', 'party-2b'), { code: 'INVALID_INPUT' });
    assert.throws(() => replaceMember(g, 'party-2', 'party-3'), { code: 'INVALID_INPUT' });
  });
});

/** A seeded vector: every delta a helper splits its part into is drawn from that helper's rng. */
describe('a seeded repair replays', () => {
  const VECTOR = '3a46e6d3cd50a8dabcd5791158dbaeb85dd95d5bc5428544580a29320dd72e49';
  const keys = seededKey(3, 5, 'repair vector/key');
  const plan: RepairPlan = { lost: 'party-2', helpers: ['party-1', 'party-3', 'party-4'] };
  const run = (seed: string) => {
    const sent: { kind: string; from: string; to: string; value: Uint8Array }[] = [];
    const share = runRepair(
      keys,
      plan,
      (kind, from, to, value) => {
        sent.push({ kind, from, to, value });
        return value;
      },
      (h) => seededBytes(`${seed}/${h}`),
    );
    return { sent, share };
  };

  test('3-of-5, party-2 lost: the same seed sends the same deltas and sigmas, byte for byte; another seed sends only other values and recovers the same share', () => {
    const first = run('repair vector');
    assert.deepEqual(first.share, keys.get('party-2'), 'the lost share is back');
    assert.deepEqual(run('repair vector'), first, 'the same seed sends the same values');
    assert.equal(digestOf(first), VECTOR);
    const other = run('another seed');
    assert.deepEqual(other.share, first.share);
    assert.equal(other.sent.length, first.sent.length);
    for (const [i, m] of other.sent.entries())
      assert.notDeepEqual(m.value, first.sent[i]!.value, `the ${m.kind} from ${m.from} to ${m.to}`);
  });
});
