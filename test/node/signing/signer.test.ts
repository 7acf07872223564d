/**
 * The party side of signing attacked by a misbehaving coordinator, driving the real Signer: a two-round package
 * may name only the commitments its own session made (never a nonce handed out to another coordinator), the
 * per-coordinator session limit holds however many opens arrive at once, and a handed-out commitment claimed after
 * its expiry (on the signer's injected clock) is refused.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DRILL_PATH, drillMessage } from '../../../chains/domains.ts';
import { nullLogger } from '../../../node/ops/log.ts';
import {
  fromWireCommitment,
  type SignRequestMsg,
  toWireCommitment,
  type WireCommitment,
} from '../../../node/session/messages.ts';
import { Router } from '../../../node/session/router.ts';
import { allowAll, HANDED_OUT_TTLS, type Policy, Signer } from '../../../node/signing/signer.ts';
import { KeyStore } from '../../../node/storage/keystore.ts';
import { openStore, type Store } from '../../../node/storage/store.ts';
import { xOnly } from '../../../protocol/curve.ts';
import { derivePath } from '../../../protocol/derive.ts';
import { groupKey, identifierOf } from '../../../protocol/keys.ts';
import { aggregateSignature, NonceStore, signShare, verifyBip340 } from '../../../protocol/sign.ts';
import { makeKey } from '../../helpers/keys.ts';

const SELF = 'party-1';
const shares = makeKey(2, 3);
const group = shares.get(SELF)!.group;
const root = mkdtempSync(join(tmpdir(), 'frostnet-signer-'));
let store: Store;
let keys: KeyStore;

before(async () => {
  store = await openStore(join(root, 'store'), 'signer test passphrase', { kdf: { N: 2 ** 10 } });
  keys = await KeyStore.open(store);
  await keys.restore('vault', shares.get(SELF)!, 'mainnet');
});
after(async () => {
  await store?.close();
  rmSync(root, { recursive: true, force: true });
});

const SESSION_TTL_MS = 60_000;

const signer = (o: { policy?: Policy; maxSessionsPerPeer?: number; clock?: () => number } = {}) =>
  new Signer({
    self: SELF,
    keys,
    router: new Router(nullLogger),
    send: async () => {},
    policy: o.policy ?? allowAll,
    sessionTtlMs: SESSION_TTL_MS,
    maxSessionsPerPeer: o.maxSessionsPerPeer ?? 16,
    log: nullLogger,
    ...(o.clock && { clock: o.clock }),
  });

/** A drill request: one message, under the drill key (chains/domains.ts), allowed by any policy here. */
const drillRequest = (message: Uint8Array, requester: string): SignRequestMsg => ({
  groupKey: groupKey(group).toBytes(true),
  epoch: group.epoch,
  scheme: 'bip340',
  payload: { drill: { challenge: message } },
  requester,
});
const drillKey = derivePath({ key: groupKey(group), chainCode: group.chainCode }, DRILL_PATH);

/** party-2's side of a package: a fresh commitment of its own, with the store that can sign it. */
function cosigner() {
  const nonces = new NonceStore();
  const commitment = nonces.commit(shares.get('party-2')!);
  return { nonces, commitment };
}

/** The package of a drill of `challenge`: what the parties sign is the drill's tagged hash of it. */
const pkg = (challenge: Uint8Array, mine: WireCommitment, theirs: WireCommitment) => ({
  messages: [drillMessage(challenge)],
  signers: [
    { party: SELF, commitments: [mine] },
    { party: 'party-2', commitments: [theirs] },
  ],
});

describe('signer against a misbehaving coordinator', () => {
  test('a two-round package naming a commitment handed out to another coordinator is refused, and that nonce stays unused', async () => {
    const s = signer();
    const key = groupKey(group).toBytes(true);
    // party-2 coordinates with preprocessing: party-1 hands it commitments ahead of time.
    const [handed] = s.preprocess(key, group.epoch, 4, 'party-2');
    // party-3 coordinates a two-round signing, and names party-2's commitment instead of its own session's.
    const message = randomBytes(32);
    const sid = randomBytes(32);
    const [committed] = await s.commit(sid, drillRequest(message, 'party-3'), 'party-3');
    const other = cosigner();
    const before = s.pendingNonces;
    await assert.rejects(s.sign(sid, pkg(message, handed, toWireCommitment(other.commitment)), 'party-3'), {
      code: 'COMMITMENT_MISMATCH',
    });
    assert.equal(s.pendingNonces, before - 1, "only the session's own nonce is gone");
    // That session is over: its own commitment cannot be used either.
    await assert.rejects(
      s.sign(sid, pkg(message, committed, toWireCommitment(other.commitment)), 'party-3'),
      {
        code: 'NONCE_REUSED',
      },
    );
    // party-2 still signs with the commitment it was given: its nonce was never used.
    const [share] = await s.signOneRound(
      drillRequest(message, 'party-2'),
      pkg(message, handed, toWireCommitment(other.commitment)),
      'party-2',
    );
    const target = { scheme: 'bip340' as const, message: drillMessage(message), steps: drillKey.steps };
    const commitments = [fromWireCommitment(identifierOf(group, SELF), handed), other.commitment];
    const theirs = signShare(
      shares.get('party-2')!,
      other.nonces,
      { epoch: group.epoch, scheme: 'bip340', message: target.message, commitments },
      target,
    );
    const signature = aggregateSignature(
      group,
      target,
      commitments,
      new Map([
        [SELF, share],
        ['party-2', theirs],
      ]),
    );
    assert.ok(verifyBip340(signature, drillMessage(message), xOnly(drillKey.key)));
  });

  test("an honest two-round package with the session's own commitment signs", async () => {
    const s = signer();
    const message = randomBytes(32);
    const sid = randomBytes(32);
    const [committed] = await s.commit(sid, drillRequest(message, 'party-3'), 'party-3');
    const shares = await s.sign(
      sid,
      pkg(message, committed, toWireCommitment(cosigner().commitment)),
      'party-3',
    );
    assert.equal(shares.length, 1);
  });

  test('the shares leave only once the policy has recorded the signature; a failed record keeps them back', async () => {
    const recorded = Promise.withResolvers<void>();
    let told = 0;
    const s = signer({
      policy: {
        check: () => {},
        signed: () => {
          told++;
          return recorded.promise;
        },
      },
    });
    const message = randomBytes(32);
    const sid = randomBytes(32);
    const [committed] = await s.commit(sid, drillRequest(message, 'party-3'), 'party-3');
    let released = false;
    const signing = s
      .sign(sid, pkg(message, committed, toWireCommitment(cosigner().commitment)), 'party-3')
      .then((shares) => {
        released = true;
        return shares;
      });
    await new Promise((r) => setImmediate(r));
    assert.equal(told, 1, 'the policy is told before the shares go');
    assert.equal(released, false, 'no shares while the record is not on disk');
    recorded.resolve();
    assert.equal((await signing).length, 1);

    const failing = signer({
      policy: { check: () => {}, signed: () => Promise.reject(new Error('disk full')) },
    });
    const sid2 = randomBytes(32);
    const [c2] = await failing.commit(sid2, drillRequest(message, 'party-3'), 'party-3');
    const before = failing.pendingNonces;
    await assert.rejects(
      failing.sign(sid2, pkg(message, c2, toWireCommitment(cosigner().commitment)), 'party-3'),
      { code: 'INTERNAL', message: /could not record the signature/ },
    );
    assert.equal(failing.pendingNonces, before - 1, 'the nonce is gone all the same');
  });

  test('concurrent opens over the session limit: exactly the limit succeed', async () => {
    const limit = 3;
    const gate = Promise.withResolvers<void>();
    // The policy check is the await inside an open; all opens wait there together.
    const s = signer({ maxSessionsPerPeer: limit, policy: { check: () => gate.promise } });
    const opens = Array.from({ length: 8 }, () =>
      s.commit(randomBytes(32), drillRequest(randomBytes(32), 'party-2'), 'party-2'),
    );
    gate.resolve();
    const settled = await Promise.allSettled(opens);
    assert.equal(settled.filter((r) => r.status === 'fulfilled').length, limit);
    for (const r of settled.filter((x) => x.status === 'rejected'))
      assert.equal((r as PromiseRejectedResult).reason.code, 'CONFLICT');
    // Another coordinator has its own slots.
    await s.commit(randomBytes(32), drillRequest(randomBytes(32), 'party-3'), 'party-3');
  });

  test('a key whose share here is still pending is refused as not settled yet, not as unknown', async () => {
    const forming = makeKey(2, 3).get(SELF)!;
    const confirmations = { sessionId: '00'.repeat(32), confirmation: '11'.repeat(32), signatures: {} };
    await keys.setPending('forming', forming, { create: true, confirmations });
    const req = (g: typeof group): SignRequestMsg => ({
      ...drillRequest(randomBytes(32), 'party-2'),
      groupKey: groupKey(g).toBytes(true),
      epoch: g.epoch,
    });
    await assert.rejects(signer().commit(randomBytes(32), req(forming.group), 'party-2'), {
      code: 'CONFLICT',
      message: /key forming is not settled on this party yet/,
    });
    await assert.rejects(signer().commit(randomBytes(32), req(makeKey(2, 3).get(SELF)!.group), 'party-2'), {
      code: 'UNKNOWN_KEY',
    });
  });

  test('an open refused by the policy gives its slot back; the same session id cannot open twice at once', async () => {
    let refuse = true;
    const s = signer({
      maxSessionsPerPeer: 1,
      policy: {
        check: async () => {
          if (refuse) throw Object.assign(new Error('denied'), { code: 'POLICY_DENIED' });
        },
      },
    });
    await assert.rejects(s.commit(randomBytes(32), drillRequest(randomBytes(32), 'party-2'), 'party-2'), {
      code: 'POLICY_DENIED',
    });
    refuse = false;
    const sid = randomBytes(32);
    const twice = await Promise.allSettled([
      s.commit(sid, drillRequest(randomBytes(32), 'party-2'), 'party-2'),
      s.commit(sid, drillRequest(randomBytes(32), 'party-3'), 'party-3'),
    ]);
    assert.deepEqual(
      twice.map((r) => r.status),
      ['fulfilled', 'rejected'],
    );
    assert.equal((twice[1] as PromiseRejectedResult).reason.code, 'CONFLICT');
  });

  test('handed-out commitments expire on the injected clock: claimed up to their expiry they sign; a moment later they are refused and their nonces dropped', async () => {
    let now = 1_000_000; // a clock far from the wall clock, so only the injected one can decide
    const s = signer({ clock: () => now });
    const key = groupKey(group).toBytes(true);
    const [early, late] = s.preprocess(key, group.epoch, 2, 'party-2');
    now += SESSION_TTL_MS * HANDED_OUT_TTLS; // the last millisecond of their life
    const message = randomBytes(32);
    const shares = await s.signOneRound(
      drillRequest(message, 'party-2'),
      pkg(message, early!, toWireCommitment(cosigner().commitment)),
      'party-2',
    );
    assert.equal(shares.length, 1, 'claimed in time: signed');
    now += 1;
    const before = s.pendingNonces;
    await assert.rejects(
      s.signOneRound(
        drillRequest(message, 'party-2'),
        pkg(message, late!, toWireCommitment(cosigner().commitment)),
        'party-2',
      ),
      { code: 'NONCE_REUSED' },
    );
    // The next batch sweeps the expired commitment: its nonce goes as the new one is made.
    s.preprocess(key, group.epoch, 1, 'party-3');
    assert.equal(s.pendingNonces, before, 'the expired nonce is gone, the new one held');
  });
});
