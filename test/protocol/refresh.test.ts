import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { bytesToHex, xOnly } from '../../protocol/curve.ts';
import type { FrostnetError } from '../../protocol/errors.ts';
import { groupKey, type KeyShare } from '../../protocol/keys.ts';
import { createRefresh } from '../../protocol/refresh.ts';
import {
  aggregateSignature,
  NonceStore,
  type SigningTarget,
  signShare,
  verifyBip340,
} from '../../protocol/sign.ts';
import type { CeremonyMessage, Round1 } from '../../protocol/vss.ts';
import { makeKey, seededKey, signWith, subsets } from '../helpers/keys.ts';
import { type Envelope, recordCeremony, replays, runCeremony } from '../helpers/router.ts';
import { digestOf, seededBytes } from '../helpers/seeded.ts';

const message = new TextEncoder().encode('after refresh');
const target: SigningTarget = { scheme: 'bip340', message, steps: [] };

function refresh(keys: Map<string, KeyShare>, tamper?: (e: Envelope) => Envelope[]) {
  const sessionId = randomBytes(32);
  const parties = new Map([...keys].map(([p, k]) => [p, createRefresh(sessionId, p, k)]));
  return runCeremony(parties, tamper);
}

describe('refresh', () => {
  test('3-of-5: same group key, new shares, epoch+1, every subset signs', () => {
    const keys = makeKey(3, 5);
    const out = refresh(keys);
    assert.equal(out.errors.size, 0, [...out.errors.values()].join('; '));
    assert.equal(out.results.size, 5);
    for (const [p, k] of out.results) {
      const old = keys.get(p)!;
      assert.ok(groupKey(k.group).equals(groupKey(old.group)), 'group key unchanged');
      assert.notEqual(bytesToHex(k.secret.signingShare), bytesToHex(old.secret.signingShare));
      assert.equal(k.group.epoch, 1);
      assert.deepEqual(k.group.chainCode, old.group.chainCode);
      assert.deepEqual(k.group.public, out.results.get('party-1')!.group.public);
    }
    for (const signers of subsets([...out.results.keys()], 3)) {
      const sig = signWith(out.results, signers, target);
      assert.ok(verifyBip340(sig, message, xOnly(groupKey(keys.get('party-1')!.group))));
    }
  });

  test('old and new shares never combine into a valid signature', () => {
    const keys = makeKey(2, 3);
    const fresh = refresh(keys).results;
    const group = keys.get('party-1')!.group;
    const oldA = keys.get('party-1')!;
    const newB = fresh.get('party-2')!;
    const sa = new NonceStore();
    const sb = new NonceStore();
    const commitments = [sa.commit(oldA), sb.commit(newB)];
    // Each signer believes its own epoch; the coordinator aggregates under either public package: never valid.
    const shareA = signShare(oldA, sa, { epoch: 0, scheme: 'bip340', message, commitments }, target);
    const shareB = signShare(newB, sb, { epoch: 1, scheme: 'bip340', message, commitments }, target);
    const shares = new Map([
      ['party-1', shareA],
      ['party-2', shareB],
    ]);
    for (const g of [group, newB.group]) {
      assert.throws(
        () => aggregateSignature(g, target, commitments, shares),
        (e: FrostnetError) => {
          assert.equal(e.code, 'INVALID_SIGNATURE_SHARE');
          assert.equal(e.culprits.length, 1, 'exactly the party from the other epoch is named');
          return true;
        },
      );
    }
  });

  test('a withheld confirmation leaves every honest party on the old shares', () => {
    const keys = makeKey(3, 4);
    const out = refresh(keys, (e) => (e.from === 'party-4' && e.message.round === 3 ? [] : [e]));
    for (const p of ['party-1', 'party-2', 'party-3']) {
      assert.ok(!out.results.has(p), `${p} must not switch`);
      assert.ok(out.pending.has(p), `${p} holds the new share only as pending`);
    }
    // The old shares still sign.
    const sig = signWith(keys, ['party-1', 'party-2', 'party-3'], target);
    assert.ok(verifyBip340(sig, message, xOnly(groupKey(keys.get('party-1')!.group))));
  });

  test('a contribution that could move the key is refused, naming the dealer', () => {
    const keys = makeKey(2, 3);
    // A full-length commitment (constant term included) does not fit the refresh wire format.
    const out = refresh(keys, (e) => {
      if (e.from !== 'party-2' || e.message.round !== 1) return [e];
      const m = e.message as Round1;
      return [
        {
          ...e,
          message: { ...m, commitment: [keys.get('party-2')!.group.public.commitments[0], ...m.commitment] },
        },
      ];
    });
    for (const p of ['party-1', 'party-3']) {
      const err = out.errors.get(p) as FrostnetError;
      assert.equal(err?.code, 'INVALID_COMMITMENT');
      assert.deepEqual([...err.culprits], ['party-2']);
      assert.ok(!out.results.has(p));
    }
  });

  test('a share inconsistent with its commitment is refused, naming the dealer', () => {
    const keys = makeKey(2, 3);
    const out = refresh(keys, (e) =>
      e.from === 'party-3' && e.message.round === 2 && e.to === 'party-1'
        ? [{ ...e, message: { ...e.message, share: randomBytes(32) } as CeremonyMessage }]
        : [e],
    );
    const err = out.errors.get('party-1') as FrostnetError;
    assert.equal(err?.code, 'INVALID_SHARE');
    assert.deepEqual([...err.culprits], ['party-3']);
    assert.equal(out.results.size, 0);
  });

  test('a refresh needs the share of the party running it', () => {
    const keys = makeKey(2, 3);
    assert.throws(() => createRefresh(randomBytes(32), 'party-1', keys.get('party-2')!), {
      code: 'INVALID_INPUT',
    });
    assert.throws(() => createRefresh(randomBytes(32), 'stranger', keys.get('party-2')!), {
      name: 'FrostnetError',
    });
  });
});

/** A seeded full-ceremony vector: the refresh of a seeded key draws everything from its parties' rngs. */
describe('a seeded refresh replays', () => {
  const VECTOR = '7cb04af12e72f4784764b255a6aa43dee38c5f0e70319119337b7f5b484b65bc';
  const keys = seededKey(3, 5, 'refresh vector/key');
  const sessionId = seededBytes('refresh vector/session id')(32);
  const run = (seed: string) =>
    recordCeremony(
      new Map(
        [...keys].map(([p, k]) => [p, createRefresh(sessionId, p, k, { rng: seededBytes(`${seed}/${p}`) })]),
      ),
    );

  test('3-of-5: the same seed gives the same messages and shares, byte for byte; another seed other shares of the same key', () => {
    const { first, other } = replays(run, 5, 'refresh vector', 'another seed');
    assert.equal(digestOf({ messages: first.messages, results: first.results }), VECTOR);
    assert.equal(other.errors.size, 0);
    for (const [p, k] of other.results) {
      const before = first.results.get(p)!;
      assert.ok(groupKey(k.group).equals(groupKey(before.group)), 'the same key');
      assert.notDeepEqual(k.secret.signingShare, before.secret.signingShare, `${p} holds another share`);
    }
  });
});
