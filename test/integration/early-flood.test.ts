/**
 * A configured peer that is a member of no key floods one party with early messages (junk for sessions that
 * do not exist, and ~1 MiB envelopes) while the members refresh and sign: the party holds the flood to its
 * byte bound, every refresh and signing of the members succeeds, and the party's memory comes back near where
 * it was idle once the flood has expired.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { nullLogger } from '../../node/ops/log.ts';
import { EARLY_LIMITS } from '../../node/session/early-messages.ts';
import { codecs, ROUND } from '../../node/session/messages.ts';
import { createHost, type Host } from '../../node/transport/host.ts';
import type { Ceremony, Envelope } from '../../node/transport/wire.ts';
import { hexToBytes } from '../../protocol/curve.ts';
import { Network } from '../helpers/network.ts';
import { assertSigns, settledViews } from '../helpers/network-extra.ts';

const FLOODED = 0;
const MiB = 1024 * 1024;
/** Envelopes of ~1 MiB in the flood: 400 MiB, which a buffer holding the flood would keep (the bound is 256). */
const FLOOD_ENVELOPES = 400;

/** One gauge of party i's /metrics. */
async function gauge(net: Network, i: number, name: string): Promise<number> {
  const res = await fetch(`${net.parties[i].api}/metrics`, {
    headers: { authorization: `Bearer ${net.token(i, 'metrics')}` },
  });
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

const rss = (net: Network) => gauge(net, FLOODED, 'process_resident_memory_bytes');

describe('a non-member flooding early messages', () => {
  let net: Network;
  let rogue: Host;
  let groupKey: string;
  let view: { groupKey: string; chainCode: string };
  /** Answers to the rogue, by session id. */
  const answers = new Map<string, (env: Envelope) => void>();

  before(async () => {
    net = await Network.create(4, { roundTimeoutMs: 15_000, configuredOutsiders: 1, processes: true });
    await net.startAll();
    const dkg = await net.keygen(1, 'vault', 3);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    groupKey = dkg.result.groupKey;
    view = dkg.result;
    // The initiator is done a moment before the others activate the key; the first refresh asks another party.
    for (const [i] of net.parties.entries())
      for (let tries = 0; (await net.call(i, 'GET', '/v1/keys/vault')).status !== 200; tries++) {
        assert.ok(tries < 150, `party ${i} never activated the key`);
        await sleep(200);
      }
    rogue = await createHost({
      privateKey: net.outsiders[0],
      listen: ['/ip4/127.0.0.1/tcp/0'],
      peers: net.peerInfos,
      log: nullLogger,
      onEnvelope: (env) => answers.get(Buffer.from(env.sessionId).toString('hex'))?.(env),
    });
  });

  /**
   * Asks party i for a key status and waits for an answer: the party handles one peer's messages in order, so
   * once it answers, everything the rogue sent before has been handled. A party may drop a flooding peer's
   * message or its answer (that is its right), so the question is asked again every few seconds, each time in
   * a session of its own: any answer will do.
   */
  async function flushed(i: number): Promise<void> {
    const answered = Promise.withResolvers<void>();
    let done = false;
    void answered.promise.then(() => (done = true));
    while (!done) {
      const query = junk('CONTROL', ROUND.control.keyStatusQuery, 0);
      answers.set(Buffer.from(query.sessionId).toString('hex'), () => answered.resolve());
      await rogue
        .send(net.ids[i], {
          ...query,
          payload: codecs.keyStatusQuery.encode({ groupKey: hexToBytes(groupKey) }),
        })
        .catch(() => {});
      await Promise.race([answered.promise, sleep(5000)]);
    }
  }

  const junk = (ceremony: Ceremony, round: number, bytes: number): Envelope => ({
    version: 1,
    sessionId: randomBytes(32),
    ceremony,
    round,
    sender: rogue.peerId,
    payload: randomBytes(bytes),
  });
  after(async () => {
    await rogue?.stop();
    await net?.close();
  });

  test('is held to its share; the members refresh and sign; memory comes back', async () => {
    // Idle: after one refresh and one signing, so that what they allocate once is in the reading.
    const warm = await net.run(2, '/v1/keys/vault/refresh', {});
    assert.equal(warm.state, 'done', JSON.stringify(warm.error));
    await settledViews(net, 'vault');
    await assertSigns(net, 3, 'vault', [0, 1, 2], view);
    const idle = await rss(net);

    const CEREMONIES: Ceremony[] = ['DKG', 'REFRESH', 'RESHARE', 'REPAIR', 'SIGN', 'CONTROL'];
    let flooding = true;
    let held = 0;
    const flood = (async () => {
      const to = net.ids[FLOODED];
      // 400 envelopes just under the frame limit: a hundred times the flooder's share, and more than the memory
      // bound below if the party held them...
      for (let i = 0; i < FLOOD_ENVELOPES; i++)
        await rogue.send(to, junk(i % 2 ? 'REFRESH' : 'DKG', 1 + (i % 3), MiB - 4096));
      // ...and many small messages for sessions that do not exist (as many as the old count bound, and more).
      for (let batch = 0; batch < 40; batch++)
        await Promise.all(
          Array.from({ length: 250 }, (_, i) => rogue.send(to, junk(CEREMONIES[i % 6], 1 + (i % 3), 200))),
        );
      await flushed(FLOODED);
      flooding = false;
    })();
    const watch = (async () => {
      while (flooding) {
        held = Math.max(held, await gauge(net, FLOODED, 'frostnet_early_message_bytes'));
        await sleep(100);
      }
    })();
    // The members' ceremonies, all through the flood; the flooded party takes part in every one.
    const work = (async () => {
      let rounds = 0;
      do {
        const r = await net.run(rounds % 4, '/v1/keys/vault/refresh', {});
        assert.equal(r.state, 'done', `refresh ${rounds}: ${JSON.stringify(r.error)}`);
        // Every member on the new epoch before a signing names three of them.
        await settledViews(net, 'vault');
        await assertSigns(
          net,
          (rounds + 1) % 4,
          'vault',
          [FLOODED, 1 + (rounds % 3), 1 + ((rounds + 1) % 3)],
          view,
        );
        rounds++;
      } while (flooding || rounds < 3);
      return rounds;
    })();
    const [rounds] = await Promise.all([work, flood, watch]);
    assert.ok(rounds >= 3);
    assert.ok(held > MiB, `the big envelopes reached the buffer: ${held} bytes held at most`);
    assert.ok(held <= EARLY_LIMITS.maxBytes, `held ${held} bytes`);
    assert.ok(held <= 2 * EARLY_LIMITS.maxPeerBytes, `the flood filled only its share: ${held} bytes held`);

    // Once the flood has expired, nothing of it is held, and the memory it took is given back.
    while ((await gauge(net, FLOODED, 'frostnet_early_messages')) > 0) await sleep(500);
    // Generous: what the flood leaves behind is garbage not yet collected and memory the allocator keeps (tens
    // of MiB); holding the flood, as the buffer once did, is 400 MiB.
    const bound = idle + 256 * MiB;
    let after = await rss(net);
    for (let i = 0; i < 20 && after > bound; i++) {
      await sleep(500);
      after = await rss(net);
    }
    assert.ok(
      after <= bound,
      `RSS ${Math.round(after / MiB)} MiB after the flood, ${Math.round(idle / MiB)} MiB idle`,
    );
    await assertSigns(net, FLOODED, 'vault', [0, 1, 2], view);
  });
});
