/**
 * The party's libp2p host: TCP + noise + yamux and nothing else (no discovery, DHT, relay, autonat or
 * identify), a connection gate that admits only the configured parties, and envelopes framed on
 * `/frostnet/1.0.0`.
 *
 * - Gate: every connection to or from a peer id outside the configured list is refused during the upgrade
 *   (`denyInboundEncryptedConnection` and friends), so an unknown peer never gets to open a stream. The
 *   envelope handler checks the remote peer again (a peer `setPeers` removed is hung up on, but its streams
 *   may outlive that for a moment); the ping service does not, so such a peer may ping until it is gone.
 * - Sending: ONE persistent outbound stream per peer carries every envelope to it, reopened when it breaks;
 *   `send` dials when needed, and a peer that cannot be reached fails fast with UNREACHABLE naming it.
 * - Receiving: each frame is size-checked before it is buffered, decoded, validated, and its `sender` must
 *   equal the authenticated remote peer. A bad frame is dropped with a logged reason naming the peer; the
 *   stream stays usable unless the framing itself is broken (an oversized length closes that stream only).
 * - Liveness: a background loop redials configured peers that are not connected, with exponential backoff
 *   (capped at a few seconds) and jitter. libp2p's connection monitor pings every connection on
 *   `/frostnet/ping/1.0.0` each `pingIntervalMs`: it keeps the round trip on the connection (`rtt`, what
 *   liveness.ts reads) and closes a connection whose ping fails. libp2p's ping service (`@libp2p/ping`, the
 *   libp2p ping protocol under our prefix: 32 random bytes echoed) answers those pings and measures one round
 *   trip on demand for `ping`. Its handler takes at most 4 inbound ping streams per connection and aborts a
 *   ping stream still open after `dialTimeoutMs`; only configured peers get a connection to open one on.
 * - Start: `prepareHost` registers every handler without listening; `start` listens. The daemon registers its
 *   services in between, so nothing arrives before they can take it (libp2p starts the ping service, which
 *   registers its handler, before its transports listen).
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Connection, ConnectionGater, PeerId, PrivateKey, Stream } from '@libp2p/interface';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { FrostnetError } from '../../protocol/errors.ts';
import type { Logger } from '../ops/log.ts';
import type { Counter, Registry } from '../ops/metrics.ts';
import { listenFailure } from '../storage/bind-check.ts';
import { parsePeerId, peerIdOf } from '../storage/identity.ts';
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeEnvelope,
  type Envelope,
  encodeEnvelope,
  encodeFrame,
  FrameDecoder,
} from './wire.ts';

export const PROTOCOL = '/frostnet/1.0.0';
/** libp2p's connection monitor and ping service both speak `/${PING_PREFIX}/ping/1.0.0`. */
const PING_PREFIX = 'frostnet';
export const PING_PROTOCOL = `/${PING_PREFIX}/ping/1.0.0`;
/** Ping streams at a time per connection and direction: the monitor's and a few `ping` calls may overlap. */
const PING_STREAMS = 4;

export interface PeerInfo {
  /** Peer id string. */
  id: string;
  /** Multiaddrs to dial (a /p2p/<id> suffix is added when missing); empty for a peer that only dials in. */
  addrs: string[];
  /** Human name used in logs and error messages. */
  name?: string;
}

export interface HostOptions {
  privateKey: PrivateKey;
  /** Listen multiaddrs, e.g. ['/ip4/127.0.0.1/tcp/0']. */
  listen: string[];
  /** The other parties; the only peers allowed to connect. Our own id, if present, is ignored. */
  peers: PeerInfo[];
  /** Hard limit on one frame in both directions; default 1 MiB. */
  maxFrameBytes?: number;
  log: Logger;
  /** Called for every valid envelope, with `from` the authenticated peer (== env.sender). Must not block. */
  onEnvelope: (env: Envelope, from: string) => void;
  /** Bound on dialing and opening a stream, and on an inbound ping stream's life; default 5000 ms. */
  dialTimeoutMs?: number;
  /** Bound on waiting for a peer to accept more data (backpressure); default 10000 ms. */
  sendTimeoutMs?: number;
  /** Redial backoff: first retry after minDelayMs (default 250), doubling up to maxDelayMs (default 4000). */
  redial?: { minDelayMs?: number; maxDelayMs?: number };
  /** Registers frostnet_envelopes_*, frostnet_outbound_streams_opened_total and frostnet_connected_peers. */
  metrics?: Registry;
  /**
   * How often libp2p's connection monitor pings each connection (its round trip is `rtt`) and closes one that
   * does not answer; libp2p's default (10 s) unless a test needs it sooner.
   */
  pingIntervalMs?: number;
}

export interface Host {
  readonly peerId: string;
  /** Listening addresses, each ending in /p2p/<peerId>. */
  addrs(): string[];
  /**
   * Queues `env` on the persistent stream to `to` (dialing if needed) and resolves once the stream took it,
   * which is not a delivery receipt. Throws INVALID_INPUT (unknown peer, bad envelope, sender not us, too
   * big), UNREACHABLE (cannot connect; names the peer) or TIMEOUT (the peer stopped reading).
   */
  send(to: string, env: Envelope): Promise<void>;
  /**
   * One round trip to a configured peer in whole ms (libp2p's ping service measures it), dialing its addresses
   * if it is not connected: UNREACHABLE, TIMEOUT (default timeout: dialTimeoutMs) or, for an echo that is not
   * the probe, INVALID_INPUT, each naming the peer.
   */
  ping(to: string, opts?: { timeoutMs?: number }): Promise<number>;
  /** The round trip the connection monitor last measured on the open connection to `peer`, in ms. */
  rtt(peer: string): number | undefined;
  /** Configured peers with an open connection right now. */
  connected(): string[];
  /**
   * Calls `listener` each time the last connection to a peer closes (it crashed, restarted or left the
   * network): whoever waits for that peer's answer need not wait for a timeout. Returns the unsubscribe.
   */
  onDisconnect(listener: (peer: string) => void): () => void;
  /** Replaces the peer list: removed peers are disconnected and refused from now on; new ones are dialed. */
  setPeers(peers: PeerInfo[]): void;
  /** Starts listening and dialing the peers (once every handler is registered); CONFLICT if the address is taken. */
  start(): Promise<void>;
  /** Stops listening and closes every connection. */
  stop(): Promise<void>;
}

interface KnownPeer {
  id: string;
  peerId: PeerId;
  /** The configured name, if any. */
  name?: string;
  /** "name (id)" or the id, for messages. */
  label: string;
  addrs: Multiaddr[];
}

interface HostCounters {
  received: Counter;
  dropped: Counter;
  sent: Counter;
  streams: Counter;
}

/** A host listening at once: prepareHost, then start. */
export async function createHost(opts: HostOptions): Promise<Host> {
  const host = await prepareHost(opts);
  await host.start();
  return host;
}

/** A host with every handler registered that does not listen yet: `start` does. */
export async function prepareHost(opts: HostOptions): Promise<Host> {
  const self = peerIdOf(opts.privateKey);
  const maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const dialTimeoutMs = opts.dialTimeoutMs ?? 5000;
  const sendTimeoutMs = opts.sendTimeoutMs ?? 10_000;
  const log = opts.log.child({ component: 'host', self });
  let peers = parsePeers(opts.peers, self);
  if (!Array.isArray(opts.listen) || opts.listen.length === 0) {
    throw new FrostnetError('INVALID_INPUT', 'the host needs at least one listen address');
  }
  for (const a of opts.listen) parseMultiaddr(a, 'listen address');
  let stopped = false;

  const known = (id: string): KnownPeer | undefined => peers.get(id);
  const allowed = (peer: PeerId): boolean => peers.has(peer.toString());

  const node = await createLibp2p({
    privateKey: opts.privateKey,
    start: false,
    addresses: { listen: opts.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: createGater(allowed, log),
    connectionManager: {
      dialTimeout: dialTimeoutMs,
      // Parties often share one IP (tests, one machine per operator); room for all of them to (re)connect.
      inboundConnectionThreshold: 5 + 2 * peers.size,
    },
    connectionMonitor: {
      protocolPrefix: PING_PREFIX,
      ...(opts.pingIntervalMs === undefined ? {} : { pingInterval: opts.pingIntervalMs }),
    },
    services: {
      ping: ping({
        protocolPrefix: PING_PREFIX,
        maxInboundStreams: PING_STREAMS,
        maxOutboundStreams: PING_STREAMS,
        // Bounds an inbound ping stream's life, so a peer cannot keep one echoing bulk data.
        timeout: dialTimeoutMs,
        // There are no relays (the gate refuses them), so no limited connections: none is wanted.
        runOnLimitedConnection: false,
      }),
    },
    nodeInfo: { name: 'frostnet', version: '1' },
  });

  const counters = opts.metrics ? registerMetrics(opts.metrics, () => connected()) : undefined;

  const connected = (): string[] => {
    const ids = new Set<string>();
    for (const c of node.getConnections()) {
      const id = c.remotePeer.toString();
      if (c.status === 'open' && peers.has(id)) ids.add(id);
    }
    return [...ids];
  };

  /** An open connection to `peer`, dialing its configured addresses when there is none. */
  const connectionTo = async (peer: KnownPeer, signal: AbortSignal): Promise<Connection> => {
    const open = node.getConnections(peer.peerId).find((c) => c.status === 'open');
    if (open) return open;
    if (peer.addrs.length === 0) throw new Error('no address is configured and it is not connected');
    return node.dial(peer.addrs, { signal });
  };

  const unreachable = (peer: KnownPeer, e: unknown): FrostnetError =>
    e instanceof FrostnetError
      ? e
      : new FrostnetError('UNREACHABLE', `peer ${peer.label} is unreachable: ${reason(e)}`, [peer.id]);

  const outbound = new OutboundStreams(async (id) => {
    const peer = known(id);
    if (!peer) throw new FrostnetError('INVALID_INPUT', `${id} is not a configured peer`);
    const signal = AbortSignal.timeout(dialTimeoutMs);
    try {
      const conn = await connectionTo(peer, signal);
      const stream = await conn.newStream(PROTOCOL, { signal });
      counters?.streams.inc();
      // We never read this direction; discarding stops a peer from making us buffer what it writes here.
      stream.addEventListener('message', () => {});
      return stream;
    } catch (e) {
      throw unreachable(peer, e);
    }
  });

  const redialer = new Redialer({
    log,
    minDelayMs: opts.redial?.minDelayMs ?? 250,
    maxDelayMs: opts.redial?.maxDelayMs ?? 4000,
    needsDial: (id) => !stopped && peers.has(id) && !connected().includes(id),
    dial: async (id) => {
      const peer = known(id);
      if (peer) await connectionTo(peer, AbortSignal.timeout(dialTimeoutMs));
    },
  });

  // ------------------------------------------------------------------ inbound envelopes
  const drop = (from: string, why: string, kind: 'frame' | 'envelope' | 'sender' | 'peer' | 'handler') => {
    counters?.dropped.inc({ reason: kind });
    log.warn('dropped inbound message', { peer: from, name: known(from)?.name, reason: why });
  };

  const onFrame = (from: string, frame: Uint8Array) => {
    // A peer removed by setPeers may still have a stream open until its connection is gone.
    if (!peers.has(from)) {
      drop(from, 'not a configured peer (any more)', 'peer');
      return;
    }
    let env: Envelope;
    try {
      env = decodeEnvelope(frame, { maxBytes: maxFrameBytes, from });
    } catch (e) {
      drop(from, reason(e), 'envelope');
      return;
    }
    if (env.sender !== from) {
      drop(from, `sender field ${JSON.stringify(env.sender)} is not the authenticated peer`, 'sender');
      return;
    }
    counters?.received.inc({ ceremony: env.ceremony });
    try {
      opts.onEnvelope(env, from);
    } catch (e) {
      // A failing consumer must not take the stream (and every later message on it) down.
      drop(from, `envelope handler threw: ${reason(e)}`, 'handler');
    }
  };

  await node.handle(
    PROTOCOL,
    (stream, connection) => {
      const from = connection.remotePeer.toString();
      if (!peers.has(from)) {
        log.warn('refused stream from an unknown peer', { peer: from });
        stream.abort(new Error('not a configured peer'));
        return;
      }
      const decoder = new FrameDecoder(maxFrameBytes, from);
      // The sender closed its end (it is reopening or leaving): close ours so the stream is released.
      stream.addEventListener('remoteCloseWrite', () => {
        stream.close().catch(() => {});
      });
      stream.addEventListener('message', (evt) => {
        try {
          decoder.push(chunkBytes(evt.data), (frame) => onFrame(from, frame));
        } catch (e) {
          // The framing is lost: nothing later on this stream can be trusted. The sender reopens.
          drop(from, reason(e), 'frame');
          stream.abort(e instanceof Error ? e : new Error(String(e)));
        }
      });
    },
    { maxInboundStreams: 8, maxOutboundStreams: 8 },
  );

  node.addEventListener('peer:connect', (evt) => {
    const id = evt.detail.toString();
    log.debug('peer connected', { peer: id, name: known(id)?.name });
  });
  const disconnectListeners = new Set<(peer: string) => void>();
  node.addEventListener('peer:disconnect', (evt) => {
    const id = evt.detail.toString();
    log.debug('peer disconnected', { peer: id, name: known(id)?.name });
    outbound.drop(id);
    redialer.kick(id);
    for (const listener of disconnectListeners) {
      try {
        listener(id);
      } catch (e) {
        log.warn('disconnect listener threw', { peer: id, reason: reason(e) });
      }
    }
  });

  const host: Host = {
    async start() {
      if (stopped) throw new FrostnetError('INTERNAL', 'the host is stopped');
      try {
        await node.start();
      } catch (e) {
        await Promise.resolve(node.stop()).catch(() => {});
        throw await listenFailure(e, opts.listen);
      }
      log.info('host started', { addrs: node.getMultiaddrs().map(String), peers: peers.size });
      redialer.setPeers([...peers.keys()]);
    },
    peerId: self,
    addrs: () => node.getMultiaddrs().map(String),
    connected,
    onDisconnect(listener) {
      disconnectListeners.add(listener);
      return () => disconnectListeners.delete(listener);
    },

    async send(to, env) {
      if (stopped) throw new FrostnetError('INTERNAL', 'the host is stopped');
      const peer = known(to);
      if (!peer) throw new FrostnetError('INVALID_INPUT', `cannot send to ${to}: not a configured peer`);
      if (env.sender !== self) {
        throw new FrostnetError('INVALID_INPUT', `envelope sender ${env.sender} is not this node (${self})`);
      }
      const frame = encodeFrame(encodeEnvelope(env), maxFrameBytes);
      // A stream that broke since it was cached gets one fresh replacement.
      for (let attempt = 0; ; attempt++) {
        const stream = await outbound.get(to);
        const drained = AbortSignal.timeout(sendTimeoutMs);
        try {
          if (!stream.send(frame)) await stream.onDrain({ signal: drained });
          counters?.sent.inc({ ceremony: env.ceremony });
          return;
        } catch (e) {
          outbound.drop(to, stream);
          if (drained.aborted) {
            stream.abort(new Error('send timed out'));
            throw new FrostnetError('TIMEOUT', `peer ${peer.label} stopped reading (${sendTimeoutMs} ms)`, [
              to,
            ]);
          }
          if (attempt >= 1) throw unreachable(peer, e);
          log.debug('outbound stream broke, reopening', { peer: to, reason: reason(e) });
        }
      }
    },

    async ping(to, pingOpts = {}) {
      if (stopped) throw new FrostnetError('INTERNAL', 'the host is stopped');
      const peer = known(to);
      if (!peer) throw new FrostnetError('INVALID_INPUT', `cannot ping ${to}: not a configured peer`);
      const timeoutMs = pingOpts.timeoutMs ?? dialTimeoutMs;
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const conn = await connectionTo(peer, signal);
        // Given the peer id, the service opens its stream on the open connection to it.
        return await node.services.ping.ping(conn.remotePeer, { signal });
      } catch (e) {
        if (signal.aborted) {
          throw new FrostnetError(
            'TIMEOUT',
            `peer ${peer.label} did not answer a ping within ${timeoutMs} ms`,
            [to],
          );
        }
        // The service's ProtocolError: the echo was not the bytes sent.
        if (e instanceof Error && e.name === 'ProtocolError') {
          throw new FrostnetError('INVALID_INPUT', `peer ${peer.label} answered a ping wrongly`, [to]);
        }
        throw unreachable(peer, e);
      }
    },

    setPeers(next) {
      const parsed = parsePeers(next, self);
      const removed = [...peers.keys()].filter((id) => !parsed.has(id));
      peers = parsed;
      for (const id of removed) {
        outbound.drop(id);
        const peerId = parsePeerId(id);
        node.hangUp(peerId).catch((e) => log.warn('hang up failed', { peer: id, reason: reason(e) }));
      }
      redialer.setPeers([...peers.keys()]);
      log.info('peer list updated', { peers: peers.size, removed });
    },

    rtt(id) {
      const peer = known(id);
      return (
        peer && node.getConnections(peer.peerId).find((c) => c.status === 'open' && c.rtt !== undefined)?.rtt
      );
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      redialer.stop();
      outbound.clear();
      await node.stop();
      log.info('host stopped');
    },
  };
  return host;
}

// -----------------------------------------------------------------------------------------------------------
// Components

function createGater(allowed: (peer: PeerId) => boolean, log: Logger): ConnectionGater {
  const deny = (direction: string) => (peer: PeerId) => {
    if (allowed(peer)) return false;
    log.warn('connection refused at the gate: not a configured peer', { peer: peer.toString(), direction });
    return true;
  };
  return {
    denyDialPeer: (peer) => !allowed(peer),
    denyInboundEncryptedConnection: deny('inbound'),
    denyOutboundEncryptedConnection: deny('outbound'),
    denyInboundUpgradedConnection: (peer) => !allowed(peer),
    denyOutboundUpgradedConnection: (peer) => !allowed(peer),
    // No relaying of any kind.
    denyInboundRelayReservation: () => true,
    denyOutboundRelayedConnection: () => true,
    denyInboundRelayedConnection: () => true,
  };
}

/** One persistent stream per peer; concurrent callers share one pending open; a closed stream is forgotten. */
class OutboundStreams {
  readonly #open: (id: string) => Promise<Stream>;
  readonly #streams = new Map<string, Stream>();
  readonly #pending = new Map<string, Promise<Stream>>();

  constructor(open: (id: string) => Promise<Stream>) {
    this.#open = open;
  }

  get(id: string): Promise<Stream> {
    const current = this.#streams.get(id);
    if (current !== undefined) {
      if (current.status === 'open' && current.writeStatus === 'writable') return Promise.resolve(current);
      this.drop(id, current);
    }
    return this.#pending.get(id) ?? this.#start(id);
  }

  #start(id: string): Promise<Stream> {
    const pending = this.#open(id).then(
      (stream) => {
        this.#pending.delete(id);
        this.#streams.set(id, stream);
        stream.addEventListener('close', () => this.drop(id, stream));
        return stream;
      },
      (e: unknown) => {
        this.#pending.delete(id);
        throw e;
      },
    );
    this.#pending.set(id, pending);
    return pending;
  }

  /** Closes `stream` (default: the current one of `id`), and forgets it if it is the current one. */
  drop(id: string, stream?: Stream): void {
    const current = this.#streams.get(id);
    const target = stream ?? current;
    if (target === undefined) return;
    if (target === current) this.#streams.delete(id);
    if (target.status === 'open')
      target.close().catch((e) => target.abort(e instanceof Error ? e : new Error(String(e))));
  }

  clear(): void {
    for (const id of [...this.#streams.keys()]) this.drop(id);
  }
}

interface RedialerOptions {
  log: Logger;
  minDelayMs: number;
  maxDelayMs: number;
  needsDial: (id: string) => boolean;
  dial: (id: string) => Promise<void>;
}

/** Keeps configured peers connected: dials those without a connection, backing off exponentially. */
class Redialer {
  readonly #o: RedialerOptions;
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #delays = new Map<string, number>();
  #ids = new Set<string>();
  #stopped = false;

  constructor(o: RedialerOptions) {
    this.#o = o;
  }

  setPeers(ids: string[]): void {
    this.#ids = new Set(ids);
    for (const id of [...this.#timers.keys()]) if (!this.#ids.has(id)) this.#cancel(id);
    for (const id of ids) if (!this.#timers.has(id)) this.#schedule(id, 0);
  }

  /** A peer went away: try again soon, with its backoff reset. */
  kick(id: string): void {
    if (this.#stopped || !this.#ids.has(id)) return;
    this.#delays.delete(id);
    this.#cancel(id);
    this.#schedule(id, this.#o.minDelayMs);
  }

  stop(): void {
    this.#stopped = true;
    for (const id of [...this.#timers.keys()]) this.#cancel(id);
  }

  #cancel(id: string): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  #schedule(id: string, delayMs: number): void {
    if (this.#stopped) return;
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      void this.#attempt(id);
    }, delayMs);
    // Redialing alone must not keep a process alive.
    timer.unref();
    this.#timers.set(id, timer);
  }

  async #attempt(id: string): Promise<void> {
    if (this.#stopped || !this.#ids.has(id)) return;
    if (!this.#o.needsDial(id)) {
      this.#delays.delete(id);
      return;
    }
    try {
      await this.#o.dial(id);
      this.#delays.delete(id);
      this.#o.log.debug('redialed peer', { peer: id });
    } catch (e) {
      const previous = this.#delays.get(id);
      const delay = previous === undefined ? this.#o.minDelayMs : Math.min(previous * 2, this.#o.maxDelayMs);
      this.#delays.set(id, delay);
      this.#o.log.debug('redial failed', { peer: id, reason: reason(e), retryMs: delay });
      if (!this.#timers.has(id)) this.#schedule(id, delay * (0.75 + Math.random() / 2));
    }
  }
}

// -----------------------------------------------------------------------------------------------------------
// Helpers

function parsePeers(list: PeerInfo[], self: string): Map<string, KnownPeer> {
  if (!Array.isArray(list)) throw new FrostnetError('INVALID_INPUT', 'peers must be an array');
  const out = new Map<string, KnownPeer>();
  for (const p of list) {
    const peerId = parsePeerId(p?.id, 'peers[].id');
    const id = peerId.toString();
    if (id === self) continue;
    if (!Array.isArray(p.addrs))
      throw new FrostnetError('INVALID_INPUT', `peer ${id}: addrs must be an array`);
    const addrs = p.addrs.map((a) => {
      const ma = parseMultiaddr(a, `peer ${id} address`);
      const p2p = ma.getComponents().find((c) => c.name === 'p2p')?.value;
      if (p2p === undefined) return ma.encapsulate(`/p2p/${id}`);
      if (p2p !== id) throw new FrostnetError('INVALID_INPUT', `peer ${id}: address ${a} names another peer`);
      return ma;
    });
    out.set(id, { id, peerId, addrs, name: p.name, label: p.name ? `${p.name} (${id})` : id });
  }
  return out;
}

function parseMultiaddr(a: string, what: string): Multiaddr {
  try {
    return multiaddr(a);
  } catch {
    throw new FrostnetError('INVALID_INPUT', `${what} ${JSON.stringify(a)} is not a multiaddr`);
  }
}

function registerMetrics(metrics: Registry, connected: () => string[]): HostCounters {
  metrics.gauge({
    name: 'frostnet_connected_peers',
    help: 'Configured peers with an open connection.',
    collect: (g) => g.set(undefined, connected().length),
  });
  return {
    received: metrics.counter({
      name: 'frostnet_envelopes_received_total',
      help: 'Valid envelopes received.',
      labelNames: ['ceremony'],
    }),
    sent: metrics.counter({
      name: 'frostnet_envelopes_sent_total',
      help: 'Envelopes handed to a peer stream.',
      labelNames: ['ceremony'],
    }),
    streams: metrics.counter({
      name: 'frostnet_outbound_streams_opened_total',
      help: 'Persistent envelope streams opened to peers (one per peer unless they break).',
    }),
    dropped: metrics.counter({
      name: 'frostnet_envelopes_dropped_total',
      help: 'Inbound frames or envelopes dropped, by reason.',
      labelNames: ['reason'],
    }),
  };
}

/** Stream chunks are Uint8Array or a Uint8ArrayList (whose subarray() copies it into one array). */
function chunkBytes(data: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray();
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
