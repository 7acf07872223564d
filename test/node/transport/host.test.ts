import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { PrivateKey, Stream } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p } from 'libp2p';
import { createLogger } from '../../../node/ops/log.ts';
import { createRegistry, type Registry } from '../../../node/ops/metrics.ts';
import { generateIdentity, peerIdOf } from '../../../node/storage/identity.ts';
import {
  createHost,
  type Host,
  type PeerInfo,
  PING_PROTOCOL,
  PROTOCOL,
  prepareHost,
} from '../../../node/transport/host.ts';
import { type Envelope, encodeEnvelope, encodeFrame } from '../../../node/transport/wire.ts';
import { FrostnetError } from '../../../protocol/errors.ts';

const LOCAL = ['/ip4/127.0.0.1/tcp/0'];
const T = { timeout: 30_000 };

type Received = { env: Envelope; from: string };

interface Party {
  key: PrivateKey;
  id: string;
  host: Host;
  inbox: Received[];
  logs: Array<Record<string, unknown>>;
  metrics: Registry;
}

// Everything a test starts is stopped after it, pass or fail.
const running: Array<{ stop(): Promise<void> | void }> = [];
afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((r) => r.stop()));
});

async function startParty(
  key: PrivateKey,
  peers: PeerInfo[] = [],
  opts: { listen?: string[]; maxFrameBytes?: number; pingIntervalMs?: number; dialTimeoutMs?: number } = {},
): Promise<Party> {
  const inbox: Received[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const metrics = createRegistry();
  const log = createLogger({ level: 'debug', stream: { write: (l: string) => logs.push(JSON.parse(l)) } });
  const host = await createHost({
    privateKey: key,
    listen: opts.listen ?? LOCAL,
    peers,
    log,
    metrics,
    maxFrameBytes: opts.maxFrameBytes,
    pingIntervalMs: opts.pingIntervalMs,
    dialTimeoutMs: opts.dialTimeoutMs,
    onEnvelope: (env, from) => inbox.push({ env, from }),
    redial: { minDelayMs: 50, maxDelayMs: 500 },
  });
  running.push(host);
  return { key, id: host.peerId, host, inbox, logs, metrics };
}

const info = (p: { id: string; host: Host }, name?: string): PeerInfo => ({
  id: p.id,
  addrs: p.host.addrs(),
  name,
});

/** Starts hosts that all know each other. */
async function mesh(n: number): Promise<Party[]> {
  const parties: Party[] = [];
  for (let i = 0; i < n; i++) parties.push(await startParty(await generateIdentity()));
  for (const p of parties)
    p.host.setPeers(parties.filter((q) => q !== p).map((q, i) => info(q, `party${i}`)));
  return parties;
}

/** Polls until `cond` holds; the test's timeout is the bound. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await sleep(10);
}

let counter = 0;
const envelope = (sender: string, over: Partial<Envelope> = {}): Envelope => ({
  version: 1,
  sessionId: new Uint8Array(32).fill(counter++ & 0xff),
  ceremony: 'SIGN',
  round: 1,
  sender,
  payload: new TextEncoder().encode(`hello ${counter}`),
  ...over,
});

const typed = (code: string, pattern?: RegExp, culprit?: string) => (e: unknown) => {
  assert.ok(e instanceof FrostnetError, `expected FrostnetError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  if (pattern) assert.match(e.message, pattern);
  if (culprit) assert.deepEqual(e.culprits, [culprit]);
  return true;
};

const logged = (p: Party, msg: string, pattern: RegExp) =>
  p.logs.some((l) => l.msg === msg && pattern.test(JSON.stringify(l)));

/** A bare libp2p node (no gate, no frostnet logic) to play a misbehaving or an older peer. */
async function rawNode(key: PrivateKey, listen: string[] = []): Promise<Libp2p> {
  const node = await createLibp2p({
    privateKey: key,
    addresses: { listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
  });
  running.push(node);
  return node;
}

/** Resolves with the first `n` bytes `stream` delivers; rejects if it closes first. */
function readBytes(stream: Stream, n: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const buf = new Uint8Array(n);
    let filled = 0;
    const onMessage = (evt: { data: Uint8Array | { subarray(): Uint8Array } }) => {
      const chunk = (evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()).subarray(0, n - filled);
      buf.set(chunk, filled);
      filled += chunk.byteLength;
      if (filled === n) {
        stream.removeEventListener('message', onMessage);
        stream.removeEventListener('close', onClose);
        resolve(buf);
      }
    };
    const onClose = () => reject(new Error(`stream closed after ${filled} of ${n} bytes`));
    stream.addEventListener('message', onMessage);
    stream.addEventListener('close', onClose);
  });
}

/** What a daemon from before @libp2p/ping ran on /frostnet/ping/1.0.0 (its check of the peer left out). */
function oldEchoHandler(stream: Stream): void {
  stream.addEventListener('message', (evt) => {
    stream.send(evt.data instanceof Uint8Array ? evt.data : evt.data.subarray());
  });
  stream.addEventListener('remoteCloseWrite', () => {
    stream.close().catch(() => {});
  });
}

/** A configured peer of `a` played by a bare node that answers pings with `handler`. */
async function pingPeer(a: Party, handler: (stream: Stream) => void, name = 'mallory') {
  const key = await generateIdentity();
  const node = await rawNode(key, LOCAL);
  await node.handle(PING_PROTOCOL, handler);
  const id = node.peerId.toString();
  a.host.setPeers([{ id, addrs: node.getMultiaddrs().map(String), name }]);
  return { node, id };
}

describe('host', () => {
  test('two hosts exchange envelopes in order over one persistent stream', T, async () => {
    const [a, b] = await mesh(2);
    const sent = Array.from({ length: 200 }, () => envelope(a.id));
    for (const env of sent) await a.host.send(b.id, env);
    await Promise.all([a.host.send(b.id, envelope(a.id)), a.host.send(b.id, envelope(a.id))]);
    await b.host.send(a.id, envelope(b.id, { ceremony: 'DKG', round: 3 }));
    await until(() => b.inbox.length === 202 && a.inbox.length === 1);
    assert.deepEqual(
      b.inbox.slice(0, 200).map((r) => r.env),
      sent,
    );
    assert.ok(b.inbox.every((r) => r.from === a.id));
    assert.equal(a.inbox[0].env.ceremony, 'DKG');
    assert.equal(a.inbox[0].from, b.id);
    assert.match(a.metrics.render(), /^frostnet_outbound_streams_opened_total 1$/m);
    assert.match(b.metrics.render(), /^frostnet_envelopes_received_total\{ceremony="SIGN"\} 202$/m);
    assert.deepEqual(a.host.connected(), [b.id]);
  });

  test(
    'large envelopes up to the frame limit go through; larger ones are refused before sending',
    T,
    async () => {
      const [a, b] = await mesh(2);
      const big = envelope(a.id, { payload: new Uint8Array(900_000).fill(9) });
      await a.host.send(b.id, big);
      await until(() => b.inbox.length === 1);
      assert.deepEqual(b.inbox[0].env.payload, big.payload);
      await assert.rejects(
        a.host.send(b.id, envelope(a.id, { payload: new Uint8Array(1 << 20) })),
        typed('INVALID_INPUT', /exceeds the limit/),
      );
    },
  );

  test('a peer with an unknown id is refused at the gate and delivers nothing', T, async () => {
    const a = await startParty(await generateIdentity());
    const stranger = await startParty(await generateIdentity(), [info(a)]);
    await assert.rejects(
      stranger.host.send(a.id, envelope(stranger.id)),
      typed('UNREACHABLE', undefined, a.id),
    );
    await assert.rejects(stranger.host.ping(a.id), typed('UNREACHABLE', undefined, a.id));
    // A bare node cannot open a protocol stream either.
    const raw = await rawNode(await generateIdentity());
    await assert.rejects(raw.dialProtocol(multiaddr(a.host.addrs()[0]), PROTOCOL));
    await assert.rejects(raw.dialProtocol(multiaddr(a.host.addrs()[0]), PING_PROTOCOL));
    assert.ok(logged(a, 'connection refused at the gate: not a configured peer', new RegExp(stranger.id)));
    assert.ok(
      logged(a, 'connection refused at the gate: not a configured peer', new RegExp(raw.peerId.toString())),
    );
    assert.deepEqual(a.inbox, []);
    assert.deepEqual(a.host.connected(), []);
  });

  test(
    'garbage and oversized frames from one peer leave the stream (or, when framing breaks, other peers) working',
    T,
    async () => {
      const mKey = await generateIdentity();
      const mId = peerIdOf(mKey);
      const [a, b] = await mesh(2);
      a.host.setPeers([info(b), { id: mId, addrs: [], name: 'mallory' }]);
      const mallory = await rawNode(mKey);
      const target = multiaddr(a.host.addrs()[0]);
      const stream: Stream = await mallory.dialProtocol(target, PROTOCOL);

      stream.send(encodeFrame(new Uint8Array([0xff, 0xff, 0xff, 0x01])));
      const wrongVersion = encodeEnvelope(envelope(mId));
      wrongVersion[1] = 9; // field 1 (version) = 9
      stream.send(encodeFrame(wrongVersion));
      await until(() => a.logs.filter((l) => l.msg === 'dropped inbound message').length === 2);
      assert.ok(logged(a, 'dropped inbound message', /mallory.*undecodable/));
      assert.ok(logged(a, 'dropped inbound message', /unknown version 9/));

      // Same stream, intact framing: the next valid envelope is delivered.
      const good = envelope(mId);
      stream.send(encodeFrame(encodeEnvelope(good)));
      await until(() => a.inbox.length === 1);
      assert.deepEqual(a.inbox[0], { env: good, from: mId });

      // An oversized length prefix: refused before the body, and this stream is closed.
      const header = encodeFrame(new Uint8Array(2 << 20), 4 << 20).subarray(0, 4);
      stream.send(header);
      await until(() => stream.status !== 'open');
      assert.ok(logged(a, 'dropped inbound message', new RegExp(`${mId}.*exceeds the limit`)));

      // Other peers are unaffected, and mallory can start over on a new stream.
      await b.host.send(a.id, envelope(b.id));
      const again = await mallory.dialProtocol(target, PROTOCOL);
      again.send(encodeFrame(encodeEnvelope(envelope(mId))));
      await until(() => a.inbox.length === 3);
      assert.deepEqual(new Set(a.inbox.map((r) => r.from)), new Set([mId, b.id]));
      assert.match(a.metrics.render(), /frostnet_envelopes_dropped_total\{reason="frame"\} 1/);
    },
  );

  test('an envelope whose sender is not the authenticated peer is dropped', T, async () => {
    const mKey = await generateIdentity();
    const mId = peerIdOf(mKey);
    const [a, b] = await mesh(2);
    a.host.setPeers([info(b), { id: mId, addrs: [] }]);
    const mallory = await rawNode(mKey);
    const stream = await mallory.dialProtocol(multiaddr(a.host.addrs()[0]), PROTOCOL);
    stream.send(encodeFrame(encodeEnvelope(envelope(b.id))));
    stream.send(encodeFrame(encodeEnvelope(envelope(mId, { round: 7 }))));
    await until(() => a.inbox.some((r) => r.env.round === 7));
    assert.deepEqual(
      a.inbox.map((r) => [r.env.round, r.from]),
      [[7, mId]],
    );
    assert.ok(logged(a, 'dropped inbound message', /is not the authenticated peer/));
  });

  test('a throwing envelope consumer does not break the stream', T, async () => {
    const [a] = await mesh(1);
    let calls = 0;
    const b = await createHost({
      privateKey: await generateIdentity(),
      listen: LOCAL,
      peers: [info(a)],
      log: createLogger({ stream: { write() {} } }),
      onEnvelope: () => {
        calls++;
        throw new Error('consumer bug');
      },
    });
    running.push(b);
    a.host.setPeers([info({ id: b.peerId, host: b })]);
    await a.host.send(b.peerId, envelope(a.id));
    await a.host.send(b.peerId, envelope(a.id));
    await until(() => calls === 2);
  });

  test(
    'sending to a stopped peer fails fast with UNREACHABLE naming it; a restarted peer is reached again',
    T,
    async () => {
      const [a, b] = await mesh(2);
      a.host.setPeers([info(b, 'bob')]);
      await a.host.send(b.id, envelope(a.id));
      await until(() => b.inbox.length === 1);
      const port = multiaddr(b.host.addrs()[0])
        .getComponents()
        .find((c) => c.name === 'tcp')?.value;
      await b.host.stop();
      await until(() => !a.host.connected().includes(b.id));
      await assert.rejects(
        a.host.send(b.id, envelope(a.id)),
        typed('UNREACHABLE', new RegExp(`peer bob \\(${b.id}\\) is unreachable`), b.id),
      );
      await assert.rejects(a.host.ping(b.id), typed('UNREACHABLE', /bob/, b.id));

      // Same identity, same address: the redial loop reconnects by itself, and envelopes flow again.
      const b2 = await startParty(b.key, [info(a)], { listen: [`/ip4/127.0.0.1/tcp/${port}`] });
      await until(() => a.host.connected().includes(b.id));
      await a.host.send(b.id, envelope(a.id, { round: 42 }));
      await until(() => b2.inbox.length === 1);
      assert.equal(b2.inbox[0].env.round, 42);
      // The broken persistent stream was replaced by exactly one new one.
      assert.match(a.metrics.render(), /^frostnet_outbound_streams_opened_total 2$/m);
    },
  );

  test('ping measures a round trip to a connected peer', T, async () => {
    const [a, b] = await mesh(2);
    const rtt = await a.host.ping(b.id);
    assert.equal(typeof rtt, 'number');
    assert.ok(rtt >= 0);
    assert.ok((await b.host.ping(a.id)) >= 0);
  });

  test('a 32-byte ping from a daemon before @libp2p/ping is echoed by the ping service', T, async () => {
    const mKey = await generateIdentity();
    const [a] = await mesh(1);
    a.host.setPeers([{ id: peerIdOf(mKey), addrs: [] }]);
    const old = await rawNode(mKey);
    const stream = await old.dialProtocol(multiaddr(a.host.addrs()[0]), PING_PROTOCOL);
    // The old client: 32 random bytes, read 32 back, close.
    const probe = crypto.getRandomValues(new Uint8Array(32));
    const echo = readBytes(stream, 32);
    stream.send(probe);
    assert.deepEqual(await echo, probe);
    await stream.close();
  });

  test("the ping service's client is answered by a daemon before @libp2p/ping", T, async () => {
    const [a] = await mesh(1);
    const { id } = await pingPeer(a, oldEchoHandler, 'old');
    const rtt = await a.host.ping(id);
    assert.equal(typeof rtt, 'number');
    assert.ok(rtt >= 0);
  });

  test('a peer that does not answer a ping in time gives TIMEOUT naming it', T, async () => {
    const [a] = await mesh(1);
    // Reads the probe, never answers.
    const { id } = await pingPeer(a, (stream) => stream.addEventListener('message', () => {}));
    await assert.rejects(
      a.host.ping(id, { timeoutMs: 200 }),
      typed('TIMEOUT', /peer mallory \(.*\) did not answer a ping within 200 ms/, id),
    );
  });

  test('a peer that echoes other bytes than the probe gives INVALID_INPUT naming it', T, async () => {
    const [a] = await mesh(1);
    const { id } = await pingPeer(a, (stream) => {
      stream.addEventListener('message', (evt) => {
        const data = (evt.data instanceof Uint8Array ? evt.data : evt.data.subarray()).map((b) => b ^ 1);
        stream.send(data);
      });
    });
    await assert.rejects(a.host.ping(id), typed('INVALID_INPUT', /mallory.*answered a ping wrongly/, id));
  });

  test('a configured peer gets 4 ping streams at a time per connection; a fifth is reset', T, async () => {
    const mKey = await generateIdentity();
    const [a] = await mesh(1);
    a.host.setPeers([{ id: peerIdOf(mKey), addrs: [] }]);
    const mallory = await rawNode(mKey);
    const target = multiaddr(a.host.addrs()[0]);
    const open: Stream[] = [];
    for (let i = 0; i < 4; i++) open.push(await mallory.dialProtocol(target, PING_PROTOCOL));
    // Each of the four echoes, so each is held open by the ping service.
    for (const s of open) {
      const probe = crypto.getRandomValues(new Uint8Array(32));
      const echo = readBytes(s, 32);
      s.send(probe);
      assert.deepEqual(await echo, probe);
    }
    const fifth = await mallory.dialProtocol(target, PING_PROTOCOL).catch(() => undefined);
    if (fifth !== undefined) await until(() => fifth.status !== 'open');
    assert.ok(
      open.every((s) => s.status === 'open'),
      'the first four are untouched',
    );
  });

  test(
    'an inbound ping stream that keeps echoing bulk data is aborted: its life is bounded (dialTimeoutMs)',
    T,
    async () => {
      const mKey = await generateIdentity();
      const a = await startParty(await generateIdentity(), [], { dialTimeoutMs: 300 });
      a.host.setPeers([{ id: peerIdOf(mKey), addrs: [] }]);
      const mallory = await rawNode(mKey);
      const stream = await mallory.dialProtocol(multiaddr(a.host.addrs()[0]), PING_PROTOCOL);
      let echoed = 0;
      stream.addEventListener('message', (evt) => {
        echoed += evt.data.byteLength;
      });
      // Bulk data through the echo, well past one ping, until the service ends the stream.
      while (stream.status === 'open') {
        if (stream.writeStatus === 'writable') stream.send(new Uint8Array(4096));
        await sleep(20);
      }
      assert.ok(echoed > 32, `the stream echoed (${echoed} bytes) before it was aborted`);
      // The connection outlives the stream: the peer is still connected and pingable the normal way.
      assert.deepEqual(a.host.connected(), [peerIdOf(mKey)]);
    },
  );

  test(
    "libp2p's connection monitor measures each connection's round trip on /frostnet/ping/1.0.0",
    T,
    async () => {
      const ka = await generateIdentity();
      const kb = await generateIdentity();
      const a = await startParty(ka, [], { pingIntervalMs: 50 });
      const b = await startParty(kb, [info(a)], { pingIntervalMs: 50 });
      a.host.setPeers([info(b)]);
      await b.host.send(a.id, envelope(b.id));
      assert.equal(a.host.rtt('12D3KooWNotAPeer'), undefined);
      await until(() => a.host.rtt(b.id) !== undefined && b.host.rtt(a.id) !== undefined);
      assert.ok((a.host.rtt(b.id) ?? -1) >= 0);
    },
  );

  test('a prepared host listens only once started', T, async () => {
    const a = await startParty(await generateIdentity());
    const key = await generateIdentity();
    const inbox: Envelope[] = [];
    const b = await prepareHost({
      privateKey: key,
      listen: LOCAL,
      peers: [info(a)],
      log: createLogger({ level: 'error', stream: { write: () => {} } }),
      onEnvelope: (env) => inbox.push(env),
    });
    running.push(b);
    assert.deepEqual(b.addrs(), [], 'no address before start');
    await b.start();
    assert.equal(b.addrs().length, 1);
    a.host.setPeers([{ id: b.peerId, addrs: b.addrs() }]);
    await a.host.send(b.peerId, envelope(a.id, { round: 7 }));
    await until(() => inbox.length === 1);
    assert.equal(inbox[0]?.round, 7);
  });

  test('removing a peer disconnects it and refuses it from then on', T, async () => {
    const [a, b] = await mesh(2);
    await a.host.send(b.id, envelope(a.id));
    await until(() => b.inbox.length === 1);
    b.host.setPeers([]);
    await until(() => !a.host.connected().includes(b.id) && !b.host.connected().includes(a.id));
    await assert.rejects(a.host.send(b.id, envelope(a.id)), typed('UNREACHABLE', undefined, b.id));
    assert.equal(b.inbox.length, 1);
  });

  test('send refuses unknown destinations and envelopes not from this node', T, async () => {
    const [a, b] = await mesh(2);
    const other = peerIdOf(await generateIdentity());
    await assert.rejects(a.host.send(other, envelope(a.id)), typed('INVALID_INPUT', /not a configured peer/));
    await assert.rejects(a.host.send(b.id, envelope(b.id)), typed('INVALID_INPUT', /is not this node/));
    await assert.rejects(
      a.host.send(b.id, envelope(a.id, { sessionId: new Uint8Array(3) })),
      typed('INVALID_INPUT', /32 bytes/),
    );
    assert.throws(() => a.host.setPeers([{ id: 'nope', addrs: [] }]), typed('INVALID_INPUT'));
  });

  test('listen problems are typed errors', T, async () => {
    const [a] = await mesh(1);
    const taken = a.host.addrs()[0].replace(/\/p2p\/.*$/, '');
    const key = await generateIdentity();
    const base = {
      privateKey: key,
      peers: [],
      log: createLogger({ stream: { write() {} } }),
      onEnvelope() {},
    };
    await assert.rejects(createHost({ ...base, listen: [taken] }), typed('CONFLICT', /in use/));
    await assert.rejects(
      createHost({ ...base, listen: ['nonsense'] }),
      typed('INVALID_INPUT', /not a multiaddr/),
    );
    await assert.rejects(createHost({ ...base, listen: [] }), typed('INVALID_INPUT', /listen address/));
  });
});
