/**
 * The lifecycle every ceremony session shares (VssSession, RepairSession): a round timer, one settlement
 * (resolved or failed, once), a failure told to the other participants as an abort, and aborts read back with
 * their codes checked. A subclass says what to do on a timeout and what to keep when it fails.
 */
import { type ErrorCode, errorMessage, type FrostnetError } from '../../protocol/errors.ts';
import type { Logger } from '../ops/log.ts';
import { type Ceremony, type Envelope, envelope } from '../transport/wire.ts';
import { codecs, ROUND } from './messages.ts';
import type { Session } from './router.ts';
import type { Send } from './rpc.ts';

/** What sending on one session needs: its id and ceremony, this party, the link, and a log for failed sends. */
export type SessionLink = {
  readonly sessionId: Uint8Array;
  readonly ceremony: Ceremony;
  readonly self: string;
  readonly send: Send;
  readonly log: Logger;
};

/** Longest part of a remote party's reason that goes into an error of ours. */
const MAX_REMOTE_REASON = 300;

/** `code` when it is one of `accepted`, else `fallback`: how every error code from another party is read. */
export function remoteCode(code: string, accepted: readonly ErrorCode[], fallback: ErrorCode): ErrorCode {
  return accepted.find((c) => c === code) ?? fallback;
}

/**
 * Sends one round to `to`; a failure is logged and given back, not thrown (the transport has already tried a
 * fresh stream): an unreachable participant fails the session (onUndelivered) or shows up as a timeout naming it.
 */
export async function sendRound(
  link: SessionLink,
  to: string,
  round: number,
  payload: Uint8Array,
): Promise<unknown> {
  try {
    await link.send(to, envelope({ ...link, sender: link.self }, round, payload));
    return undefined;
  } catch (e) {
    link.log.warn('send failed', { to, reason: errorMessage(e) });
    return e ?? new Error('send failed');
  }
}

/** Tells each of `to` but this party why it ends (or refuses) the session, so that none waits for it. */
export function sendAbort(link: SessionLink, to: readonly string[], err: FrostnetError): void {
  const payload = codecs.abort.encode({ code: err.code, reason: err.message, culprits: [...err.culprits] });
  for (const p of to) if (p !== link.self) void sendRound(link, p, ROUND.session.abort, payload);
}

export abstract class CeremonySession<T> implements Session {
  protected readonly link: SessionLink;
  protected readonly participants: readonly string[];
  private readonly roundTimeoutMs: number;
  private timer?: NodeJS.Timeout;
  private ended = false;
  readonly done: Promise<T>;
  private resolveDone!: (value: T) => void;
  private rejectDone!: (e: FrostnetError) => void;

  constructor(link: SessionLink, participants: readonly string[], roundTimeoutMs: number) {
    this.link = link;
    this.participants = participants;
    this.roundTimeoutMs = roundTimeoutMs;
    this.done = new Promise<T>((res, rej) => {
      this.resolveDone = res;
      this.rejectDone = rej;
    });
    // Callers await `done`; keep an unobserved rejection from crashing the process.
    this.done.catch(() => {});
  }

  abstract receive(env: Envelope, from: string): void;

  /** The round timer ran out: the subclass names who it waits for and fails. */
  protected abstract onTimeout(): void;

  /**
   * What the subclass keeps when the session fails; `done` rejects once it completes (at once when it
   * returns nothing).
   */
  protected onFail(_err: FrostnetError): Promise<void> | undefined {
    return undefined;
  }

  /** Whether the session has ended, either way; an ended session ignores every message. */
  protected get settled(): boolean {
    return this.ended;
  }

  /** (Re)starts the round timer. */
  protected armTimer(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onTimeout(), this.roundTimeoutMs);
    this.timer.unref?.();
  }

  /** Ends the session with `value`, once. */
  protected finish(value: T): void {
    if (this.ended) return;
    this.end();
    this.resolveDone(value);
  }

  /** Ends the session with `err`, once; with `tellOthers`, every other participant is sent an abort. */
  protected fail(err: FrostnetError, tellOthers: boolean): void {
    if (this.ended) return;
    this.end();
    if (tellOthers) sendAbort(this.link, this.participants, err);
    const kept = this.onFail(err);
    if (!kept) {
      this.rejectDone(err);
      return;
    }
    kept.then(
      () => this.rejectDone(err),
      (e) => {
        this.link.log.error('could not keep what the session gathered', { reason: errorMessage(e) });
        this.rejectDone(err);
      },
    );
  }

  protected async sendRound(to: string, round: number, payload: Uint8Array): Promise<void> {
    const failed = await sendRound(this.link, to, round, payload);
    if (failed !== undefined && !this.ended) this.onUndelivered(to, failed);
  }

  /**
   * A round of this session could not be delivered to `to` (nothing is ever sent twice). By default the
   * session waits on, and its timer names `to`; a subclass whose ceremony cannot finish without that round
   * fails at once instead.
   */
  protected onUndelivered(_to: string, _failure: unknown): void {}

  /**
   * A participant's abort: its code kept when `accepted` lists it (else `fallback`), its reason cut short, and
   * only culprits that take part, this party never among them: a party does not take another's word that it
   * is itself at fault (an abort that blames only it blames its sender, see the sessions' use).
   */
  protected readAbort(
    env: Envelope,
    from: string,
    accepted: readonly ErrorCode[],
    fallback: ErrorCode,
  ): { code: ErrorCode; reason: string; culprits: string[] } {
    const a = codecs.abort.decode(env.payload, { from });
    return {
      code: remoteCode(a.code, accepted, fallback),
      reason: a.reason.slice(0, MAX_REMOTE_REASON),
      culprits: a.culprits.filter((c) => c !== this.link.self && this.participants.includes(c)),
    };
  }

  private end(): void {
    this.ended = true;
    clearTimeout(this.timer);
  }
}
