/**
 * Routes inbound envelopes to the session they belong to. A message that opens a session (an invite, a sign
 * request, a status query) goes to the opener registered for its ceremony; a message for a session not open
 * yet (it raced its invite) waits in a small bounded buffer; a message for a finished session is dropped as
 * late; a replayed opener for a session id already seen is dropped as a replay.
 */
import { bytesToHex } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import type { Logger } from '../ops/log.ts';
import type { Ceremony, Envelope } from '../transport/wire.ts';

export interface Session {
  receive(env: Envelope, from: string): void;
}

/** Opens a session for an opening envelope, or throws a typed error to refuse it. */
export type Opener = (env: Envelope, from: string) => Session | undefined;

const EARLY_TTL_MS = 10_000;
const MAX_EARLY = 4096;
const MAX_REMEMBERED = 65_536;

export class Router {
  private readonly sessions = new Map<string, Session>();
  private readonly openers = new Map<string, Opener>();
  private readonly early = new Map<string, { env: Envelope; from: string; at: number }[]>();
  private earlyCount = 0;
  /** Session keys seen (open or finished), oldest first, so replays and late messages are recognised. */
  private readonly seen = new Set<string>();
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(log: Logger, now: () => number = Date.now) {
    this.log = log.child({ component: 'router' });
    this.now = now;
  }

  static key(ceremony: Ceremony, sessionId: Uint8Array): string {
    return `${ceremony}:${bytesToHex(sessionId)}`;
  }

  /** `open` handles envelopes of `ceremony` at `round` that belong to no session. */
  onOpen(ceremony: Ceremony, round: number, open: Opener): void {
    this.openers.set(`${ceremony}:${round}`, open);
  }

  /** Registers a session this party started; queued early messages are delivered to it. */
  add(ceremony: Ceremony, sessionId: Uint8Array, session: Session): void {
    const key = Router.key(ceremony, sessionId);
    if (this.seen.has(key)) throw new FrostnetError('CONFLICT', 'session id already used');
    this.remember(key);
    this.sessions.set(key, session);
    const queued = this.early.get(key) ?? [];
    this.early.delete(key);
    this.earlyCount -= queued.length;
    for (const q of queued) this.deliver(session, q.env, q.from);
  }

  /** Ends a session: later messages for it are dropped as late. */
  remove(ceremony: Ceremony, sessionId: Uint8Array): void {
    this.sessions.delete(Router.key(ceremony, sessionId));
  }

  get openSessions(): number {
    return this.sessions.size;
  }

  dispatch(env: Envelope, from: string): void {
    const key = Router.key(env.ceremony, env.sessionId);
    const session = this.sessions.get(key);
    if (session) {
      this.deliver(session, env, from);
      return;
    }
    const opener = this.openers.get(`${env.ceremony}:${env.round}`);
    if (opener) {
      if (this.seen.has(key)) {
        this.drop(env, from, 'replayed session opener');
        return;
      }
      let opened: Session | undefined;
      try {
        opened = opener(env, from);
      } catch (e) {
        // Remembered like a finished session: the same refused opener sent again is dropped unread.
        this.remember(key);
        this.drop(env, from, (e as Error).message);
        return;
      }
      if (opened) this.add(env.ceremony, env.sessionId, opened);
      else this.remember(key);
      return;
    }
    if (this.seen.has(key)) this.drop(env, from, 'late message for a finished session');
    else this.queueEarly(key, env, from);
  }

  private deliver(session: Session, env: Envelope, from: string): void {
    try {
      session.receive(env, from);
    } catch (e) {
      this.drop(env, from, (e as Error).message);
    }
  }

  private queueEarly(key: string, env: Envelope, from: string): void {
    this.expireEarly();
    if (this.earlyCount >= MAX_EARLY) {
      this.drop(env, from, 'early-message buffer full');
      return;
    }
    const list = this.early.get(key) ?? [];
    list.push({ env, from, at: this.now() });
    this.early.set(key, list);
    this.earlyCount++;
  }

  private expireEarly(): void {
    const cutoff = this.now() - EARLY_TTL_MS;
    for (const [key, list] of this.early) {
      const kept = list.filter((q) => q.at >= cutoff);
      this.earlyCount -= list.length - kept.length;
      if (kept.length) this.early.set(key, kept);
      else this.early.delete(key);
    }
  }

  private remember(key: string): void {
    this.seen.add(key);
    if (this.seen.size > MAX_REMEMBERED) this.seen.delete(this.seen.values().next().value as string);
  }

  private drop(env: Envelope, from: string, reason: string): void {
    this.log.warn('dropped message', { from, ceremony: env.ceremony, round: env.round, reason });
  }
}

/** Stands in for a session that cannot open yet: holds its messages until `attach` hands it the real one. */
export class DeferredSession implements Session {
  private held: { env: Envelope; from: string }[] = [];
  private real?: Session;

  receive(env: Envelope, from: string): void {
    if (this.real) this.real.receive(env, from);
    else if (this.held.length < 1024) this.held.push({ env, from });
  }

  attach(real: Session): void {
    this.real = real;
    for (const h of this.held.splice(0)) {
      try {
        real.receive(h.env, h.from);
      } catch {
        // A bad held message is dropped, as it would have been on arrival.
      }
    }
  }
}
