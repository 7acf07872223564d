/**
 * Runs one DKG, refresh or reshare ceremony over the network: feeds inbound round packages to the pure ceremony, sends
 * what it returns, persists the pending outcome before confirming it, and activates it once everyone has
 * confirmed. A protocol violation is broadcast as an abort so every participant stops at once; a silent
 * participant ends the session after the round timeout, naming who did not answer.
 */
import { type ErrorCode, FrostnetError, isFrostnetError } from '../../protocol/errors.ts';
import type { Step, VssCeremony } from '../../protocol/vss.ts';
import type { Logger } from '../ops/log.ts';
import { codecs, decodeVss, encodeVss, ROUND } from '../session/messages.ts';
import type { Session } from '../session/router.ts';
import type { Envelope } from '../transport/wire.ts';

/** Codes a participant's refusal of the invite may carry through to the initiator. */
const REFUSAL_CODES: readonly ErrorCode[] = ['EPOCH_MISMATCH', 'UNKNOWN_KEY', 'CONFLICT', 'INVALID_INPUT'];

export type Send = (to: string, env: Envelope) => Promise<void>;

export type VssCeremonyName = 'DKG' | 'REFRESH' | 'RESHARE';

/** R is what the ceremony produces: a key share, or for a reshare also the removal of a dealer. */
export type VssSessionOptions<R> = {
  ceremony: VssCeremonyName;
  sessionId: Uint8Array;
  self: string;
  vss: VssCeremony<R>;
  send: Send;
  /** Persists the outcome as pending; must complete before this party confirms it. */
  onPending: (outcome: R) => Promise<void>;
  /** Makes the pending outcome active: every participant confirmed. */
  onResult: (outcome: R) => Promise<void>;
  roundTimeoutMs: number;
  log: Logger;
  /** This party invited the others: an abort it receives (a refused invite) it passes on to all of them. */
  initiator?: boolean;
};

export class VssSession<R> implements Session {
  private readonly o: VssSessionOptions<R>;
  private readonly participants: string[];
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private settled = false;
  readonly done: Promise<R>;
  private resolve!: (k: R) => void;
  private reject!: (e: FrostnetError) => void;

  constructor(o: VssSessionOptions<R>) {
    this.o = o;
    const ctx = o.vss.ctx;
    this.participants = [...new Set([...ctx.dealers, ...ctx.receivers])];
    this.done = new Promise<R>((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    // Callers await `done`; keep an unobserved rejection from crashing the process.
    this.done.catch(() => {});
  }

  start(): void {
    this.run(() => this.o.vss.start());
  }

  receive(env: Envelope, from: string): void {
    if (this.settled) return;
    if (!this.participants.includes(from))
      throw new FrostnetError('UNEXPECTED_SENDER', `${from} takes no part in this ceremony`, [from]);
    if (env.round === ROUND.abort) {
      const a = codecs.abort.decode(env.payload, { from });
      const blamed = a.culprits.filter((c) => this.participants.includes(c));
      const reason = `${from} aborted the ceremony: ${a.reason.slice(0, 300)}`;
      // A refused invite keeps its code (another epoch, no such key, a ceremony already running); anything
      // else reads as a failed confirmation.
      const code = REFUSAL_CODES.find((c) => c === a.code) ?? 'CONFIRMATION_MISMATCH';
      this.fail(new FrostnetError(code, reason, blamed.length ? blamed : [from]), this.o.initiator === true);
      return;
    }
    const message = decodeVss(env.round, env.payload, from);
    this.run(() => this.o.vss.receive(from, message));
  }

  /** Steps run one at a time, in arrival order, because persisting a pending outcome is asynchronous. */
  private run(step: () => Step<R>): void {
    this.chain = this.chain.then(async () => {
      if (this.settled) return;
      let s: Step<R>;
      try {
        s = step();
      } catch (e) {
        const err = isFrostnetError(e) ? e : new FrostnetError('INTERNAL', (e as Error).message);
        // Only a fault of a participant ends the ceremony; a stray message is just dropped.
        if (err.culprits.some((c) => this.participants.includes(c)) || !isFrostnetError(e))
          this.fail(err, true);
        else this.o.log.warn('ignored ceremony message', { reason: err.message });
        return;
      }
      try {
        this.armTimer();
        if (s.pending) await this.o.onPending(s.pending);
        await Promise.all(s.send.map((o) => this.sendRound(o.to, encodeVss(o.message))));
        if (s.result) {
          await this.o.onResult(s.result);
          this.settle();
          this.resolve(s.result);
        }
      } catch (e) {
        const err = isFrostnetError(e) ? e : new FrostnetError('INTERNAL', (e as Error).message);
        // Only a fault of a participant ends the ceremony; a stray message is just dropped.
        if (err.culprits.some((c) => this.participants.includes(c)) || !isFrostnetError(e))
          this.fail(err, true);
        else this.o.log.warn('ignored ceremony message', { reason: err.message });
      }
    });
  }

  private async sendRound(to: string, m: { round: number; payload: Uint8Array }): Promise<void> {
    try {
      await this.o.send(to, this.envelope(m.round, m.payload));
    } catch (e) {
      // An unreachable participant shows up as a timeout naming it; keep going with the others.
      this.o.log.warn('send failed', { to, reason: (e as Error).message });
    }
  }

  private envelope(round: number, payload: Uint8Array): Envelope {
    return {
      version: 1,
      sessionId: this.o.sessionId,
      ceremony: this.o.ceremony,
      round,
      sender: this.o.self,
      payload,
    };
  }

  private armTimer(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const waiting = this.o.vss.waitingFor();
      this.fail(
        new FrostnetError('TIMEOUT', `no answer from ${waiting.join(', ') || 'any party'} in time`, waiting),
        false,
      );
    }, this.o.roundTimeoutMs);
    this.timer.unref?.();
  }

  private fail(err: FrostnetError, tellOthers: boolean): void {
    if (this.settled) return;
    this.settle();
    if (tellOthers) {
      const payload = codecs.abort.encode({
        code: err.code,
        reason: err.message,
        culprits: [...err.culprits],
      });
      for (const p of this.participants)
        if (p !== this.o.self) void this.sendRound(p, { round: ROUND.abort, payload });
    }
    this.reject(err);
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
  }
}
