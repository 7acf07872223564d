/**
 * DKG and refresh between daemons: the initiator invites every member, each member checks the invite against
 * its own configuration and keys, and all run the same pure ceremony through a VssSession. Outcomes are
 * pending until every member confirmed; a pending epoch left by a crash or a lost confirmation is settled with
 * the other members afterwards (see resolvePending).
 */
import { randomBytes } from 'node:crypto';
import type { CeremonyContext } from '../protocol/context.ts';
import { bytesToHex, equalBytes } from '../protocol/curve.ts';
import { createDkg } from '../protocol/dkg.ts';
import { FrostnetError } from '../protocol/errors.ts';
import { groupKey, type KeyShare, validateParameters } from '../protocol/keys.ts';
import { createRefresh } from '../protocol/refresh.ts';
import { type KeyStore, validateKeyName } from './keystore.ts';
import type { Logger } from './log.ts';
import { type CeremonyInvite, codecs, type KeyStatusMsg, ROUND } from './messages.ts';
import { DeferredSession, type Router, type Session } from './router.ts';
import { request, type Send } from './rpc.ts';
import { VssSession } from './vss-session.ts';
import type { Envelope } from './wire.ts';

export type KeyCeremoniesOptions = {
  self: string;
  keys: KeyStore;
  router: Router;
  send: Send;
  /** Peer ids this party is configured to talk to. */
  peers: () => string[];
  roundTimeoutMs: number;
  log: Logger;
  /** Called when a ceremony ends, for metrics. */
  onOutcome?: (ceremony: 'DKG' | 'REFRESH', ok: boolean, ms: number) => void;
};

export type PendingResolution = 'activated' | 'discarded' | 'waiting';

export class KeyCeremonies {
  private readonly o: KeyCeremoniesOptions;
  /** Ceremonies running per key name, to start the next one for a key only after it. */
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(o: KeyCeremoniesOptions) {
    this.o = o;
    o.router.onOpen('DKG', ROUND.invite, (env, from) => this.onInvite(env, from));
    o.router.onOpen('REFRESH', ROUND.invite, (env, from) => this.onInvite(env, from));
    o.router.onOpen('CONTROL', ROUND.keyStatusQuery, (env, from) => this.onStatusQuery(env, from));
  }

  /** Starts a DKG as its initiator; resolves with this party's share once every member confirmed. */
  async dkg(name: string, threshold: number, members: string[]): Promise<KeyShare> {
    validateKeyName(name);
    validateParameters(threshold, members);
    if (!members.includes(this.o.self))
      throw new FrostnetError('INVALID_INPUT', 'this party must be one of the members of a key it creates');
    this.checkPeers(members);
    if (this.o.keys.get(name)) throw new FrostnetError('CONFLICT', `a key named ${name} already exists`);
    const invite: CeremonyInvite = {
      keyName: name,
      threshold,
      members,
      groupKey: new Uint8Array(),
      epoch: 0,
    };
    return this.initiate('DKG', invite);
  }

  /** Starts a refresh of `name` among all its members. */
  async refresh(name: string): Promise<KeyShare> {
    const e = this.o.keys.get(name);
    const share = this.o.keys.active(name);
    if (e?.pending)
      throw new FrostnetError('CONFLICT', `key ${name} has an unsettled epoch; try again shortly`);
    const g = share.group;
    this.checkPeers(g.members);
    const invite: CeremonyInvite = {
      keyName: name,
      threshold: g.threshold,
      members: [...g.members],
      groupKey: groupKey(g).toBytes(true),
      epoch: g.epoch,
    };
    return this.initiate('REFRESH', invite);
  }

  private async initiate(ceremony: 'DKG' | 'REFRESH', invite: CeremonyInvite): Promise<KeyShare> {
    const sessionId = randomBytes(32);
    const session = this.createSession(ceremony, sessionId, invite);
    // Started before anyone is invited, so no answer can reach it unstarted; invitees buffer what races ahead.
    session.start();
    this.o.router.add(ceremony, sessionId, session);
    const payload = codecs.invite.encode(invite);
    await Promise.all(
      invite.members
        .filter((m) => m !== this.o.self)
        .map((m) =>
          this.o
            .send(m, { version: 1, sessionId, ceremony, round: ROUND.invite, sender: this.o.self, payload })
            .catch((e) => this.o.log.warn('invite not delivered', { to: m, reason: (e as Error).message })),
        ),
    );
    return session.done;
  }

  private onInvite(env: Envelope, from: string): VssSession {
    const ceremony = env.ceremony as 'DKG' | 'REFRESH';
    const invite = codecs.invite.decode(env.payload, { from });
    if (!invite.members.includes(from) || !invite.members.includes(this.o.self))
      throw new FrostnetError('UNEXPECTED_SENDER', `invite from ${from} for a group this party is not in`, [
        from,
      ]);
    validateKeyName(invite.keyName);
    validateParameters(invite.threshold, invite.members);
    this.checkPeers(invite.members);
    const session = this.createSession(ceremony, env.sessionId, invite);
    session.start();
    return session;
  }

  private createSession(
    ceremony: 'DKG' | 'REFRESH',
    sessionId: Uint8Array,
    invite: CeremonyInvite,
  ): VssSession {
    const name = invite.keyName;
    if (this.running.has(name))
      throw new FrostnetError('CONFLICT', `a ceremony for key ${name} is already running`);
    let vss: ReturnType<typeof createDkg>;
    if (ceremony === 'DKG') {
      if (this.o.keys.get(name))
        throw new FrostnetError('CONFLICT', `a key named ${name} already exists here`);
      const ctx: CeremonyContext = {
        kind: 'dkg',
        sessionId,
        threshold: invite.threshold,
        dealers: invite.members,
        receivers: invite.members,
        self: this.o.self,
      };
      vss = createDkg(ctx);
    } else {
      const current = this.o.keys.active(name);
      const g = current.group;
      if (!equalBytes(groupKey(g).toBytes(true), invite.groupKey) || g.epoch !== invite.epoch)
        throw new FrostnetError(
          'EPOCH_MISMATCH',
          `refresh of ${name} is for another key or epoch than this party holds`,
        );
      if (this.o.keys.get(name)?.pending)
        throw new FrostnetError('CONFLICT', `key ${name} has an unsettled epoch`);
      vss = createRefresh(sessionId, this.o.self, current);
    }
    const started = Date.now();
    const log = this.o.log.child({ ceremony, key: name, session: bytesToHex(sessionId).slice(0, 16) });
    const session = new VssSession({
      ceremony,
      sessionId,
      self: this.o.self,
      vss,
      send: this.o.send,
      onPending: (share) => this.o.keys.setPending(name, share, { create: ceremony === 'DKG' }),
      onResult: async () => {
        await this.o.keys.activatePending(name);
      },
      roundTimeoutMs: this.o.roundTimeoutMs,
      log,
    });
    this.running.set(
      name,
      session.done.catch(() => {}),
    );
    session.done.then(
      () => {
        this.running.delete(name);
        this.o.router.remove(ceremony, sessionId);
        this.o.onOutcome?.(ceremony, true, Date.now() - started);
        log.info('ceremony complete');
      },
      (e: FrostnetError) => {
        this.running.delete(name);
        this.o.router.remove(ceremony, sessionId);
        this.o.onOutcome?.(ceremony, false, Date.now() - started);
        log.warn('ceremony failed', { code: e.code, reason: e.message, culprits: [...e.culprits] });
        // A pending outcome this party already confirmed is settled with the others, never dropped blindly.
        if (this.o.keys.get(name)?.pending) void this.resolvePending(name).catch(() => {});
      },
    );
    return session;
  }

  private checkPeers(members: readonly string[]): void {
    const known = new Set(this.o.peers());
    const unknown = members.filter((m) => m !== this.o.self && !known.has(m));
    if (unknown.length)
      throw new FrostnetError(
        'INVALID_INPUT',
        `not configured as peers of this party: ${unknown.join(', ')} (add them with "frostnet peers add")`,
        unknown,
      );
  }

  // ---- Settling a pending epoch ---------------------------------------------------------------------------

  /**
   * Decides a pending epoch with the other members. Activation needs every member's confirmation, and a
   * member persists its pending outcome before it confirms, so:
   * - a member already on the pending epoch (same transcript) proves every member confirmed: activate;
   * - a member with neither that epoch active nor it pending never confirmed, so nobody activated: discard;
   * - every other member holding the same pending outcome: all confirmed, activate;
   * - otherwise (someone unreachable) wait and ask again later.
   */
  async resolvePending(name: string): Promise<PendingResolution> {
    const entry = this.o.keys.get(name);
    const pending = entry?.pending;
    if (!pending || this.running.has(name)) return pending ? 'waiting' : 'activated';
    const g = pending.group;
    const key = groupKey(g).toBytes(true);
    const others = g.members.filter((m) => m !== this.o.self);
    const answers = await Promise.all(
      others.map(async (m) => {
        try {
          const env = await request(
            { router: this.o.router, send: this.o.send, self: this.o.self },
            m,
            'CONTROL',
            ROUND.keyStatusQuery,
            codecs.keyStatusQuery.encode({ groupKey: key }),
            Math.min(this.o.roundTimeoutMs, 5000),
          );
          return codecs.keyStatus.decode(env.payload, { from: m });
        } catch {
          return undefined;
        }
      }),
    );
    const same = (epoch: number, t: Uint8Array) => epoch === g.epoch && equalBytes(t, g.transcript);
    const isActive = (s: KeyStatusMsg) => s.transcript.length > 0 && same(s.epoch, s.transcript);
    const isPending = (s: KeyStatusMsg) => s.hasPending && same(s.pendingEpoch, s.pendingTranscript);
    let decision: PendingResolution = 'waiting';
    if (answers.some((s) => s && isActive(s))) decision = 'activated';
    else if (answers.some((s) => s && !isActive(s) && !isPending(s))) decision = 'discarded';
    else if (answers.every((s) => s && isPending(s))) decision = 'activated';
    if (decision === 'activated') await this.o.keys.activatePending(name);
    if (decision === 'discarded') await this.o.keys.discardPending(name);
    this.o.log.info('pending epoch settled', { key: name, epoch: g.epoch, decision });
    return decision;
  }

  /** Settles every pending epoch (after a restart); returns what happened to each. */
  async resolveAllPending(): Promise<Record<string, PendingResolution>> {
    const out: Record<string, PendingResolution> = {};
    for (const e of this.o.keys.list()) if (e.pending) out[e.name] = await this.resolvePending(e.name);
    return out;
  }

  private onStatusQuery(env: Envelope, from: string): undefined {
    const q = codecs.keyStatusQuery.decode(env.payload, { from });
    const e = this.o.keys.byGroupKey(bytesToHex(q.groupKey));
    const member = e && (e.active ?? e.pending)!.group.members.includes(from);
    const status: KeyStatusMsg = {
      groupKey: q.groupKey,
      epoch: member && e.active ? e.active.group.epoch : 0,
      transcript: member && e.active ? e.active.group.transcript : new Uint8Array(),
      hasPending: Boolean(member && e.pending),
      pendingEpoch: member && e.pending ? e.pending.group.epoch : 0,
      pendingTranscript: member && e.pending ? e.pending.group.transcript : new Uint8Array(),
    };
    const payload = codecs.keyStatus.encode(status);
    void this.o
      .send(from, { ...env, round: ROUND.keyStatus, sender: this.o.self, payload })
      .catch((err) =>
        this.o.log.warn('status answer not delivered', { to: from, reason: (err as Error).message }),
      );
    return undefined;
  }
}
