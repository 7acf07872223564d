/**
 * DKG, refresh and reshare between daemons: the initiator invites every participant, each checks the invite
 * against its own configuration and keys, and all run the same pure ceremony through a VssSession. Outcomes are
 * pending until every participant confirmed; a pending epoch left by a crash or a lost confirmation is settled
 * with the other participants afterwards (see resolvePending).
 *
 * Reshare dealers: every current member that answers on the current epoch deals. All of them when all are
 * reachable, so that every removed member takes part and erases its share; at least the current threshold
 * otherwise (a lost device can still be removed), and the outcome names the removed members that did not take
 * part: their old shares were not erased by the protocol (they cannot combine with the new ones).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CeremonyContext } from '../../protocol/context.ts';
import { bytesToHex, equalBytes } from '../../protocol/curve.ts';
import { createDkg } from '../../protocol/dkg.ts';
import { FrostnetError, isFrostnetError } from '../../protocol/errors.ts';
import {
  groupKey,
  type KeyGroup,
  type KeyShare,
  type KeyShareJSON,
  keyGroupFromJSON,
  keyGroupToJSON,
  validateParameters,
} from '../../protocol/keys.ts';
import { createRefresh } from '../../protocol/refresh.ts';
import { createReshare, type ReshareResult } from '../../protocol/reshare.ts';
import { hashFields } from '../../protocol/transcript.ts';
import type { VssCeremony } from '../../protocol/vss.ts';
import type { Logger } from '../ops/log.ts';
import { type CeremonyInvite, codecs, type KeyStatusMsg, ROUND } from '../session/messages.ts';
import { DeferredSession, type Router, type Session } from '../session/router.ts';
import { request, type Send } from '../session/rpc.ts';
import { type KeyStore, validateKeyName } from '../storage/keystore.ts';
import type { Envelope } from '../transport/wire.ts';
import { type VssCeremonyName, VssSession } from './vss-session.ts';

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
  onOutcome?: (ceremony: VssCeremonyName, ok: boolean, ms: number) => void;
};

export type PendingResolution = 'activated' | 'discarded' | 'waiting';

/** What a reshare did: this party's outcome, who dealt, and removed members that took no part. */
export type ReshareOutcome = { result: ReshareResult; dealers: string[]; notErased: string[] };

/** A party's answer to a status query, or undefined when it did not answer in time. */
export type StatusAnswers = Map<string, KeyStatusMsg | undefined>;

/** True when `s` says its sender holds `g`'s epoch active (the same transcript). */
export const holdsEpoch = (s: KeyStatusMsg | undefined, g: KeyGroup): boolean =>
  s !== undefined && s.transcript.length > 0 && s.epoch === g.epoch && equalBytes(s.transcript, g.transcript);

/** Digest of who holds which identifier in `g`: what a party's vouch for a re-initialised member changes. */
export const membersDigest = (g: KeyGroup): Uint8Array =>
  hashFields('status/members', [...g.members], [...g.identifiers]);

/** True when `s` says its sender holds a share of `g`'s epoch. */
export const holdsShare = (s: KeyStatusMsg | undefined, g: KeyGroup): boolean =>
  holdsEpoch(s, g) && s!.hasShare;

/** True when `s` says its sender holds a share of `g`'s epoch with the same members (every vouch made alike). */
export const holdsMembership = (s: KeyStatusMsg | undefined, g: KeyGroup): boolean =>
  holdsShare(s, g) && equalBytes(s!.membersDigest, membersDigest(g));

const sameMembers = (list: readonly string[], g: KeyGroup) =>
  list.length === g.members.length && list.every((m, i) => m === g.members[i]);

const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])];

export class KeyCeremonies {
  private readonly o: KeyCeremoniesOptions;
  /** Ceremonies running per key name, to start the next one for a key only after it. */
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(o: KeyCeremoniesOptions) {
    this.o = o;
    for (const ceremony of ['DKG', 'REFRESH', 'RESHARE'] as const)
      o.router.onOpen(ceremony, ROUND.invite, (env, from) => this.onInviteOrRefuse(env, from));
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
    return (await this.initiate('DKG', invite, members)) as KeyShare;
  }

  /**
   * Runs `fn` when no ceremony of key `name` runs, and holds off new ones until it ends (their invites wait):
   * for a change of the key's record that no ceremony may race, such as a vouch.
   */
  async whileIdle<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.running.has(name))
      throw new FrostnetError('CONFLICT', `a ceremony for key ${name} is running; try again once it ends`);
    const work = fn();
    this.running.set(
      name,
      work.catch(() => {}),
    );
    try {
      return await work;
    } finally {
      this.running.delete(name);
    }
  }

  /** Starts a refresh of `name` among all its members. */
  async refresh(name: string): Promise<KeyShare> {
    const g = this.o.keys.settled(name).group;
    this.checkPeers(g.members);
    const invite: CeremonyInvite = {
      keyName: name,
      threshold: g.threshold,
      members: [...g.members],
      groupKey: groupKey(g).toBytes(true),
      epoch: g.epoch,
    };
    return (await this.initiate('REFRESH', invite, g.members)) as KeyShare;
  }

  /**
   * Starts a reshare of `name` to `members` with threshold `threshold`, keeping the group key. Every new member
   * must be reachable; current members on the current epoch deal (see the header).
   */
  async reshare(name: string, threshold: number, members: string[]): Promise<ReshareOutcome> {
    const g = this.o.keys.settled(name).group;
    validateParameters(threshold, members);
    this.checkPeers(members);
    const others = union(g.members, members).filter((m) => m !== this.o.self);
    const answers = await this.survey(g, others);
    const silent = members.filter((m) => m !== this.o.self && !answers.get(m));
    if (silent.length)
      throw new FrostnetError('UNREACHABLE', `new members did not answer: ${silent.join(', ')}`, silent);
    const stale = members.filter(
      (m) => g.members.includes(m) && m !== this.o.self && !this.onEpoch(answers, m, g),
    );
    if (stale.length)
      throw new FrostnetError(
        'EPOCH_MISMATCH',
        `members not on epoch ${g.epoch} of ${name} with a share and the same members (still settling, erased, or not vouched alike): ${stale.join(', ')}`,
        stale,
      );
    const dealers = g.members.filter((m) => m === this.o.self || this.onEpoch(answers, m, g));
    if (dealers.length < g.threshold) {
      const away = g.members.filter((m) => !dealers.includes(m));
      throw new FrostnetError(
        'UNREACHABLE',
        `a reshare needs ${g.threshold} current members to deal, only ${dealers.length} are reachable on epoch ${g.epoch}`,
        away,
      );
    }
    const notErased = g.members.filter((m) => !members.includes(m) && !dealers.includes(m));
    if (notErased.length)
      this.o.log.warn('removed members take no part and keep their old shares', { key: name, notErased });
    const invite: CeremonyInvite = {
      keyName: name,
      threshold,
      members: [...members],
      groupKey: groupKey(g).toBytes(true),
      epoch: g.epoch,
      dealers,
      currentGroup: JSON.stringify(keyGroupToJSON(g)),
    };
    const result = await this.initiate('RESHARE', invite, union(dealers, members));
    return { result, dealers, notErased };
  }

  /** `m` can deal from `g`: it holds a share of its epoch, lists the same members, and settles nothing. */
  private onEpoch(answers: StatusAnswers, m: string, g: KeyGroup): boolean {
    const s = answers.get(m);
    return holdsMembership(s, g) && !s?.hasPending;
  }

  /**
   * Every party's status for `g`'s key; a member still settling an epoch (its previous ceremony ends a moment
   * after the initiator's) is asked again for up to one round timeout.
   */
  async survey(g: KeyGroup, parties: readonly string[]): Promise<StatusAnswers> {
    const deadline = Date.now() + this.o.roundTimeoutMs;
    for (;;) {
      const answers = await this.statusOf(groupKey(g).toBytes(true), parties);
      if (![...answers.values()].some((s) => s?.hasPending) || Date.now() > deadline) return answers;
      await sleep(200);
    }
  }

  private async initiate(
    ceremony: VssCeremonyName,
    invite: CeremonyInvite,
    participants: readonly string[],
  ): Promise<ReshareResult> {
    const sessionId = randomBytes(32);
    const session = this.createSession(ceremony, sessionId, invite, true);
    // Started before anyone is invited, so no answer can reach it unstarted; invitees buffer what races ahead.
    session.start();
    this.o.router.add(ceremony, sessionId, session);
    const payload = codecs.invite.encode(invite);
    await Promise.all(
      participants
        .filter((m) => m !== this.o.self)
        .map((m) =>
          this.o
            .send(m, { version: 1, sessionId, ceremony, round: ROUND.invite, sender: this.o.self, payload })
            .catch((e) => this.o.log.warn('invite not delivered', { to: m, reason: (e as Error).message })),
        ),
    );
    return session.done;
  }

  /**
   * onInvite, telling the initiator why when this party refuses, so that it fails at once with the reason
   * instead of waiting for a timeout. Only the initiator is told: one answer per invite.
   */
  private onInviteOrRefuse(env: Envelope, from: string): Session {
    try {
      return this.onInvite(env, from);
    } catch (e) {
      const err = isFrostnetError(e) ? e : new FrostnetError('INTERNAL', (e as Error).message);
      const payload = codecs.abort.encode({ code: err.code, reason: err.message, culprits: [] });
      void this.o
        .send(from, { ...env, round: ROUND.abort, sender: this.o.self, payload })
        .catch((x) => this.o.log.warn('refusal not delivered', { to: from, reason: (x as Error).message }));
      throw e;
    }
  }

  /**
   * An invite from another participant. One arriving while this party's previous ceremony of the key still runs
   * (the initiator finishes a moment before the others) is held until that one ends.
   */
  private onInvite(env: Envelope, from: string): Session {
    const ceremony = env.ceremony as VssCeremonyName;
    const invite = codecs.invite.decode(env.payload, { from });
    const participants =
      ceremony === 'RESHARE' ? union(invite.dealers ?? [], invite.members) : invite.members;
    if (!participants.includes(from) || !participants.includes(this.o.self))
      throw new FrostnetError('UNEXPECTED_SENDER', `invite from ${from} for a group this party is not in`, [
        from,
      ]);
    validateKeyName(invite.keyName);
    validateParameters(invite.threshold, invite.members);
    this.checkPeers(participants);
    const open = () => {
      const session = this.createSession(ceremony, env.sessionId, invite);
      session.start();
      return session;
    };
    const prior = this.running.get(invite.keyName);
    if (!prior) return open();
    const held = new DeferredSession();
    void prior.then(() => {
      try {
        held.attach(open());
      } catch (e) {
        this.o.router.remove(ceremony, env.sessionId);
        this.o.log.warn('held invite refused', { from, ceremony, reason: (e as Error).message });
      }
    });
    return held;
  }

  /** The pure ceremony an invite asks for, checked against this party's keys. */
  private ceremonyFor(
    ceremony: VssCeremonyName,
    sessionId: Uint8Array,
    invite: CeremonyInvite,
  ): { vss: VssCeremony<ReshareResult>; create: boolean; participants?: string[] } {
    const name = invite.keyName;
    const entry = this.o.keys.get(name);
    if (ceremony === 'DKG') {
      if (entry) throw new FrostnetError('CONFLICT', `a key named ${name} already exists here`);
      const ctx: CeremonyContext = {
        kind: 'dkg',
        sessionId,
        threshold: invite.threshold,
        dealers: invite.members,
        receivers: invite.members,
        self: this.o.self,
      };
      return { vss: createDkg(ctx), create: true };
    }
    if (entry?.pending) throw new FrostnetError('CONFLICT', `key ${name} has an unsettled epoch`);
    const mine = entry?.active;
    if (
      mine &&
      (!equalBytes(groupKey(mine.group).toBytes(true), invite.groupKey) || mine.group.epoch !== invite.epoch)
    )
      throw new FrostnetError(
        'EPOCH_MISMATCH',
        `${ceremony.toLowerCase()} of ${name} is for another key or epoch than this party holds`,
      );
    if (ceremony === 'REFRESH') {
      if (mine && !sameMembers(invite.members, mine.group))
        throw new FrostnetError(
          'EPOCH_MISMATCH',
          `refresh of ${name} lists other members than this party does: a vouch made on some members only?`,
        );
      return { vss: createRefresh(sessionId, this.o.self, this.o.keys.active(name)), create: false };
    }
    const base = this.currentGroupOf(invite);
    const plan = { threshold: invite.threshold, members: invite.members, dealers: invite.dealers ?? [] };
    const participants = union(plan.dealers, plan.members);
    if (mine) {
      // A current member judges the dealings against its own copy of the group; the invite must name that one.
      if (!equalBytes(mine.group.transcript, base.transcript))
        throw new FrostnetError(
          'EPOCH_MISMATCH',
          `reshare of ${name} names another epoch ${base.epoch} transcript`,
        );
      if (!equalBytes(membersDigest(mine.group), membersDigest(base)))
        throw new FrostnetError(
          'EPOCH_MISMATCH',
          `reshare of ${name} lists other members than this party does: a vouch made on some members only?`,
        );
      return { vss: createReshare(sessionId, this.o.self, mine, plan), create: false, participants };
    }
    if (base.members.includes(this.o.self))
      throw new FrostnetError(
        'UNKNOWN_KEY',
        `this party is a member of ${name} but holds no share of it: repair it first ("frostnet repair")`,
      );
    if (this.o.keys.byGroupKey(bytesToHex(invite.groupKey)))
      throw new FrostnetError('CONFLICT', `this party already holds that key under another name`);
    return { vss: createReshare(sessionId, this.o.self, base, plan), create: true, participants };
  }

  /** A reshare invite's current group (what a newcomer learns of the key), naming the key the invite names. */
  private currentGroupOf(invite: CeremonyInvite): KeyGroup {
    let base: KeyGroup;
    try {
      base = keyGroupFromJSON(JSON.parse(invite.currentGroup ?? '') as KeyShareJSON['group']);
    } catch (e) {
      throw new FrostnetError('INVALID_INPUT', `reshare invite: bad current group (${(e as Error).message})`);
    }
    if (!equalBytes(groupKey(base).toBytes(true), invite.groupKey) || base.epoch !== invite.epoch)
      throw new FrostnetError('INVALID_INPUT', 'reshare invite: its group is not the key and epoch it names');
    return base;
  }

  private createSession(
    ceremony: VssCeremonyName,
    sessionId: Uint8Array,
    invite: CeremonyInvite,
    initiator = false,
  ): VssSession<ReshareResult> {
    const name = invite.keyName;
    if (this.running.has(name))
      throw new FrostnetError('CONFLICT', `a ceremony for key ${name} is already running`);
    const { vss, create, participants } = this.ceremonyFor(ceremony, sessionId, invite);
    const started = Date.now();
    const log = this.o.log.child({ ceremony, key: name, session: bytesToHex(sessionId).slice(0, 16) });
    const session = new VssSession({
      ceremony,
      sessionId,
      self: this.o.self,
      vss,
      send: this.o.send,
      onPending: (outcome) => this.o.keys.setPending(name, outcome, { create, participants }),
      onResult: async () => {
        await this.o.keys.activatePending(name);
      },
      roundTimeoutMs: this.o.roundTimeoutMs,
      log,
      initiator,
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
   * Decides a pending epoch with the other participants of its ceremony (for a reshare: the dealers, removed
   * ones included, and the new members). Activation needs every participant's confirmation, and a participant
   * persists its pending outcome before it confirms, so:
   * - a participant already on the pending epoch (same transcript; for a removed dealer, the marker of the epoch
   *   that removed it) proves every participant confirmed: activate;
   * - a participant with neither that epoch active nor it pending never confirmed (a newcomer holding nothing
   *   answers so too), so nobody activated: discard;
   * - every other participant holding the same pending outcome: all confirmed, activate;
   * - otherwise (someone unreachable) wait and ask again later.
   */
  async resolvePending(name: string): Promise<PendingResolution> {
    const entry = this.o.keys.get(name);
    const pending = entry?.pending;
    if (!pending || this.running.has(name)) return pending ? 'waiting' : 'activated';
    const g = pending.group;
    const others = (entry.pendingParticipants ?? g.members).filter((m) => m !== this.o.self);
    const answers = [...(await this.statusOf(groupKey(g).toBytes(true), others)).values()];
    const isActive = (s: KeyStatusMsg) => holdsEpoch(s, g);
    const isPending = (s: KeyStatusMsg) =>
      s.hasPending && s.pendingEpoch === g.epoch && equalBytes(s.pendingTranscript, g.transcript);
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

  /** Asks each of `parties` what it holds of the key with this group key; undefined for who did not answer. */
  async statusOf(key: Uint8Array, parties: readonly string[]): Promise<StatusAnswers> {
    const answers = await Promise.all(
      parties.map(async (m) => {
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
    return new Map(parties.map((m, i) => [m, answers[i]]));
  }

  /**
   * Tells a party what this one holds of a key: its settled epoch (active, or the one that removed this party)
   * and any pending one. Only to parties of those epochs' groups or ceremonies; anyone else hears "nothing",
   * which is also the truth for what concerns it (a newcomer is a participant of any ceremony it took part in).
   */
  private onStatusQuery(env: Envelope, from: string): undefined {
    const q = codecs.keyStatusQuery.decode(env.payload, { from });
    const { settled, pending } = this.o.keys.epochs(bytesToHex(q.groupKey));
    const involves = (v?: { group: KeyGroup; participants: readonly string[] }) =>
      v !== undefined && (v.group.members.includes(from) || v.participants.includes(from));
    const member = involves(settled) || involves(pending);
    const s = member ? settled?.group : undefined;
    const p = member ? pending?.group : undefined;
    const status: KeyStatusMsg = {
      groupKey: q.groupKey,
      epoch: s ? s.epoch : 0,
      transcript: s ? s.transcript : new Uint8Array(),
      hasPending: p !== undefined,
      pendingEpoch: p ? p.epoch : 0,
      pendingTranscript: p ? p.transcript : new Uint8Array(),
      membersDigest: s ? membersDigest(s) : new Uint8Array(),
      hasShare: member && settled?.share === true,
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
