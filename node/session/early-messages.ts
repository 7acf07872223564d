/**
 * Messages that raced ahead of the session they belong to (a participant's round 1 arriving before the
 * initiator's invite), held until the session opens or they expire. The buffer is bounded by bytes and by count,
 * overall and per sending peer. Every configured peer gets the same share of the whole, so no peer, even one that
 * is a member of no key, can fill the buffer and crowd out another peer's early messages: a flood only ever
 * fills the flooder's own share.
 */
import type { Envelope } from '../transport/wire.ts';

export type EarlyLimits = {
  /** All held messages together, payload bytes plus `overheadBytes` each. */
  maxBytes: number;
  maxMessages: number;
  /** One peer's messages at most; lowered to an even share of `maxBytes` among the configured peers. */
  maxPeerBytes: number;
  /** Likewise for the count of one peer's messages. */
  maxPeerMessages: number;
  /** What one held message costs beside its payload (envelope, session id, bookkeeping). */
  overheadBytes: number;
  /** How long a message waits for its session. */
  ttlMs: number;
};

export const EARLY_LIMITS: Readonly<EarlyLimits> = Object.freeze({
  maxBytes: 32 * 1024 * 1024,
  maxMessages: 4096,
  maxPeerBytes: 4 * 1024 * 1024,
  maxPeerMessages: 256,
  overheadBytes: 512,
  ttlMs: 10_000,
});

export type EarlyOptions = {
  limits?: Partial<EarlyLimits>;
  now?: () => number;
  /** How many peers may send (the configured ones); their count sets each one's share. Default 1. */
  peers?: () => number;
};

type Held = { key: string; env: Envelope; from: string; at: number; bytes: number };
type Usage = { bytes: number; messages: number };

export class EarlyMessages {
  readonly limits: Readonly<EarlyLimits>;
  private readonly now: () => number;
  private readonly peers: () => number;
  private readonly bySession = new Map<string, Held[]>();
  /** Every held message, oldest first (a Set keeps insertion order and deletes in O(1)). */
  private readonly queue = new Set<Held>();
  private readonly perPeer = new Map<string, Usage>();
  private total: Usage = { bytes: 0, messages: 0 };
  private timer?: NodeJS.Timeout;

  constructor(o: EarlyOptions = {}) {
    this.limits = { ...EARLY_LIMITS, ...o.limits };
    this.now = o.now ?? Date.now;
    this.peers = o.peers ?? (() => 1);
  }

  /** Bytes held now (payloads plus overhead). */
  get bytes(): number {
    return this.total.bytes;
  }

  get messages(): number {
    return this.total.messages;
  }

  /** What one peer may hold at most: its even share of the whole, capped by the per-peer limits. */
  quota(): Usage {
    const peers = Math.max(1, this.peers());
    const l = this.limits;
    return {
      bytes: Math.min(l.maxPeerBytes, Math.floor(l.maxBytes / peers)),
      messages: Math.max(1, Math.min(l.maxPeerMessages, Math.floor(l.maxMessages / peers))),
    };
  }

  /** Holds `env` for session `key`; returns why it was refused, or undefined when it is held. */
  hold(key: string, env: Envelope, from: string): string | undefined {
    this.expire();
    const bytes = env.payload.byteLength + this.limits.overheadBytes;
    const used = this.perPeer.get(from) ?? { bytes: 0, messages: 0 };
    const quota = this.quota();
    if (used.bytes + bytes > quota.bytes || used.messages + 1 > quota.messages)
      return `early-message quota of this peer full (${quota.messages} messages, ${quota.bytes} bytes)`;
    if (this.total.bytes + bytes > this.limits.maxBytes || this.total.messages + 1 > this.limits.maxMessages)
      return 'early-message buffer full';
    // A copy, so that a held payload does not keep the whole frame it was decoded from alive.
    const held: Held = {
      key,
      env: { ...env, sessionId: env.sessionId.slice(), payload: env.payload.slice() },
      from,
      at: this.now(),
      bytes,
    };
    const list = this.bySession.get(key);
    if (list) list.push(held);
    else this.bySession.set(key, [held]);
    this.queue.add(held);
    this.account(held, +1);
    this.schedule();
    return undefined;
  }

  /** Removes and returns the messages held for session `key`, in arrival order. */
  take(key: string): { env: Envelope; from: string }[] {
    const list = this.bySession.get(key) ?? [];
    this.bySession.delete(key);
    for (const h of list) this.release(h);
    return list.map(({ env, from }) => ({ env, from }));
  }

  /** Frees every message older than the TTL. */
  expire(): void {
    const cutoff = this.now() - this.limits.ttlMs;
    for (const h of this.queue) {
      if (h.at >= cutoff) break;
      const list = this.bySession.get(h.key);
      const kept = list?.filter((x) => x !== h) ?? [];
      if (kept.length > 0) this.bySession.set(h.key, kept);
      else this.bySession.delete(h.key);
      this.release(h);
    }
  }

  private release(h: Held): void {
    if (this.queue.delete(h)) this.account(h, -1);
  }

  private account(h: Held, sign: 1 | -1): void {
    this.total = { bytes: this.total.bytes + sign * h.bytes, messages: this.total.messages + sign };
    const used = this.perPeer.get(h.from) ?? { bytes: 0, messages: 0 };
    const next = { bytes: used.bytes + sign * h.bytes, messages: used.messages + sign };
    if (next.messages > 0) this.perPeer.set(h.from, next);
    else this.perPeer.delete(h.from);
  }

  /** Frees expired messages even when nothing else arrives: one timer, for the oldest held message. */
  private schedule(): void {
    if (this.timer) return;
    const oldest = this.queue.values().next().value;
    if (!oldest) return;
    const wait = Math.min(this.limits.ttlMs, Math.max(0, oldest.at + this.limits.ttlMs - this.now())) + 1;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.expire();
      this.schedule();
    }, wait);
    this.timer.unref?.();
  }
}
