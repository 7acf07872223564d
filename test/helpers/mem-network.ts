/**
 * N parties' services (router, signer, coordinator, key ceremonies, repairs) wired in one process, with no
 * libp2p and no disk: every envelope goes through one in-memory link, and each party's store is a Map. The
 * link takes a tamper hook like test/helpers/router.ts (rewrite, drop or duplicate what one party sends) and
 * can hold back chosen envelopes until the test releases them, so a unit test can drive interleavings a
 * process test cannot reach: a message before its session, an abort in the middle of settlement, two
 * ceremonies of one key at once. Delivery is asynchronous and in order per link, as on one stream.
 */
import type { PrivateKey } from '@libp2p/interface';
import type { RNG } from '@noble/curves/abstract/frost.js';
import { KeyCeremonies } from '../../node/ceremonies/key-ceremonies.ts';
import { proposalApprover } from '../../node/ceremonies/proposals.ts';
import { Repairs } from '../../node/ceremonies/repair.ts';
import { nullLogger } from '../../node/ops/log.ts';
import { Router } from '../../node/session/router.ts';
import { Coordinator } from '../../node/signing/coordinator.ts';
import { allowAll, type Policy, Signer } from '../../node/signing/signer.ts';
import { generateIdentity, identitySignatures, peerIdOf } from '../../node/storage/identity.ts';
import { KeyStore } from '../../node/storage/keystore.ts';
import type { RecordKind, Store, StoreOp } from '../../node/storage/store.ts';
import type { Envelope } from '../../node/transport/wire.ts';
import { FrostnetError } from '../../protocol/errors.ts';

// ------------------------------------------------------------------------------------------------ the store

/** The Store interface over a Map: records are kept as given (JSON copies for public ones), never sealed. */
export class MemStore implements Store {
  readonly dir = ':memory:';
  private readonly records = new Map<string, { kind: RecordKind; value: unknown }>();
  private closed = false;

  private key = (kind: RecordKind, name: string) => `${kind === 'secret' ? 's' : 'p'}:${name}`;

  private check(): void {
    if (this.closed) throw new Error('the store is closed');
  }

  async getSecret(name: string): Promise<Uint8Array | undefined> {
    this.check();
    const v = this.records.get(this.key('secret', name))?.value as Uint8Array | undefined;
    return v && Uint8Array.from(v);
  }

  async putSecret(name: string, value: Uint8Array): Promise<void> {
    await this.batch([{ type: 'putSecret', name, value }]);
  }

  async getPublic<T = unknown>(name: string): Promise<T | undefined> {
    this.check();
    const v = this.records.get(this.key('public', name));
    return v && (JSON.parse(v.value as string) as T);
  }

  async putPublic(name: string, value: unknown): Promise<void> {
    await this.batch([{ type: 'putPublic', name, value }]);
  }

  async del(kind: RecordKind, name: string): Promise<void> {
    await this.batch([{ type: 'del', kind, name }]);
  }

  async list(prefix = ''): Promise<Array<{ name: string; kind: RecordKind }>> {
    this.check();
    return [...this.records.entries()]
      .map(([k, r]) => ({ name: k.slice(2), kind: r.kind }))
      .filter((r) => r.name.startsWith(prefix))
      .sort((a, b) => (a.name === b.name ? (a.kind === 'secret' ? -1 : 1) : a.name < b.name ? -1 : 1));
  }

  async batch(ops: readonly StoreOp[]): Promise<void> {
    this.check();
    for (const op of ops) {
      if (op.type === 'putSecret')
        this.records.set(this.key('secret', op.name), { kind: 'secret', value: Uint8Array.from(op.value) });
      else if (op.type === 'putPublic')
        this.records.set(this.key('public', op.name), { kind: 'public', value: JSON.stringify(op.value) });
      else this.records.delete(this.key(op.kind, op.name));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

// ------------------------------------------------------------------------------------------------- the link

export type Delivery = { from: string; to: string; env: Envelope };
/** Returns what to deliver instead of `d` (empty to drop it). */
export type Tamper = (d: Delivery) => Delivery[];

export type MemParty = {
  index: number;
  id: string;
  identity: PrivateKey;
  store: Store;
  keys: KeyStore;
  router: Router;
  signer: Signer;
  coordinator: Coordinator;
  ceremonies: KeyCeremonies;
  repairs: Repairs;
  /** Sends as this party over the in-memory link. */
  send: (to: string, env: Envelope) => Promise<void>;
};

export type MemNetworkOptions = {
  roundTimeoutMs?: number;
  policy?: (index: number) => Policy;
  /**
   * The parties to run, each an identity and the store it is kept in (a party's data dir opened from disk);
   * default: `n` new identities, each with an empty MemStore.
   */
  members?: readonly { identity: PrivateKey; store: Store }[];
  /** Every party's one clock, as the daemon gives it to each service; Date.now by default. */
  clock?: () => number;
  /** Each party's ceremony randomness (KeyCeremonies and Repairs); cryptographic by default. */
  rng?: (index: number) => RNG;
};

export class MemNetwork {
  readonly parties: MemParty[] = [];
  /** Applied to every envelope sent; the identity by default. */
  tamper: Tamper = (d) => [d];
  private readonly held: { when: (d: Delivery) => boolean; queue: Delivery[] }[] = [];
  /** One chain per link (from → to): envelopes on a link arrive in the order they were sent. */
  private readonly links = new Map<string, Promise<void>>();
  /** Envelopes delivered, in order, for assertions on what went over the wire. */
  readonly delivered: Delivery[] = [];
  /** Each party's listeners for lost connections, by party id (a daemon's host.onDisconnect). */
  private readonly lostListeners = new Map<string, Set<(party: string) => void>>();
  /** The services' timers are unref'd (a daemon's host keeps the process up); this one stands in for it. */
  private readonly alive = setInterval(() => {}, 1000);

  /** Lets the process exit: call it when the test is done with the network. */
  close(): void {
    clearInterval(this.alive);
  }

  static async create(n: number, o: MemNetworkOptions = {}): Promise<MemNetwork> {
    const net = new MemNetwork();
    try {
      await net.join(n, o);
      return net;
    } catch (e) {
      net.close();
      throw e;
    }
  }

  /** Constructs the `n` parties' services and wires them to this network. */
  private async join(n: number, o: MemNetworkOptions): Promise<void> {
    if (o.members && o.members.length !== n)
      throw new Error(`${o.members.length} members given for a network of ${n}`);
    const members =
      o.members ??
      (await Promise.all(
        Array.from({ length: n }, async () => ({
          identity: await generateIdentity(),
          store: new MemStore(),
        })),
      ));
    const ids = members.map((m) => peerIdOf(m.identity));
    for (const [index, { identity, store }] of members.entries()) {
      const id = peerIdOf(identity);
      const keys = await KeyStore.open(store);
      const clock = o.clock ?? Date.now;
      const rng = o.rng?.(index);
      const router = new Router(nullLogger, { peers: () => n - 1, now: clock });
      const send = (to: string, env: Envelope) => this.send(id, to, env);
      const peers = () => ids.filter((p) => p !== id);
      const roundTimeoutMs = o.roundTimeoutMs ?? 5000;
      const signer = new Signer({
        self: id,
        keys,
        router,
        send,
        policy: o.policy?.(index) ?? allowAll,
        sessionTtlMs: roundTimeoutMs * 2,
        maxSessionsPerPeer: 64,
        log: nullLogger,
        clock,
      });
      const coordinator = new Coordinator({
        self: id,
        keys,
        signer,
        router,
        send,
        rank: (p) => [...p],
        roundTimeoutMs,
        log: nullLogger,
        clock,
      });
      const ceremonies = new KeyCeremonies({
        self: id,
        keys,
        router,
        send,
        signatures: identitySignatures(identity),
        approve: proposalApprover({ sign: (name, opts) => coordinator.sign(name, opts), clock }),
        peers,
        roundTimeoutMs,
        log: nullLogger,
        clock,
        rng,
        onDisconnect: (listener) => this.onDisconnect(id, listener),
      });
      const repairs = new Repairs({
        self: id,
        clock,
        rng,
        keys,
        ceremonies,
        router,
        send,
        peers,
        roundTimeoutMs,
        log: nullLogger,
      });
      this.parties.push({
        index,
        id,
        identity,
        store,
        keys,
        router,
        signer,
        coordinator,
        ceremonies,
        repairs,
        send,
      });
    }
  }

  get ids(): string[] {
    return this.parties.map((p) => p.id);
  }

  party(id: string): MemParty {
    const p = this.parties.find((x) => x.id === id);
    if (!p) throw new Error(`no party ${id} on this network`);
    return p;
  }

  /**
   * Party `id`'s connections close, as when its process dies: every other party's onDisconnect listeners are
   * told (what it sends still goes over the wire: drop it with `tamper` to play it dead).
   */
  disconnect(id: string): void {
    for (const [at, listeners] of this.lostListeners)
      if (at !== id) for (const listener of listeners) listener(id);
  }

  /** Parties killed: what they send is lost, sending to them fails as unreachable. */
  private readonly dead = new Set<string>();

  /** Party `id` dies, as a killed daemon: its connections close and it is unreachable from now on. */
  kill(id: string): void {
    this.dead.add(id);
    this.disconnect(id);
  }

  private onDisconnect(at: string, listener: (party: string) => void): () => void {
    const listeners = this.lostListeners.get(at) ?? new Set();
    this.lostListeners.set(at, listeners);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /**
   * Holds back every envelope `when` matches (after tampering) until the returned release is called, which
   * delivers them in the order they were sent. Later envelopes on the same link are not held behind them.
   */
  hold(when: (d: Delivery) => boolean): { count: () => number; release: () => void } {
    const h = { when, queue: [] as Delivery[] };
    this.held.push(h);
    return {
      count: () => h.queue.length,
      release: () => {
        this.held.splice(this.held.indexOf(h), 1);
        for (const d of h.queue.splice(0)) this.deliver(d);
      },
    };
  }

  private async send(from: string, to: string, env: Envelope): Promise<void> {
    if (!this.parties.some((p) => p.id === to)) throw new Error(`${to} is not on this network`);
    if (this.dead.has(from)) return;
    if (this.dead.has(to)) throw new FrostnetError('UNREACHABLE', `peer ${to} is unreachable: killed`, [to]);
    for (const d of this.tamper({ from, to, env })) {
      const h = this.held.find((x) => x.when(d));
      if (h) h.queue.push(d);
      else this.deliver(d);
    }
  }

  private deliver(d: Delivery): void {
    const link = `${d.from}>${d.to}`;
    const target = this.party(d.to);
    const next = (this.links.get(link) ?? Promise.resolve()).then(async () => {
      // A macrotask per envelope: the sender's own work runs on before anything arrives, as over a socket.
      await new Promise<void>((r) => setImmediate(r));
      this.delivered.push(d);
      target.router.dispatch(d.env, d.from);
    });
    this.links.set(link, next);
  }

  /**
   * Settles until `done()` holds. A party's last step may outlast a quiet wire: with a store on disk, its write
   * completes on the thread pool, later than any number of turns of this event loop when the machine is busy.
   */
  async settleUntil(done: () => boolean, what: string): Promise<void> {
    for (let tries = 0; !done(); tries++) {
      if (tries === 1000) throw new Error(`the network settled, but never with ${what}`);
      await this.settle();
      await new Promise<void>((r) => setTimeout(r, 10));
    }
  }

  /** Resolves once every envelope sent so far (and all they caused) has been delivered. */
  async settle(): Promise<void> {
    for (let quiet = 0; quiet < 3; ) {
      const before = this.delivered.length;
      await Promise.all(this.links.values());
      await new Promise<void>((r) => setImmediate(r));
      quiet = this.delivered.length === before ? quiet + 1 : 0;
    }
  }
}
