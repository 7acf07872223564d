/**
 * The router's bookkeeping of session openers: a refused opener is remembered like a finished session, so the
 * same envelope sent again cannot make the party do the refusing work (and answer) again. And its buffer of
 * early messages: bounded by bytes and count, overall and per peer, so that one peer's flood cannot crowd out
 * another peer's messages.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { nullLogger } from '../../../node/ops/log.ts';
import { Router, type RouterOptions, type Session } from '../../../node/session/router.ts';
import type { Envelope } from '../../../node/transport/wire.ts';
import { FrostnetError } from '../../../protocol/errors.ts';

const invite = (id: number): Envelope => ({
  version: 1,
  sessionId: new Uint8Array(32).fill(id),
  ceremony: 'REPAIR',
  round: 0,
  sender: 'party-1',
  payload: new Uint8Array(),
});

describe('router openers', () => {
  test('a refused opener is not run again for the same session; another session is', () => {
    const router = new Router(nullLogger);
    let calls = 0;
    router.onOpen('REPAIR', 0, () => {
      calls++;
      throw new FrostnetError('INVALID_INPUT', 'refused');
    });
    router.dispatch(invite(1), 'party-1');
    router.dispatch(invite(1), 'party-1');
    assert.equal(calls, 1, 'the replayed refused opener was dropped unread');
    router.dispatch(invite(2), 'party-1');
    assert.equal(calls, 2);
  });

  test('an open session gets the later messages of its id; a replayed opener does not open another', () => {
    const router = new Router(nullLogger);
    const received: number[] = [];
    const session: Session = { receive: (env) => received.push(env.round) };
    let opened = 0;
    router.onOpen('REPAIR', 0, () => {
      opened++;
      return session;
    });
    router.dispatch(invite(3), 'party-1');
    router.dispatch({ ...invite(3), round: 2 }, 'party-1');
    router.dispatch(invite(3), 'party-1');
    assert.equal(opened, 1, 'opened once');
    assert.deepEqual(received, [2, 0], 'later messages, the replayed opener too, go to the open session');
  });
});

const envelope = (
  ceremony: Envelope['ceremony'],
  round: number,
  sid: Uint8Array,
  from: string,
  bytes = 0,
) => ({
  version: 1,
  sessionId: sid,
  ceremony,
  round,
  sender: from,
  payload: new Uint8Array(bytes),
});

/** A router for a DKG-like ceremony opened by invites; `opened` collects what each opened session received. */
function inviteRouter(o: RouterOptions) {
  const router = new Router(nullLogger, o);
  const opened = new Map<string, { round: number; from: string }[]>();
  router.onOpen('DKG', 0, (env) => {
    const got: { round: number; from: string }[] = [];
    opened.set(Buffer.from(env.sessionId).toString('hex'), got);
    return { receive: (e, from) => got.push({ round: e.round, from }) };
  });
  return { router, opened };
}

describe('router early messages', () => {
  const MEMBERS = ['member-1', 'member-2', 'member-3'];
  const OUTSIDER = 'outsider';

  test('a non-member flooding junk and 1 MiB envelopes fills only its own share; members still get through', () => {
    const { router, opened } = inviteRouter({ peers: () => MEMBERS.length + 1 });
    const { limits } = router.early;
    let most = 0;
    const flood = (env: Envelope) => {
      router.dispatch(env, OUTSIDER);
      most = Math.max(most, router.early.bytes);
    };
    for (let i = 0; i < 10_000; i++) flood(envelope('DKG', 1 + (i % 3), randomBytes(32), OUTSIDER, 100));
    for (let i = 0; i < 1000; i++) flood(envelope('DKG', 1, randomBytes(32), OUTSIDER, 1024 * 1024 - 200));
    const quota = router.early.quota();
    assert.ok(router.early.bytes <= quota.bytes, `the flood holds ${router.early.bytes} bytes`);
    assert.ok(router.early.messages <= quota.messages);
    assert.ok(most <= limits.maxBytes);
    // Every member's round messages race the invite of a session; all of them wait for it.
    const sid = randomBytes(32);
    for (const m of MEMBERS)
      for (const round of [1, 2]) router.dispatch(envelope('DKG', round, sid, m, 2000), m);
    router.dispatch(envelope('DKG', 0, sid, MEMBERS[0]), MEMBERS[0]);
    const got = opened.get(Buffer.from(sid).toString('hex'));
    assert.deepEqual(
      got?.map((g) => `${g.from}/${g.round}`),
      MEMBERS.flatMap((m) => [`${m}/1`, `${m}/2`]),
      'the opened session got all six early messages',
    );
  });

  test('the whole buffer is bounded by bytes: each peer holds at most its even share', () => {
    const earlyLimits = { maxBytes: 40_000, maxPeerBytes: 40_000, overheadBytes: 100 };
    const { router } = inviteRouter({ peers: () => 4, earlyLimits });
    assert.deepEqual(router.early.quota().bytes, 10_000);
    for (const peer of ['a', 'b', 'c', 'd', 'e'])
      for (let i = 0; i < 50; i++) router.dispatch(envelope('DKG', 1, randomBytes(32), peer, 900), peer);
    assert.equal(
      router.early.bytes,
      40_000,
      'four peers hold 10 messages of 1,000 bytes; the fifth is refused',
    );
  });

  test('each peer holds a bounded count of messages; a peer at its count does not stop another', () => {
    const { router } = inviteRouter({ peers: () => 2 });
    const quota = router.early.quota().messages;
    for (let i = 0; i < quota + 50; i++) router.dispatch(envelope('DKG', 1, randomBytes(32), 'a', 1), 'a');
    assert.equal(router.early.messages, quota);
    router.dispatch(envelope('DKG', 1, randomBytes(32), 'b', 1), 'b');
    assert.equal(router.early.messages, quota + 1);
  });

  test('expired messages are freed, are not delivered, and give their share back', () => {
    let now = 1_000_000;
    const { router, opened } = inviteRouter({ now: () => now, peers: () => 1 });
    const sid = randomBytes(32);
    for (let i = 0; i < router.early.quota().messages; i++)
      router.dispatch(envelope('DKG', 1, i === 0 ? sid : randomBytes(32), 'a', 1000), 'a');
    assert.ok(router.early.bytes > 0);
    now += router.early.limits.ttlMs + 1;
    router.early.expire();
    assert.equal(router.early.bytes, 0);
    assert.equal(router.early.messages, 0);
    router.dispatch(envelope('DKG', 1, randomBytes(32), 'a', 1000), 'a');
    assert.equal(router.early.messages, 1, 'the peer may hold messages again');
    router.dispatch(envelope('DKG', 0, sid, 'a'), 'a');
    assert.deepEqual(
      opened.get(Buffer.from(sid).toString('hex')),
      [],
      'the expired message was not delivered',
    );
  });

  test('expired messages are freed even when nothing else arrives', async () => {
    const { router } = inviteRouter({ earlyLimits: { ttlMs: 20 } });
    router.dispatch(envelope('DKG', 1, randomBytes(32), 'a', 100_000), 'a');
    assert.equal(router.early.messages, 1);
    while (router.early.messages > 0) await sleep(10);
    assert.equal(router.early.bytes, 0);
  });

  test('messages for no session of a ceremony without invites are dropped, never held', () => {
    const { router } = inviteRouter({});
    router.onOpen('SIGN', 1, () => undefined);
    for (const round of [2, 3, 4]) router.dispatch(envelope('SIGN', round, randomBytes(32), 'a', 500), 'a');
    router.dispatch(envelope('CONTROL', 2, randomBytes(32), 'a', 500), 'a');
    assert.equal(router.early.messages, 0);
  });
});
