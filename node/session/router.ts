/**
 * Routes inbound envelopes to the session they belong to. A message that opens a session (an invite, a sign
 * request, a status query) goes to the opener registered for its ceremony; a message for a session not open
 * yet (it raced its invite) waits in a buffer bounded by bytes and count, overall and per peer
 * (early-messages.ts); a message for a finished session is dropped as late; a replayed opener for a session id
 * already seen is dropped as a replay.
 *
 * Only a ceremony whose sessions another party opens with an invite can see messages race ahead of their
 * session: the other participants' rounds may overtake the initiator's invite. Every other message for no
 * session (a signing package, an answer this party never asked for) is dropped at once, never buffered.
 */
import { bytesToHex } from '../../protocol/curve.ts';
import { errorMessage, FrostnetError } from '../../protocol/errors.ts';
import type { Logger } from '../ops/log.ts';
import type { Ceremony, Envelope } from '../transport/wire.ts';
import { type EarlyLimits, EarlyMessages } from './early-messages.ts';
import { ROUND } from './messages.ts';

export interface Session {
  receive(env: Envelope, from: string): void;
}

/** Opens a session for an opening envelope, or throws a typed error to refuse it. */
export type Opener = (env: Envelope, from: string) => Session | undefined;

const MAX_REMEMBERED = 65_536;

export type RouterOptions = {
  now?: () => number;
  /** How many peers may send (the configured ones): each gets an even share of the early-message buffer. */
  peers?: () => number;
  earlyLimits?: Partial<EarlyLimits>;
};

export class Router {
  private readonly sessions = new Map<string, Session>();
  private readonly openers = new Map<string, Opener>();
  /** Ceremonies whose sessions open by another party's invite: the only ones whose messages may come early. */
  private readonly invited = new Set<Ceremony>();
  readonly early: EarlyMessages;
  /** Session keys seen (open or finished), oldest first, so replays and late messages are recognised. */
  private readonly seen = new Set<string>();
  private readonly log: Logger;

  constructor(log: Logger, o: RouterOptions = {}) {
    this.log = log.child({ component: 'router' });
    this.early = new EarlyMessages({ now: o.now, peers: o.peers, limits: o.earlyLimits });
  }

  static key(ceremony: Ceremony, sessionId: Uint8Array): string {
    return `${ceremony}:${bytesToHex(sessionId)}`;
  }

  /** `open` handles envelopes of `ceremony` at `round` that belong to no session. */
  onOpen(ceremony: Ceremony, round: number, open: Opener): void {
    this.openers.set(`${ceremony}:${round}`, open);
    if (round === ROUND.session.invite) this.invited.add(ceremony);
  }

  /** Registers a session this party started; queued early messages are delivered to it. */
  add(ceremony: Ceremony, sessionId: Uint8Array, session: Session): void {
    const key = Router.key(ceremony, sessionId);
    if (this.seen.has(key)) throw new FrostnetError('CONFLICT', 'session id already used');
    this.remember(key);
    this.sessions.set(key, session);
    for (const q of this.early.take(key)) this.deliver(session, q.env, q.from);
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
        this.drop(env, from, errorMessage(e));
        return;
      }
      if (opened) this.add(env.ceremony, env.sessionId, opened);
      else this.remember(key);
      return;
    }
    if (this.seen.has(key)) this.drop(env, from, 'late message for a finished session');
    else if (!this.invited.has(env.ceremony)) this.drop(env, from, 'message for no session');
    else {
      const refused = this.early.hold(key, env, from);
      if (refused) this.drop(env, from, refused);
    }
  }

  private deliver(session: Session, env: Envelope, from: string): void {
    try {
      session.receive(env, from);
    } catch (e) {
      this.drop(env, from, errorMessage(e));
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
