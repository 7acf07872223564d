/**
 * Party daemons under restarts, crashes, strangers and a misbehaving configured peer (issue 3's "Must show").
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Level } from 'level';
import { drillMessage } from '../../chains/domains.ts';
import { nullLogger } from '../../node/ops/log.ts';
import { codecs, encodeSignRequest } from '../../node/session/messages.ts';
import { generateIdentity } from '../../node/storage/identity.ts';
import { createHost } from '../../node/transport/host.ts';
import type { Envelope } from '../../node/transport/wire.ts';
import { hexToBytes } from '../../protocol/curve.ts';
import { verifyBip340 } from '../../protocol/sign.ts';
import { Network } from '../helpers/network.ts';
import { drillKeyOf } from '../helpers/network-extra.ts';

const hex = (s: string) => hexToBytes(s);

async function signOk(net: Network, via: number, key: any, message = randomBytes(32).toString('hex')) {
  const r = await net.run(via, `/v1/keys/${key.name}/sign`, { drill: message });
  assert.equal(r.state, 'done', JSON.stringify(r.error));
  assert.ok(verifyBip340(hex(r.result.signatures[0]), drillMessage(hex(message)), drillKeyOf(key)));
  return r.result;
}

/** Digest of every raw record (encrypted values as stored); LevelDB's own log files change on any open. */
async function storeDigest(dir: string): Promise<string> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
  const h = createHash('sha256');
  try {
    for await (const [k, v] of db.iterator()) h.update(k).update(v);
  } finally {
    await db.close();
  }
  return h.digest('hex');
}

describe('daemons across restarts and crashes', () => {
  let net: Network;
  let key: any;
  before(async () => {
    net = await Network.create(5, { roundTimeoutMs: 15_000, configuredOutsiders: 1, processes: true });
    await net.startAll();
    const dkg = await net.keygen(0, 'vault', 3);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    key = dkg.result;
  });
  after(async () => net?.close());

  test('all daemons restarted: keys read back from the store, signing works', async () => {
    for (let i = 0; i < 5; i++) await net.stop(i);
    await net.startAll();
    for (let i = 0; i < 5; i++) {
      const k = await net.call(i, 'GET', '/v1/keys/vault');
      assert.equal(k.json.groupKey, key.groupKey);
    }
    await signOk(net, 4, key);
  });

  test('a wrong passphrase is a clear error and changes nothing on disk', async () => {
    await net.stop(1);
    const store = join(net.parties[1].dataDir, 'store');
    const before = await storeDigest(store);
    await assert.rejects(
      net.start(1, { env: { FROSTNET_PASSPHRASE: 'not the passphrase' } }),
      /WRONG_PASSPHRASE|passphrase/i,
    );
    assert.equal(await storeDigest(store), before);
    await net.start(1);
    await signOk(net, 1, key);
  });

  test('two of five down: the three left sign; three down: fails fast naming the unreachable', async () => {
    await net.kill(3);
    await net.kill(4);
    const r = await signOk(net, 0, key);
    assert.deepEqual([...r.signers].sort(), net.ids.slice(0, 3).sort());
    await net.kill(2);
    const failed = await net.run(0, '/v1/keys/vault/sign', { drill: 'ab'.repeat(32) });
    assert.equal(failed.state, 'failed');
    assert.equal(failed.error.code, 'NOT_ENOUGH_SIGNERS');
    assert.deepEqual([...failed.error.culprits].sort(), net.ids.slice(2, 5).sort());
    // Named as party 1's config names them, with the names beside the culprits' peer ids.
    for (const i of [2, 3, 4]) {
      assert.equal(failed.names[net.ids[i]], `party-${i + 1}`);
      assert.match(failed.error.message, new RegExp(`party-${i + 1}\\b`));
    }
    assert.doesNotMatch(failed.error.message, /12D3KooW/);
    // A refresh needs every member: it fails at once, before any proposal, naming the ones that do not answer.
    const refresh = await net.run(0, '/v1/keys/vault/refresh', {});
    assert.equal(refresh.state, 'failed');
    assert.equal(refresh.error.code, 'UNREACHABLE');
    assert.equal(
      refresh.error.message,
      'the refresh of vault needs every member, and party-3, party-4, party-5 do not answer',
    );
    assert.deepEqual([...refresh.error.culprits].sort(), net.ids.slice(2, 5).sort());
    assert.doesNotMatch(refresh.progress.join('\n'), /approve/, 'no proposal was asked for');
    for (const i of [2, 3, 4]) await net.start(i);
  });

  test('a peer outside the configured parties cannot open a protocol stream', async () => {
    const stranger = await createHost({
      privateKey: await generateIdentity(),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      peers: net.peerInfos,
      log: nullLogger,
      onEnvelope: () => {},
    });
    try {
      const env: Envelope = {
        version: 1,
        sessionId: randomBytes(32),
        ceremony: 'CONTROL',
        round: 1,
        sender: stranger.peerId,
        payload: codecs.keyStatusQuery.encode({ groupKey: hex(key.groupKey) }),
      };
      await assert.rejects(
        stranger.send(net.ids[0], env),
        (e: any) => e.code === 'UNREACHABLE' || e.code === 'TIMEOUT',
      );
    } finally {
      await stranger.stop();
    }
  });

  test('a configured peer sending garbage, oversized and wrong-session messages leaves other sessions unaffected', async () => {
    const rogue = await createHost({
      privateKey: net.outsiders[0],
      listen: ['/ip4/127.0.0.1/tcp/0'],
      peers: net.peerInfos,
      log: nullLogger,
      onEnvelope: () => {},
    });
    try {
      const junk = (ceremony: Envelope['ceremony'], round: number, payload: Uint8Array): Envelope => ({
        version: 1,
        sessionId: randomBytes(32),
        ceremony,
        round,
        sender: rogue.peerId,
        payload,
      });
      const badRequest = encodeSignRequest({
        groupKey: hex(key.groupKey),
        epoch: 0,
        scheme: 'bip340',
        payload: { drill: { challenge: randomBytes(32) } },
        requester: rogue.peerId,
      });
      const flood: Envelope[] = [];
      for (let i = 0; i < 40; i++) {
        flood.push(junk('SIGN', 1, randomBytes(64))); // undecodable sign request
        flood.push(junk('SIGN', 3, randomBytes(200))); // package for a session that does not exist
        flood.push(junk('DKG', 1 + (i % 3), randomBytes(100))); // round messages for no ceremony
        flood.push(junk('REFRESH', 0, randomBytes(50))); // garbage invite
        flood.push(junk('SIGN', 1, badRequest)); // a request from a non-member
        flood.push(junk('CONTROL', 1, randomBytes(33)));
      }
      flood.push(junk('SIGN', 1, randomBytes(900_000))); // big, under the frame limit
      const sending = Promise.allSettled(net.ids.flatMap((to) => flood.map((e) => rogue.send(to, e))));
      const results = await Promise.all([1, 2, 3, 4, 0].map((via) => signOk(net, via, key)));
      assert.equal(results.length, 5);
      // The junk really reached every daemon: the rogue is a configured peer, so its streams were accepted.
      const sent = await sending;
      assert.equal(sent.filter((x) => x.status === 'fulfilled').length, sent.length);
      // A wrong-session message for a live session: the session and the daemon go on.
      await signOk(net, 2, key);
      const status = await net.call(0, 'GET', '/v1/status');
      assert.equal(status.status, 200);
    } finally {
      await rogue.stop();
    }
  });

  test('preprocessed nonces: a signer that restarted (and forgot them) still signs, with fresh nonces', async () => {
    const signers = [net.ids[0], net.ids[1], net.ids[2]];
    const rs = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const r = await net.run(0, '/v1/keys/vault/sign', {
        drill: randomBytes(32).toString('hex'),
        signers,
      });
      assert.equal(r.state, 'done', JSON.stringify(r.error));
      rs.add(r.result.signatures[0].slice(0, 64));
    }
    await net.kill(1);
    await net.start(1);
    const message = randomBytes(32).toString('hex');
    const r = await net.run(0, '/v1/keys/vault/sign', { drill: message, signers });
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    assert.deepEqual(
      [...r.result.signers].sort(),
      [...signers].sort(),
      'the restarted party took part again',
    );
    assert.deepEqual(r.result.excluded, []);
    assert.ok(verifyBip340(hex(r.result.signatures[0]), drillMessage(hex(message)), drillKeyOf(key)));
    rs.add(r.result.signatures[0].slice(0, 64));
    assert.equal(rs.size, 4);
  });

  test('a signer whose connection drops while the coordinator waits for it is replaced at once, as unreachable', async () => {
    const signers = net.ids.slice(0, 4);
    // Party 3 stops answering (frozen, its connections still open), then dies while the request waits for it:
    // the closed connection excludes it as UNREACHABLE at once; waiting out the round timeout would say TIMEOUT.
    net.parties[2].proc!.kill('SIGSTOP');
    const message = randomBytes(32).toString('hex');
    const request = net.run(0, '/v1/keys/vault/sign', { drill: message, signers });
    await sleep(500);
    await net.kill(2);
    const r = await request;
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    assert.deepEqual(
      r.result.excluded.map((x: { party: string; code: string }) => [x.party, x.code]),
      [[net.ids[2], 'UNREACHABLE']],
    );
    assert.ok(!r.result.signers.includes(net.ids[2]));
    assert.ok(verifyBip340(hex(r.result.signatures[0]), drillMessage(hex(message)), drillKeyOf(key)));
    await net.start(2);
  });

  test('50 concurrent signing requests on one key: all valid, all R distinct', async () => {
    const messages = Array.from({ length: 50 }, () => randomBytes(32).toString('hex'));
    const results = await Promise.all(messages.map((m, i) => signOk(net, i % 5, key, m)));
    const rs = new Set(results.map((r) => r.signatures[0].slice(0, 64)));
    assert.equal(rs.size, 50, 'every signature has its own nonce');
  });
});
