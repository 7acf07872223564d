/**
 * Runs one DKG, refresh or reshare ceremony over the network: feeds inbound round packages to the pure ceremony
 * and sends what it returns; then settles its outcome in two steps (certificates.ts). Prepare: the outcome is
 * persisted as pending before this party's round 3 (its hash) goes out. Commit: once every participant
 * prepared the same outcome (or another participant committed it), this party signs it, persists the signature
 * and sends it as round 4. The outcome activates only on every participant's signature. A protocol violation is
 * broadcast as an abort so every participant stops at once; a silent participant ends the session after the
 * round timeout, naming who did not answer, and one whose connection closes while the session waits for it
 * ends it at once, as unreachable.
 *
 * Round 1 carries the sender's context hash: a newcomer to a reshare that was told another ceremony than the
 * dealers run (another key group, say) stops at once and names whoever invited it, rather than blaming the
 * honest dealers whose packages do not fit the group it was given.
 */
import { equalBytes } from '../../protocol/curve.ts';
import {
  type ErrorCode,
  errorMessage,
  FrostnetError,
  isFrostnetError,
  toFrostnetError,
} from '../../protocol/errors.ts';
import type { CeremonyMessage, Step, VssCeremony } from '../../protocol/vss.ts';
import type { Logger } from '../ops/log.ts';
import { CeremonySession } from '../session/kernel.ts';
import { codecs, decodeVss, encodeVss, ROUND, type Vss4, type VssExtras } from '../session/messages.ts';
import type { Send } from '../session/rpc.ts';
import type { Signatures } from '../storage/identity.ts';
import type { Envelope } from '../transport/wire.ts';
import { Confirmations, confirmationStatement } from './certificates.ts';

/** Codes a participant's abort may carry through: its refusal of the invite, or a participant it cannot reach. */
const REFUSAL_CODES: readonly ErrorCode[] = [
  'EPOCH_MISMATCH',
  'UNKNOWN_KEY',
  'CONFLICT',
  'INVALID_INPUT',
  'POLICY_DENIED',
  'WRONG_CONTEXT',
  'UNREACHABLE',
];

export type VssCeremonyName = 'DKG' | 'REFRESH' | 'RESHARE';

/** R is what the ceremony produces: a key share, or for a reshare also the removal of a dealer. */
export type VssSessionOptions<R> = {
  ceremony: VssCeremonyName;
  sessionId: Uint8Array;
  self: string;
  /** Who invited the participants (this party when it did). */
  initiator: string;
  vss: VssCeremony<R>;
  send: Send;
  signatures: Signatures;
  /** Persists the outcome as pending, not yet committed; completes before this party's round 3 goes out. */
  onPrepared: (outcome: R, confirmations: Confirmations) => Promise<void>;
  /** Persists this party's signature (and those gathered); completes before its round 4 goes out. */
  onCommitted: (confirmations: Confirmations) => Promise<void>;
  /** Makes the pending outcome active: `certificate` holds every participant's signed confirmation. */
  onResult: (outcome: R, certificate: Confirmations) => Promise<void>;
  /** The session ended without a certificate after this party prepared: keep what was gathered. */
  onUnsettled: (confirmations: Confirmations) => Promise<void>;
  roundTimeoutMs: number;
  log: Logger;
};

export class VssSession<R> extends CeremonySession<R> {
  private readonly o: VssSessionOptions<R>;
  private chain: Promise<void> = Promise.resolve();
  /** The outcome this party prepared, and the confirmations of it gathered so far. */
  private outcome?: R;
  private confirmations?: Confirmations;
  /** Verified commits that arrived before this party prepared. */
  private readonly early = new Map<string, Vss4>();

  constructor(o: VssSessionOptions<R>) {
    const { ctx } = o.vss;
    super(
      { sessionId: o.sessionId, ceremony: o.ceremony, self: o.self, send: o.send, log: o.log },
      [...new Set([...ctx.dealers, ...ctx.receivers])],
      o.roundTimeoutMs,
    );
    this.o = o;
  }

  /** Whether this party persisted an outcome: from then on it settles with the others (certificates.ts). */
  get prepared(): boolean {
    return this.confirmations !== undefined;
  }

  start(): void {
    this.run(async () => this.step(this.o.vss.start()));
  }

  receive(env: Envelope, from: string): void {
    if (this.settled) return;
    if (!this.participants.includes(from))
      throw new FrostnetError('UNEXPECTED_SENDER', `${from} takes no part in this ceremony`, [from]);
    if (env.round === ROUND.session.abort) {
      // A refused invite keeps its code (another epoch, no such key, a ceremony already running, a proposal it
      // does not accept), as does a participant that could not reach another; anything else reads as a failed
      // confirmation.
      const a = this.readAbort(env, from, REFUSAL_CODES, 'CONFIRMATION_MISMATCH');
      const reason = `${from} aborted the ceremony: ${a.reason}`;
      // A party that says it cannot reach another is named with it: its word alone never blames a member.
      const culprits =
        a.code === 'UNREACHABLE'
          ? [...new Set([...a.culprits, from])]
          : a.culprits.length
            ? a.culprits
            : [from];
      this.fail(new FrostnetError(a.code, reason, culprits), this.isInitiator);
      return;
    }
    if (env.round === ROUND.vss.commit) {
      const commit = codecs.vss4.decode(env.payload, { from });
      this.run(() => this.acceptCommit(from, commit));
      return;
    }
    const { message, extras } = decodeVss(env.round, env.payload, from);
    this.run(async () => {
      // A newcomer cannot judge a dealer's package by a group it holds: the context comes first. Everyone else
      // judges the package itself first (a replayed one fails its own checks), then its context.
      if (this.isNewcomer) this.checkContext(from, message, extras);
      const step = this.o.vss.receive(from, message);
      this.checkContext(from, message, extras);
      await this.step(step);
    });
  }

  private get isInitiator(): boolean {
    return this.o.initiator === this.o.self;
  }

  /** A reshare's receiver that holds nothing of the key yet: it knows the group only from the invite. */
  private get isNewcomer(): boolean {
    const { ctx } = this.o.vss;
    return ctx.kind === 'reshare' && !ctx.base?.members.includes(this.o.self);
  }

  /**
   * A round 1 must be for this party's very ceremony. Participants that hold the key judge the proposal by their
   * own group, so they agree on the context: one that differs is the sender's doing. A newcomer knows the group
   * only from the invite: a dealer that runs another ceremony than the invite describes points at the inviter.
   */
  private checkContext(from: string, m: CeremonyMessage, x: VssExtras): void {
    if (m.round !== 1 || equalBytes(x.context ?? new Uint8Array(), this.o.vss.contextHash)) return;
    const { initiator } = this.o;
    if (this.isNewcomer && !this.isInitiator && from !== initiator)
      throw new FrostnetError(
        'WRONG_CONTEXT',
        `${from} runs another ceremony than the invite from ${initiator} describes (another key group or proposal); nothing is accepted`,
        [initiator],
      );
    // A newcomer's context rests on what the initiator told it alone: either may be at fault.
    const base = this.o.vss.ctx.base;
    if (base && !base.members.includes(from) && !this.isInitiator && from !== initiator)
      throw new FrostnetError(
        'WRONG_CONTEXT',
        `${from}, new to the key, runs another ceremony than this one: the invite from ${initiator} described another key group to it, or it lies`,
        [initiator, from],
      );
    // A DKG's context (threshold, members, the key's network) is what the initiator's invite said to each.
    if (this.o.vss.ctx.kind === 'dkg' && !this.isInitiator && from !== initiator)
      throw new FrostnetError(
        'WRONG_CONTEXT',
        `${from} runs another DKG than the invite from ${initiator} describes: the invites differ, or ${from} lies`,
        [initiator, from],
      );
    throw new FrostnetError('WRONG_CONTEXT', `${from} sent a round 1 of another ceremony`, [from]);
  }

  /** What the pure ceremony returned: prepare a computed outcome, send, commit once everyone prepared. */
  private async step(s: Step<R>): Promise<void> {
    this.armTimer();
    if (s.pending) {
      const own = s.send.find((o) => o.message.round === 3)?.message;
      if (own?.round !== 3) throw new FrostnetError('INTERNAL', 'an outcome without a confirmation');
      const c = new Confirmations(
        { sessionId: this.o.sessionId, confirmation: own.confirmation },
        this.participants,
      );
      await this.o.onPrepared(s.pending, c);
      this.outcome = s.pending;
      this.confirmations = c;
    }
    const context = { context: this.o.vss.contextHash };
    await Promise.all(
      s.send.map((o) => {
        const m = encodeVss(o.message, o.message.round === 1 ? context : {});
        return this.sendRound(o.to, m.round, m.payload);
      }),
    );
    if (s.pending) for (const [from, commit] of this.early) await this.acceptCommit(from, commit);
    this.early.clear();
    if (s.result) await this.commit();
  }

  /** Another participant's signed confirmation: checked, kept, and reason enough to commit too. */
  private async acceptCommit(from: string, m: Vss4): Promise<void> {
    this.armTimer();
    const statement = confirmationStatement(this.o.sessionId, m.confirmation);
    if (!(await this.o.signatures.verify(from, statement, m.signature)))
      throw new FrostnetError('INVALID_SIGNATURE', `${from} sent a badly signed confirmation`, [from]);
    const c = this.confirmations;
    if (!c) {
      this.early.set(from, m);
      return;
    }
    if (!equalBytes(m.confirmation, c.confirmation))
      throw new FrostnetError(
        'CONFIRMATION_MISMATCH',
        `${from} committed to another outcome than this party computed; no key is accepted`,
        [from],
      );
    c.add(from, m.signature);
    // Its commit says every participant prepared this outcome: commit too.
    await this.commit();
  }

  /** Signs this party's confirmation once, persists it, sends it; activates on a complete certificate. */
  private async commit(): Promise<void> {
    const c = this.confirmations;
    if (!c) return;
    if (!c.has(this.o.self)) {
      const signature = await this.o.signatures.sign(c.statement);
      c.add(this.o.self, signature);
      await this.o.onCommitted(c);
      const payload = codecs.vss4.encode({ confirmation: c.confirmation, signature });
      await Promise.all(
        this.participants
          .filter((p) => p !== this.o.self)
          .map((p) => this.sendRound(p, ROUND.vss.commit, payload)),
      );
    }
    if (!c.complete || this.settled) return;
    await this.o.onResult(this.outcome as R, c);
    this.finish(this.outcome as R);
  }

  /** Steps run one at a time, in arrival order, because persisting is asynchronous. */
  private run(work: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (this.settled) return;
      try {
        await work();
      } catch (e) {
        const err = toFrostnetError(e);
        // Only a fault of a participant ends the ceremony; a stray message is just dropped.
        if (err.culprits.some((c) => this.participants.includes(c)) || !isFrostnetError(e))
          this.fail(err, true);
        else this.o.log.warn('ignored ceremony message', { reason: err.message });
      }
    });
  }

  /**
   * A dealing round that cannot reach a participant dooms the ceremony: that participant can never compute
   * its share or confirm. So it fails now, naming it, and the others are told, instead of every party waiting
   * for the round timeout. Once this party has prepared an outcome, settlement decides as before (the
   * confirmations gathered are kept, and a party that comes back settles with the certificates).
   */
  protected override onUndelivered(to: string, failure: unknown): void {
    if (this.confirmations) return;
    this.fail(
      new FrostnetError('UNREACHABLE', `${to} could not be sent a round: ${errorMessage(failure)}`, [to]),
      true,
    );
  }

  protected override onTimeout(): void {
    const waiting = this.waitingFor();
    this.fail(
      new FrostnetError('TIMEOUT', `no answer from ${waiting.join(', ') || 'any party'} in time`, waiting),
      false,
    );
  }

  /**
   * `party` is gone: its connection closed, or (`how`) the invite could not reach it. When the session waits for
   * it, what it waits for will not come (a party's session dies with its process): the session fails at once,
   * naming it UNREACHABLE, as the round timeout would later; the initiator tells the others, as of any abort.
   * A party it no longer waits for may go: the session goes on without hearing from it.
   */
  lost(party: string, how = 'disconnected'): void {
    if (this.settled || !this.waitingFor().includes(party)) return;
    const err = new FrostnetError('UNREACHABLE', `${party} ${how} while this ceremony waited for it`, [
      party,
    ]);
    this.fail(err, this.isInitiator);
  }

  /** Whom the session waits for: their round packages, or once this party committed, their commits. */
  private waitingFor(): readonly string[] {
    const c = this.confirmations;
    return c?.has(this.o.self) ? c.missing : this.o.vss.waitingFor();
  }

  /** What was gathered stays with the pending outcome, for settling it with the others. */
  protected override onFail(): Promise<void> | undefined {
    const c = this.confirmations;
    if (!c) return undefined;
    return this.o.onUnsettled(c).catch((e) => {
      this.o.log.error('could not keep the confirmations gathered', { reason: errorMessage(e) });
    });
  }
}
