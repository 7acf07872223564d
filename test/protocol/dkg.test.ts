import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { bytesToHex, G, parsePoint } from '../../protocol/curve.ts';
import { createDkg } from '../../protocol/dkg.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { groupKey, keyShareFromJSON, keyShareToJSON } from '../../protocol/keys.ts';
import type { CeremonyMessage, Round1 } from '../../protocol/vss.ts';
import { dkgContexts, partyNames, runDkg } from '../helpers/keys.ts';
import { type Envelope, recordCeremony, replays, runCeremony } from '../helpers/router.ts';
import { digestOf, seededBytes } from '../helpers/seeded.ts';

describe('DKG completes for any t-of-n', () => {
  for (const [t, n] of [
    [2, 2],
    [2, 3],
    [3, 5],
    [5, 9],
    [11, 15],
  ]) {
    test(`${t}-of-${n}: one group key, consistent shares, same chain code`, () => {
      const out = runDkg(t, partyNames(n));
      assert.equal(out.errors.size, 0, [...out.errors.values()].join('; '));
      assert.equal(out.results.size, n);
      const keys = [...out.results.values()];
      const first = keys[0].group;
      for (const k of keys) {
        assert.equal(bytesToHex(k.group.public.commitments[0]), bytesToHex(first.public.commitments[0]));
        assert.deepEqual(k.group.public.verifyingShares, first.public.verifyingShares);
        assert.deepEqual(k.group.chainCode, first.chainCode);
        assert.equal(k.group.epoch, 0);
        // Each share matches the verifying share everyone agreed on.
        const v = parsePoint(first.public.verifyingShares[k.secret.identifier]);
        assert.ok(G.multiply(BigInt(`0x${bytesToHex(k.secret.signingShare)}`)).equals(v));
        // And survives its JSON form.
        assert.deepEqual(keyShareFromJSON(keyShareToJSON(k)), k);
      }
    });
  }

  test('two sessions with the same members make unrelated keys', () => {
    const a = runDkg(2, partyNames(3)).results.get('party-1')!;
    const b = runDkg(2, partyNames(3)).results.get('party-1')!;
    assert.ok(!groupKey(a.group).equals(groupKey(b.group)));
  });
});

/** Runs a 2-of-3 (or given) DKG where `party-2` misbehaves through `tamper`, and returns the outcome. */
function attack(tamper: (e: Envelope) => Envelope[], t = 2, n = 3) {
  return runDkg(t, partyNames(n), tamper);
}

const from2 =
  (round: number, fn: (e: Envelope & { message: CeremonyMessage }) => Envelope[]) => (e: Envelope) =>
    e.from === 'party-2' && e.message.round === round ? fn(e) : [e];

const honest = ['party-1', 'party-3'];
const noHonestKey = (out: ReturnType<typeof attack>) =>
  assert.ok(
    honest.every((p) => !out.results.has(p)),
    'no honest party may output a key',
  );

/** Asserts that no honest party output a key and that every one blamed `culprit` with `code`. */
function assertAbortedBlaming(
  out: ReturnType<typeof attack>,
  code: string,
  culprit = 'party-2',
  victims = honest,
) {
  noHonestKey(out);
  for (const p of victims ?? ['party-1', 'party-3']) {
    const err = out.errors.get(p);
    assert.ok(err instanceof FrostnetError, `${p} should have aborted`);
    assert.equal(err.code, code, err.message);
    assert.deepEqual([...err.culprits], [culprit]);
  }
}

describe('DKG blame: a misbehaving party is named and no key comes out', () => {
  test('commitment with one point too many (threshold raising)', () => {
    const out = attack(
      from2(1, (e) => {
        const m = e.message as Round1;
        return [{ ...e, message: { ...m, commitment: [...m.commitment, G.multiply(7n).toBytes(true)] } }];
      }),
    );
    assertAbortedBlaming(out, 'INVALID_COMMITMENT');
  });

  test('commitment with one point too few', () => {
    const out = attack(
      from2(1, (e) => [
        { ...e, message: { ...(e.message as Round1), commitment: [(e.message as Round1).commitment[0]] } },
      ]),
    );
    assertAbortedBlaming(out, 'INVALID_COMMITMENT');
  });

  test('identity point and off-curve point in the commitment', () => {
    // The identity's one-byte encoding, 33 zero bytes, and an x with no point on the curve.
    for (const bad of [
      Uint8Array.of(0),
      new Uint8Array(33),
      Uint8Array.of(2, ...new Uint8Array(32).fill(0xff)),
    ]) {
      const out = attack(
        from2(1, (e) => {
          const m = e.message as Round1;
          return [{ ...e, message: { ...m, commitment: [m.commitment[0], bad] } }];
        }),
      );
      assertAbortedBlaming(out, 'INVALID_COMMITMENT');
    }
  });

  test('invalid proof of knowledge, and a proof of knowledge missing', () => {
    for (const proof of [
      (p: Uint8Array) => p.map((x, i) => (i === 40 ? x ^ 1 : x)),
      () => new Uint8Array(0),
    ]) {
      const out = attack(
        from2(1, (e) => [
          { ...e, message: { ...(e.message as Round1), proof: proof((e.message as Round1).proof) } },
        ]),
      );
      assertAbortedBlaming(out, 'INVALID_PROOF');
    }
  });

  test('round-1 package copied from another party', () => {
    let copied: Round1 | undefined;
    const out = attack((e) => {
      if (e.from === 'party-1' && e.message.round === 1) copied = e.message as Round1;
      if (e.from === 'party-2' && e.message.round === 1) return [{ ...e, message: copied ?? e.message }];
      return [e];
    });
    assertAbortedBlaming(out, 'INVALID_PROOF');
  });

  test('round-1 package replayed from another session', () => {
    const members = partyNames(3);
    const old = new Map(dkgContexts(2, members).map((c) => [c.self, createDkg(c)]));
    const oldPackage = old.get('party-2')!.start().send[0].message;
    const out = attack(from2(1, (e) => [{ ...e, message: oldPackage }]));
    assertAbortedBlaming(out, 'INVALID_PROOF');
  });

  test('equivocation: different round-1 packages to different parties', () => {
    const members = partyNames(3);
    const other = createDkg(dkgContexts(2, members)[1]).start().send[0].message;
    // party-2 shows party-3 a package from another polynomial, valid on its own, and party-1 its real one.
    const out = attack(
      from2(1, (e) => [e.to === 'party-3' ? { ...e, message: { ...(other as Round1) } } : e]),
    );
    // party-3 rejects the proof bound to another session and names party-2; party-1 never gets party-3's share.
    const err = out.errors.get('party-3') as FrostnetError;
    assert.equal(err?.code, 'INVALID_PROOF');
    assert.deepEqual([...err.culprits], ['party-2']);
    assert.ok(!out.results.has('party-1') && !out.results.has('party-3'));
  });

  test('equivocation with two valid packages of the same session is caught by the digests', () => {
    // party-2 runs two honest instances of itself in the same session and shows each to a different party.
    const members = partyNames(3);
    const sessionId = randomBytes(32);
    const ctxs = dkgContexts(2, members, sessionId);
    const parties = new Map(ctxs.map((c) => [c.self, createDkg(c)]));
    const twin = createDkg(ctxs[1]);
    const twinRound1 = twin.start().send.find((o) => o.to === 'party-3')!.message;
    const out = runCeremony(parties, (e) =>
      e.from === 'party-2' && e.message.round === 1 && e.to === 'party-3'
        ? [{ ...e, message: twinRound1 }]
        : [e],
    );
    assertAbortedBlaming(out, 'EQUIVOCATION', 'party-2', ['party-1', 'party-3']);
  });

  test('a bad share to one party', () => {
    const out = attack(
      from2(2, (e) => {
        if (e.to !== 'party-3') return [e];
        const m = e.message as { share: Uint8Array };
        return [
          {
            ...e,
            message: {
              ...e.message,
              share: m.share.map((x, i) => (i === 31 ? x ^ 1 : x)),
            } as CeremonyMessage,
          },
        ];
      }),
    );
    noHonestKey(out);
    const err = out.errors.get('party-3') as FrostnetError;
    assert.equal(err.code, 'INVALID_SHARE');
    assert.deepEqual([...err.culprits], ['party-2']);
    // party-1 got a good share, so it waits on party-3's confirmation, which never comes: no key either.
    assert.ok(!out.results.has('party-1'));
  });

  test('malformed shares: truncated, and a scalar not below the group order', () => {
    for (const share of [new Uint8Array(31), new Uint8Array(32).fill(0xff)]) {
      const out = attack(from2(2, (e) => [{ ...e, message: { ...e.message, share } as CeremonyMessage }]));
      assertAbortedBlaming(out, 'INVALID_SHARE');
    }
  });

  test('a different confirmation', () => {
    const out = attack(from2(3, (e) => [{ ...e, message: { round: 3, confirmation: randomBytes(32) } }]));
    assertAbortedBlaming(out, 'CONFIRMATION_MISMATCH');
  });

  test('a withheld confirmation: nobody outputs a key', () => {
    const out = attack(from2(3, () => []));
    noHonestKey(out);
    assert.equal(out.errors.size, 0);
    assert.ok(
      honest.every((p) => out.pending.has(p)),
      'honest parties computed the key but hold it as pending',
    );
  });

  test('duplicate members are refused up front, naming the duplicate', () => {
    const members = ['party-1', 'party-2', 'party-2'];
    assert.throws(
      () =>
        createDkg({
          kind: 'dkg',
          sessionId: randomBytes(32),
          threshold: 2,
          dealers: members,
          receivers: members,
          self: 'party-1',
        }),
      {
        code: 'INVALID_INPUT',
        culprits: ['party-2'],
      },
    );
  });

  test('bad parameters are typed errors', () => {
    const members = partyNames(3);
    for (const [threshold, sessionId] of [
      [1, randomBytes(32)],
      [4, randomBytes(32)],
      [2, randomBytes(31)],
    ] as const) {
      assert.throws(
        () =>
          createDkg({
            kind: 'dkg',
            sessionId,
            threshold,
            dealers: members,
            receivers: members,
            self: 'party-1',
          }),
        {
          code: 'INVALID_INPUT',
        },
      );
    }
  });

  test('a message from a non-member, a wrong round, and garbage are typed errors, never crashes', () => {
    const [c] = dkgContexts(2, partyNames(3));
    const dkg = createDkg(c);
    dkg.start();
    assert.throws(() => dkg.receive('stranger', { round: 1, commitment: [], proof: new Uint8Array() }), {
      code: 'UNEXPECTED_SENDER',
    });
    // The stranger did not kill the ceremony.
    assert.throws(() => dkg.receive('party-2', { round: 7 } as never), {
      code: 'INVALID_INPUT',
      culprits: ['party-2'],
    });
    assert.throws(() => dkg.receive('party-3', null as never), { name: 'FrostnetError' });
  });
});

/**
 * Seeded full-ceremony vectors, as ZF frost keeps them: every random draw of a party (its polynomial, its proof's
 * nonce, the weights of its batched checks) comes from the rng it is given, so a seeded run replays exactly.
 * The digest pins the whole run, every message in delivery order and every key share: it changes only if what a
 * party draws, sends or stores changes (test/protocol/dkg-noble.test.ts checks round 1 against noble's DKG).
 */
describe('a seeded DKG replays', () => {
  const members = partyNames(5);
  const sessionId = seededBytes('dkg vector/session id')(32);
  const VECTOR = '67e7d2cf643cbbd3ba03a3e695466b00dd6c79c6b16472b822e2e79b3d67c7ec';
  /** A 3-of-5 DKG, every party's rng seeded by its name but party-3's, seeded by `seed3`. */
  const run = (seed3: string) =>
    recordCeremony(
      new Map(
        dkgContexts(3, members, sessionId).map((c) => [
          c.self,
          createDkg(c, seededBytes(c.self === 'party-3' ? seed3 : `dkg vector/${c.self}`)),
        ]),
      ),
    );

  test('3-of-5: the same seeds give the same messages and shares, byte for byte; another seed for party-3 changes only what party-3 deals', () => {
    const { first, other } = replays(run, 5, 'dkg vector/party-3', 'another seed');
    assert.equal(digestOf({ messages: first.messages, results: first.results }), VECTOR);
    assert.equal(other.errors.size, 0);
    const round1 = (r: typeof first) => r.messages.filter((e) => e.message.round === 1);
    for (const [i, e] of round1(other).entries())
      if (e.from === 'party-3') assert.notDeepEqual(e.message, round1(first)[i]!.message);
      else assert.deepEqual(e.message, round1(first)[i]!.message, `${e.from} deals as before`);
    const key = (r: typeof first) => groupKey(r.results.get('party-1')!.group);
    assert.ok(!key(other).equals(key(first)), 'another key');
  });
});
