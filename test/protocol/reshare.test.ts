import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { Fn, G, type Point, parsePoint, parseScalar, scalarToBytes, xOnly } from '../../protocol/curve.ts';
import type { FrostnetError } from '../../protocol/errors.ts';
import {
  groupKey,
  identifierOf,
  identifierScalar,
  type KeyGroup,
  type KeyShare,
} from '../../protocol/keys.ts';
import { createReshare, isRemoved, type ResharePlan } from '../../protocol/reshare.ts';
import {
  aggregateSignature,
  NonceStore,
  type SigningTarget,
  signShare,
  verifyBip340,
} from '../../protocol/sign.ts';
import { type CeremonyMessage, lagrangeCoefficient, type Round1, type Round2 } from '../../protocol/vss.ts';
import { makeKey, seededKey, signWith, subsets } from '../helpers/keys.ts';
import { type Envelope, recordCeremony, replays, runCeremony } from '../helpers/router.ts';
import { digestOf, seededBytes } from '../helpers/seeded.ts';

const message = new TextEncoder().encode('after reshare');
const target: SigningTarget = { scheme: 'bip340', message, steps: [] };

const baseOf = (keys: Map<string, KeyShare>): KeyGroup => keys.values().next().value!.group;

/** Runs a reshare in process: current holders pass their share, newcomers only the current public group. */
function reshare(keys: Map<string, KeyShare>, plan: ResharePlan, tamper?: (e: Envelope) => Envelope[]) {
  const sessionId = randomBytes(32);
  const everyone = [...new Set([...plan.dealers, ...plan.members])];
  const parties = new Map(
    everyone.map((p) => [p, createReshare(sessionId, p, keys.get(p) ?? baseOf(keys), plan)]),
  );
  return runCeremony(parties, tamper);
}

/** The new committee's shares; fails unless every participant finished and the removed dealers were told so. */
function newShares(
  keys: Map<string, KeyShare>,
  plan: ResharePlan,
  out: ReturnType<typeof reshare>,
): Map<string, KeyShare> {
  assert.equal(out.errors.size, 0, [...out.errors.values()].join('; '));
  const shares = new Map<string, KeyShare>();
  const first = out.results.get(plan.members[0])!.group; // a KeyShare and a removal both carry it
  for (const p of new Set([...plan.dealers, ...plan.members])) {
    const r = out.results.get(p);
    assert.ok(r, `${p} finished`);
    assert.deepEqual(r.group, first, `${p} holds the same new group`);
    if (plan.members.includes(p)) {
      assert.ok(!isRemoved(r), `${p} stays`);
      shares.set(p, r as KeyShare);
    } else assert.ok(isRemoved(r), `${p} is told it was removed`);
  }
  const base = baseOf(keys);
  assert.ok(groupKey(first).equals(groupKey(base)), 'group key unchanged');
  assert.equal(first.threshold, plan.threshold);
  assert.deepEqual(first.members, plan.members);
  assert.equal(first.epoch, base.epoch + 1);
  assert.deepEqual(first.chainCode, base.chainCode);
  assert.equal(first.public.commitments.length, plan.threshold);
  const usedBefore = base.identifiers.map(identifierScalar);
  for (const m of plan.members) {
    const id = identifierOf(first, m);
    if (base.members.includes(m)) assert.equal(id, identifierOf(base, m), `${m} keeps its identifier`);
    else assert.ok(!usedBefore.includes(identifierScalar(id)), `newcomer ${m} gets an unused identifier`);
  }
  return shares;
}

/** Lagrange-interpolates the shares at 0 and compares with the key: the only way shares can combine. */
function interpolatesToKey(shares: readonly KeyShare[], key: Point): boolean {
  const xs = shares.map((k) => identifierScalar(k.secret.identifier));
  const secret = shares.reduce(
    (acc, k, i) => Fn.add(acc, Fn.mul(lagrangeCoefficient(xs, xs[i]), Fn.fromBytes(k.secret.signingShare))),
    0n,
  );
  return secret !== 0n && G.multiply(secret).equals(key);
}

/** Every t-subset of the new committee signs; from public data alone, no t-1 of them determine the key. */
function assertThreshold(shares: Map<string, KeyShare>, key: Point): void {
  const group = shares.values().next().value!.group;
  for (const signers of subsets([...shares.keys()], group.threshold)) {
    const sig = signWith(shares, signers, target);
    assert.ok(verifyBip340(sig, message, xOnly(key)), `${signers} sign for the old key`);
  }
  // Interpolating t-1 verifying shares at 0 must miss the key, or the new threshold would really be t-1.
  for (const few of subsets(group.members, group.threshold - 1)) {
    const xs = few.map((m) => identifierScalar(identifierOf(group, m)));
    const at0 = few
      .map((m, i) =>
        parsePoint(group.public.verifyingShares[identifierOf(group, m)]).multiply(
          lagrangeCoefficient(xs, xs[i]),
        ),
      )
      .reduce((a, b) => a.add(b));
    assert.ok(!at0.equals(key), `${few} alone do not hold the key`);
  }
}

/** No set of old and new shares that mixes epochs interpolates to the key; unmixed sets do (so the check can pass). */
function assertNoMixing(old: Map<string, KeyShare>, fresh: Map<string, KeyShare>): void {
  const key = groupKey(baseOf(old));
  const pool = [
    ...[...old.values()].map((k) => ({ k, epoch: 'old' })),
    ...[...fresh.values()].map((k) => ({ k, epoch: 'new' })),
  ];
  const sizes = new Set([baseOf(old).threshold, fresh.values().next().value!.group.threshold]);
  let mixed = 0;
  for (const size of sizes)
    for (const set of subsets(pool, size)) {
      const ids = set.map(({ k }) => k.secret.identifier);
      if (new Set(ids).size !== ids.length) continue; // one party's old and new share: not distinct points
      const epochs = new Set(set.map(({ epoch }) => epoch));
      const shares = set.map(({ k }) => k);
      if (epochs.size === 2) {
        mixed++;
        assert.ok(
          !interpolatesToKey(shares, key),
          `mixed set ${set.map(({ k, epoch }) => `${k.secret.identifier}/${epoch}`)}`,
        );
      } else if (size === shares[0].group.threshold) assert.ok(interpolatesToKey(shares, key));
    }
  assert.ok(mixed > 0);
}

const cases: { name: string; from: [number, number]; plan: ResharePlan }[] = [
  {
    name: '2-of-3 -> 3-of-5 with two newcomers',
    from: [2, 3],
    plan: {
      threshold: 3,
      dealers: ['party-1', 'party-3'],
      members: ['party-1', 'party-2', 'party-3', 'party-4', 'party-5'],
    },
  },
  {
    name: '3-of-5 -> 2-of-3 with two members removed',
    from: [3, 5],
    plan: {
      threshold: 2,
      dealers: ['party-1', 'party-2', 'party-4', 'party-5'],
      members: ['party-1', 'party-2', 'party-3'],
    },
  },
  {
    name: '2-of-3 -> 2-of-3 with party-3 swapped for party-4',
    from: [2, 3],
    plan: { threshold: 2, dealers: ['party-2', 'party-3'], members: ['party-1', 'party-2', 'party-4'] },
  },
];

describe('reshare', () => {
  for (const c of cases)
    test(`${c.name}: same key, every new t-subset signs, old and new shares never combine`, () => {
      const keys = makeKey(...c.from);
      const shares = newShares(keys, c.plan, reshare(keys, c.plan));
      assertThreshold(shares, groupKey(baseOf(keys)));
      assertNoMixing(keys, shares);
    });

  test('old and new shares of members in both groups do not sign together', () => {
    const keys = makeKey(2, 3);
    const plan = cases[2].plan;
    const fresh = newShares(keys, plan, reshare(keys, plan));
    const oldA = keys.get('party-1')!;
    const newB = fresh.get('party-2')!;
    const [sa, sb] = [new NonceStore(), new NonceStore()];
    const commitments = [sa.commit(oldA), sb.commit(newB)];
    // Each signer believes its own epoch; aggregated under either group, the other epoch's share is named.
    const shares = new Map([
      ['party-1', signShare(oldA, sa, { epoch: 0, scheme: 'bip340', message, commitments }, target)],
      ['party-2', signShare(newB, sb, { epoch: 1, scheme: 'bip340', message, commitments }, target)],
    ]);
    for (const [g, culprit] of [
      [oldA.group, 'party-2'],
      [newB.group, 'party-1'],
    ] as const)
      assert.throws(
        () => aggregateSignature(g, target, commitments, shares),
        (e: FrostnetError) => e.code === 'INVALID_SIGNATURE_SHARE' && e.culprits.join() === culprit,
      );
  });

  test('a withheld confirmation leaves no honest party with a result, and the old shares still sign', () => {
    const keys = makeKey(2, 3);
    const plan = cases[0].plan;
    const out = reshare(keys, plan, (e) => (e.from === 'party-5' && e.message.round === 3 ? [] : [e]));
    for (const p of ['party-1', 'party-2', 'party-3', 'party-4']) {
      assert.ok(!out.results.has(p), `${p} must not switch`);
      assert.ok(out.pending.has(p), `${p} holds the new share only as pending`);
    }
    const sig = signWith(keys, ['party-2', 'party-3'], target);
    assert.ok(verifyBip340(sig, message, xOnly(groupKey(baseOf(keys)))));
  });

  /** Makes `dealer` deal a polynomial shifted by delta, consistently: its shares all match its commitment. */
  const shiftDealing =
    (dealer: string, delta: bigint) =>
    (e: Envelope): Envelope[] => {
      if (e.from !== dealer || e.message.round === 3) return [e];
      if (e.message.round === 1) {
        const m = e.message as Round1;
        const c0 = parsePoint(m.commitment[0]).add(G.multiply(delta)).toBytes(true);
        return [{ ...e, message: { ...m, commitment: [c0, ...m.commitment.slice(1)] } }];
      }
      const m = e.message as Round2;
      return [{ ...e, message: { ...m, share: scalarToBytes(Fn.add(parseScalar(m.share), delta)) } }];
    };

  for (const [name, delta] of [
    [
      'a shifted constant term',
      (_k: KeyShare, _l: bigint) => Fn.create(BigInt(`0x${randomBytes(32).toString('hex')}`)),
    ],
    // Dealing s_i instead of λ_i·s_i: a plausible bug, and just as key-moving.
    [
      'its unweighted share',
      (k: KeyShare, l: bigint) => Fn.mul(Fn.sub(1n, l), Fn.fromBytes(k.secret.signingShare)),
    ],
  ] as const)
    test(`a dealer dealing ${name} is named before anyone accepts a share`, () => {
      const keys = makeKey(3, 5);
      const plan = cases[1].plan;
      const xs = plan.dealers.map((d) => identifierScalar(keys.get(d)!.secret.identifier));
      const cheat = keys.get('party-4')!;
      const d = delta(cheat, lagrangeCoefficient(xs, identifierScalar(cheat.secret.identifier)));
      const out = reshare(keys, plan, shiftDealing('party-4', d));
      for (const p of ['party-1', 'party-2', 'party-3', 'party-5']) {
        const err = out.errors.get(p) as FrostnetError;
        assert.equal(err?.code, 'INVALID_COMMITMENT', `${p}: ${err}`);
        assert.deepEqual([...err.culprits], ['party-4']);
      }
      // Only the cheater itself, never fed its own tampered package, gets as far as an outcome.
      for (const p of [...out.results.keys(), ...out.pending.keys()]) assert.equal(p, 'party-4');
    });

  test('a share inconsistent with its commitment is named, and nobody switches', () => {
    const keys = makeKey(2, 3);
    const plan = cases[0].plan;
    const out = reshare(keys, plan, (e) =>
      e.from === 'party-3' && e.to === 'party-4' && e.message.round === 2
        ? [{ ...e, message: { ...e.message, share: randomBytes(32) } as CeremonyMessage }]
        : [e],
    );
    const err = out.errors.get('party-4') as FrostnetError;
    assert.equal(err?.code, 'INVALID_SHARE');
    assert.deepEqual([...err.culprits], ['party-3']);
    assert.equal(out.results.size, 0);
  });

  test('a proof in a reshare package is refused, naming the dealer', () => {
    const keys = makeKey(2, 3);
    const out = reshare(keys, cases[2].plan, (e) =>
      e.from === 'party-2' && e.message.round === 1
        ? [{ ...e, message: { ...(e.message as Round1), proof: randomBytes(65) } }]
        : [e],
    );
    const err = out.errors.get('party-4') as FrostnetError;
    assert.equal(err?.code, 'INVALID_PROOF');
    assert.deepEqual([...err.culprits], ['party-2']);
  });

  test('a newcomer handed an inconsistent group refuses it rather than blame honest dealers', () => {
    const keys = makeKey(2, 3);
    const base = baseOf(keys);
    const id = identifierOf(base, 'party-2');
    const doctored: KeyGroup = {
      ...base,
      public: {
        ...base.public,
        verifyingShares: { ...base.public.verifyingShares, [id]: G.multiply(7n).toBytes(true) },
      },
    };
    assert.throws(() => createReshare(randomBytes(32), 'party-4', doctored, cases[2].plan), {
      code: 'INVALID_INPUT',
    });
  });

  test('a newcomer handed another chain code gets no share: the confirmations differ', () => {
    const keys = makeKey(2, 3);
    const plan = cases[2].plan;
    const newcomer = plan.members.find((m) => !keys.has(m))!;
    const lied: KeyGroup = { ...baseOf(keys), chainCode: new Uint8Array(32).fill(7) };
    const sessionId = randomBytes(32);
    const everyone = [...new Set([...plan.dealers, ...plan.members])];
    const parties = new Map(
      everyone.map((p) => [p, createReshare(sessionId, p, p === newcomer ? lied : keys.get(p)!, plan)]),
    );
    const out = runCeremony(parties);
    assert.equal(out.results.size, 0, 'nobody switches');
    assert.ok(out.errors.has(newcomer), 'the newcomer refuses');
  });

  test('the plan is checked: dealers are enough current members, holding their shares', () => {
    const keys = makeKey(3, 5);
    const base = baseOf(keys);
    const members = ['party-1', 'party-2', 'party-6'];
    const bad: [string, string, KeyShare | KeyGroup, ResharePlan][] = [
      [
        'too few dealers',
        'party-1',
        keys.get('party-1')!,
        { threshold: 2, members, dealers: ['party-1', 'party-2'] },
      ],
      [
        'a dealer outside the group',
        'party-1',
        keys.get('party-1')!,
        { threshold: 2, members, dealers: ['party-1', 'party-2', 'party-6'] },
      ],
      [
        'threshold above the committee',
        'party-1',
        keys.get('party-1')!,
        { threshold: 4, members, dealers: ['party-1', 'party-2', 'party-3'] },
      ],
      [
        'threshold 1',
        'party-1',
        keys.get('party-1')!,
        { threshold: 1, members, dealers: ['party-1', 'party-2', 'party-3'] },
      ],
      [
        'a dealer without its share',
        'party-1',
        base,
        { threshold: 2, members, dealers: ['party-1', 'party-2', 'party-3'] },
      ],
      [
        "a dealer with another party's share",
        'party-1',
        keys.get('party-2')!,
        { threshold: 2, members, dealers: ['party-1', 'party-2', 'party-3'] },
      ],
      ['an outsider', 'party-9', base, { threshold: 2, members, dealers: ['party-1', 'party-2', 'party-3'] }],
    ];
    for (const [what, self, held, plan] of bad)
      assert.throws(() => createReshare(randomBytes(32), self, held, plan), { code: 'INVALID_INPUT' }, what);
  });
});

/**
 * A seeded full-ceremony vector: a reshare of a seeded key draws everything from its parties' rngs, the dealers'
 * polynomials and everyone's batch weights (newcomers included).
 */
describe('a seeded reshare replays', () => {
  const VECTOR = 'c5577945a1433d7a1b91becbfdb79011fcfbaa60e0c614e1af4480b34ef38563';
  const keys = seededKey(2, 3, 'reshare vector/key');
  const sessionId = seededBytes('reshare vector/session id')(32);
  const plan: ResharePlan = {
    threshold: 3,
    dealers: ['party-1', 'party-2', 'party-3'],
    members: ['party-1', 'party-2', 'party-4', 'party-5'],
  };
  const everyone = ['party-1', 'party-2', 'party-3', 'party-4', 'party-5'];
  const run = (seed: string) =>
    recordCeremony(
      new Map(
        everyone.map((p) => [
          p,
          createReshare(sessionId, p, keys.get(p) ?? baseOf(keys), plan, {
            rng: seededBytes(`${seed}/${p}`),
          }),
        ]),
      ),
    );

  test('2-of-3 -> 3-of-4, one member out and two in: the same seed gives the same messages and results, byte for byte; another seed other shares of the same key', () => {
    const { first, other } = replays(run, everyone.length, 'reshare vector', 'another seed');
    assert.equal(digestOf({ messages: first.messages, results: first.results }), VECTOR);
    assert.ok(isRemoved(first.results.get('party-3')!), 'party-3 is told it was removed');
    assert.equal(other.errors.size, 0);
    for (const p of plan.members) {
      const [now, before] = [other.results.get(p) as KeyShare, first.results.get(p) as KeyShare];
      assert.ok(groupKey(now.group).equals(groupKey(baseOf(keys))), 'the same key');
      assert.notDeepEqual(now.secret.signingShare, before.secret.signingShare, `${p} holds another share`);
    }
  });
});
