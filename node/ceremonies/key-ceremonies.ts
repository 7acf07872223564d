/**
 * DKG, refresh and reshare between daemons: the initiator invites every participant, each checks the invite
 * against its own configuration and keys, and all run the same pure ceremony through a VssSession.
 *
 * Refresh and reshare change a key that exists, so they run only on a custody proposal signed by the current
 * key (proposals.ts): t members, each under its own policy, approved exactly this change, and every participant
 * checks that signature before it deals or accepts anything. Outcomes activate only on a certificate of every
 * participant's signed confirmation (certificates.ts); a pending epoch is settled with the other participants
 * by signed evidence only (their signatures, their renouncements), or by this party's operator explicitly.
 *
 * Reshare dealers: every current member that answers on the current epoch deals. All of them when all are
 * reachable, so that every removed member takes part and erases its share; at least the current threshold
 * otherwise (a lost device can still be removed), and the outcome names the removed members that did not take
 * part: their old shares were not erased by the protocol (they cannot combine with the new ones).
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { RNG } from '@noble/curves/abstract/frost.js';
import { randomBytes } from '@noble/curves/utils.js';
import { DEFAULT_NETWORK, type NetworkName } from '../../chains/bitcoin/network-names.ts';
import type { RecoveryPolicyJson } from '../../chains/bitcoin/recovery.ts';
import type { CeremonyContext } from '../../protocol/context.ts';
import { bytesToHex, equalBytes } from '../../protocol/curve.ts';
import { createDkg } from '../../protocol/dkg.ts';
import { errorMessage, FrostnetError, isFrostnetError, toFrostnetError } from '../../protocol/errors.ts';
import {
  groupKey,
  type KeyGroup,
  type KeyShare,
  type KeyShareJSON,
  keyGroupFromJSON,
  keyGroupToJSON,
  validateParameters,
} from '../../protocol/keys.ts';
import {
  type CustodyProposal,
  makeProposal,
  type ProposalKind,
  type ProposalPlan,
  proposalDigest,
} from '../../protocol/proposal.ts';
import { createRefresh } from '../../protocol/refresh.ts';
import { createReshare, type ReshareResult } from '../../protocol/reshare.ts';
import { hashFields } from '../../protocol/transcript.ts';
import type { VssCeremony } from '../../protocol/vss.ts';
import type { Logger } from '../ops/log.ts';
import {
  type CeremonyInvite,
  codecs,
  type EpochCertificate,
  type KeyStatusMsg,
  type KeyStatusQueryMsg,
  ROUND,
  type SignedProposal,
  signedProposalFromWire,
} from '../session/messages.ts';
import { DeferredSession, type Router, type Session } from '../session/router.ts';
import { request, type Send } from '../session/rpc.ts';
import type { Signatures } from '../storage/identity.ts';
import {
  type KeyEntry,
  type KeyStore,
  type StoredConfirmations,
  validateKeyName,
} from '../storage/keystore.ts';
import { answerTo, type Envelope, envelope } from '../transport/wire.ts';
import { Confirmations, renouncementStatement } from './certificates.ts';
import { keyAttributes, recoveryText, wireNetwork, wireRecovery } from './key-network.ts';
import {
  type ApproveProposal,
  type CeremonyReport,
  checkInvitedProposal,
  DEFAULT_PROPOSAL_SECONDS,
} from './proposals.ts';
import { type VssCeremonyName, VssSession } from './vss-session.ts';

export type KeyCeremoniesOptions = {
  self: string;
  keys: KeyStore;
  router: Router;
  send: Send;
  signatures: Signatures;
  /** Has a custody proposal signed by the key's members (proposals.ts proposalApprover). */
  approve: ApproveProposal;
  /**
   * Throws unless this party's policy agrees to make key `keyName` with recovery policy `recovery` (a path that
   * hands the coins to its key's holder after N blocks): asked of every member, initiator included, before it
   * deals. The daemon passes its party policy's check; without it every recovery path is refused.
   */
  acceptRecovery?: (keyName: string, recovery: RecoveryPolicyJson) => void;
  /** Peer ids this party is configured to talk to. */
  peers: () => string[];
  roundTimeoutMs: number;
  log: Logger;
  /** Milliseconds since the epoch. */
  clock?: () => number;
  /**
   * The ceremonies' randomness: every polynomial and nonce they deal, and their session ids. Cryptographic
   * randomness unless a test seeds it (then a whole ceremony replays byte for byte).
   */
  rng?: RNG;
  /** Called when a ceremony ends, for metrics. */
  onOutcome?: (ceremony: VssCeremonyName, ok: boolean, ms: number) => void;
  /**
   * Subscribes to lost connections (the host's onDisconnect): a ceremony that waits for a participant whose
   * connection closes fails at once, as UNREACHABLE, instead of after the round timeout.
   */
  onDisconnect?: (listener: (party: string) => void) => () => void;
};

/**
 * Where a pending epoch stands after settling it with the others: activated (its certificate is complete),
 * discarded (no certificate can ever form: this party never committed and nobody else did, or t others
 * renounced it), or still waiting.
 */
export type PendingResolution = 'activated' | 'discarded' | 'waiting';

/** What a reshare did: this party's outcome, who dealt, and removed members that took no part. */
export type ReshareOutcome = { result: ReshareResult; dealers: string[]; notErased: string[] };

/** What a custody ceremony's requester may choose: how long the proposal stays valid. */
export type ProposalOptions = { expiresInSeconds?: number };

/** The pause between two rounds of a survey of the members' status. */
const SURVEY_PAUSE_MS = 200;

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

/** A pending epoch's confirmations as gathered so far, or undefined in a record from before certificates. */
const pendingConfirmations = (e: KeyEntry): Confirmations | undefined =>
  e.pendingConfirmations &&
  e.pending &&
  Confirmations.fromJSON(e.pendingConfirmations, e.pendingParticipants ?? e.pending.group.members);

export class KeyCeremonies {
  private readonly o: KeyCeremoniesOptions;
  private readonly clock: () => number;
  private readonly rng: RNG;
  /** Ceremonies running per key name, to start the next one for a key only after it. */
  private readonly running = new Map<string, Promise<unknown>>();
  /** The sessions running, told when a participant's connection closes. */
  private readonly sessions = new Set<VssSession<ReshareResult>>();

  constructor(o: KeyCeremoniesOptions) {
    this.o = o;
    this.clock = o.clock ?? Date.now;
    this.rng = o.rng ?? randomBytes;
    o.onDisconnect?.((party) => {
      for (const s of this.sessions) s.lost(party);
    });
    for (const ceremony of ['DKG', 'REFRESH', 'RESHARE'] as const)
      o.router.onOpen(ceremony, ROUND.session.invite, (env, from) => this.onInviteOrRefuse(env, from));
    o.router.onOpen('CONTROL', ROUND.control.keyStatusQuery, (env, from) => this.onStatusQuery(env, from));
  }

  /** Starts a DKG as its initiator; resolves with this party's share once every member confirmed. */
  async dkg(
    name: string,
    threshold: number,
    members: string[],
    report: CeremonyReport = {},
    network: NetworkName = DEFAULT_NETWORK,
    recovery?: RecoveryPolicyJson,
  ): Promise<KeyShare> {
    validateKeyName(name);
    validateParameters(threshold, members);
    if (!members.includes(this.o.self))
      throw new FrostnetError('INVALID_INPUT', 'this party must be one of the members of a key it creates');
    this.checkPeers(members);
    if (this.o.keys.get(name)) throw new FrostnetError('CONFLICT', `a key named ${name} already exists`);
    if (recovery) this.acceptRecovery(name, recovery);
    const invite: CeremonyInvite = {
      keyName: name,
      threshold,
      members,
      groupKey: new Uint8Array(),
      epoch: 0,
      network,
      recovery: recoveryText(recovery),
    };
    return (await this.initiate('DKG', this.rng(32), invite, members, report)) as KeyShare;
  }

  /** This party's policy's consent to a key's recovery path (KeyCeremoniesOptions.acceptRecovery). */
  private acceptRecovery(name: string, recovery: RecoveryPolicyJson): void {
    if (!this.o.acceptRecovery)
      throw new FrostnetError('POLICY_DENIED', `this party accepts no recovery path (for key ${name})`);
    this.o.acceptRecovery(name, recovery);
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

  /**
   * Has a custody proposal of `kind` for `name`'s current epoch signed by t members: what refresh, reshare and
   * repair run on. The session id is the ceremony's.
   */
  async propose(
    kind: ProposalKind,
    name: string,
    group: KeyGroup,
    plan: ProposalPlan,
    report: CeremonyReport,
    opts: ProposalOptions = {},
  ): Promise<SignedProposal> {
    const now = this.clock();
    const seconds = opts.expiresInSeconds ?? DEFAULT_PROPOSAL_SECONDS;
    const proposal = makeProposal(kind, name, group, plan, {
      sessionId: this.rng(32),
      proposer: this.o.self,
      expiresAt: Math.floor(now / 1000) + seconds,
      now: Math.floor(now / 1000),
    });
    report.progress?.(`asking the members to approve the ${kind} of ${name}`);
    return this.o.approve(name, group, proposal, report);
  }

  /** Starts a refresh of `name` among all its members, once t of them approved it. */
  async refresh(name: string, report: CeremonyReport = {}, opts: ProposalOptions = {}): Promise<KeyShare> {
    const g = this.o.keys.settled(name).group;
    this.checkPeers(g.members);
    const plan = { threshold: g.threshold, members: [...g.members], dealers: [...g.members] };
    const signed = await this.propose('refresh', name, g, plan, report, opts);
    this.o.keys.settled(name); // nothing moved the key while its members approved
    const invite: CeremonyInvite = {
      keyName: name,
      threshold: g.threshold,
      members: [...g.members],
      groupKey: groupKey(g).toBytes(true),
      epoch: g.epoch,
      proposal: signed,
      network: this.networkOf(name),
      recovery: recoveryText(this.o.keys.get(name)?.recovery),
    };
    return (await this.initiate('REFRESH', signed.proposal.sessionId, invite, g.members, report)) as KeyShare;
  }

  /**
   * Starts a reshare of `name` to `members` with threshold `threshold`, keeping the group key, once t members
   * approved it. Every new member must be reachable; current members on the current epoch deal (see the header).
   */
  async reshare(
    name: string,
    threshold: number,
    members: string[],
    report: CeremonyReport = {},
    opts: ProposalOptions = {},
  ): Promise<ReshareOutcome> {
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
    const signed = await this.propose('reshare', name, g, { threshold, members, dealers }, report, opts);
    this.o.keys.settled(name);
    const invite: CeremonyInvite = {
      keyName: name,
      threshold,
      members: [...members],
      groupKey: groupKey(g).toBytes(true),
      epoch: g.epoch,
      dealers,
      currentGroup: JSON.stringify(keyGroupToJSON(g)),
      proposal: signed,
      network: this.networkOf(name),
      recovery: recoveryText(this.o.keys.get(name)?.recovery),
    };
    const participants = union(dealers, members);
    const result = await this.initiate('RESHARE', signed.proposal.sessionId, invite, participants, report);
    return { result, dealers, notErased };
  }

  /** The network of a key this party holds, as an invite carries it ("" for none stored). */
  private networkOf(name: string): string {
    return this.o.keys.get(name)?.network ?? '';
  }

  /** `m` can deal from `g`: it holds a share of its epoch, lists the same members, and settles nothing. */
  private onEpoch(answers: StatusAnswers, m: string, g: KeyGroup): boolean {
    const s = answers.get(m);
    return holdsMembership(s, g) && !s?.hasPending;
  }

  /**
   * Every party's status for `g`'s key; a member still settling an epoch (its previous ceremony ends a moment
   * after the initiator's) is asked again, every 200 ms for up to one round timeout. That bound counts the
   * pauses, not the clock: it is a retry budget in real time, and a clock that stands still must not make it
   * endless.
   */
  async survey(g: KeyGroup, parties: readonly string[]): Promise<StatusAnswers> {
    for (let paused = 0; ; paused += SURVEY_PAUSE_MS) {
      const answers = await this.statusOf(groupKey(g).toBytes(true), parties);
      if (![...answers.values()].some((s) => s?.hasPending) || paused >= this.o.roundTimeoutMs)
        return answers;
      await sleep(SURVEY_PAUSE_MS);
    }
  }

  /**
   * Runs the ceremony as its initiator. Should it end without a certificate after this party confirmed, the
   * requester hears that it is settling, and then its real outcome: it activates once the certificate reaches
   * this party, or fails only if this party's operator abandons the pending epoch.
   */
  private async initiate(
    ceremony: VssCeremonyName,
    sessionId: Uint8Array,
    invite: CeremonyInvite,
    participants: readonly string[],
    report: CeremonyReport,
  ): Promise<ReshareResult> {
    const session = this.createSession(ceremony, sessionId, invite, this.o.self);
    // Started before anyone is invited, so no answer can reach it unstarted; invitees buffer what races ahead.
    session.start();
    this.o.router.add(ceremony, sessionId, session);
    const payload = codecs.invite.encode(invite);
    await Promise.all(
      participants
        .filter((m) => m !== this.o.self)
        .map((m) =>
          this.o
            .send(m, envelope({ sessionId, ceremony, sender: this.o.self }, ROUND.session.invite, payload))
            .catch((e) => {
              this.o.log.warn('invite not delivered', { to: m, reason: errorMessage(e) });
              // No ceremony completes without every participant: one the invite cannot reach ends it now.
              if (isFrostnetError(e) && e.code === 'UNREACHABLE')
                session.lost(m, 'was not reached by its invite');
            }),
        ),
    );
    try {
      return await session.done;
    } catch (e) {
      if (!session.prepared) throw e;
      return this.untilSettled(invite.keyName, sessionId, e as FrostnetError, report);
    }
  }

  /** Waits until the pending epoch of this session activates here, or is discarded (by evidence or the operator). */
  private async untilSettled(
    name: string,
    sessionId: Uint8Array,
    cause: FrostnetError,
    report: CeremonyReport,
  ): Promise<ReshareResult> {
    const session = bytesToHex(sessionId);
    for (let pause = 500; ; pause = Math.min(pause * 2, 30_000)) {
      const e = this.o.keys.get(name);
      if (e?.pending && e.pendingConfirmations?.sessionId === session) {
        report.settling?.(pendingConfirmations(e)?.missing);
        if ((await this.resolvePending(name).catch(() => 'waiting')) === 'waiting') await sleep(pause);
        continue;
      }
      report.settling?.(undefined);
      const removed = this.o.keys.removed(name);
      if (e?.activeCertificate?.sessionId === session) return this.o.keys.active(name);
      if (removed?.certificate?.sessionId === session) return { removed: true, group: removed.group };
      throw new FrostnetError(
        cause.code,
        `${cause.message}; its outcome never activates (no certificate can form, or this party's operator abandoned it): every party keeps the epoch it had`,
        cause.culprits,
      );
    }
  }

  /**
   * onInvite, telling the initiator why when this party refuses, so that it fails at once with the reason
   * instead of waiting for a timeout. Only the initiator is told: one answer per invite.
   */
  private onInviteOrRefuse(env: Envelope, from: string): Session {
    try {
      return this.onInvite(env, from);
    } catch (e) {
      const err = toFrostnetError(e);
      const payload = codecs.abort.encode({ code: err.code, reason: err.message, culprits: [] });
      void this.o
        .send(from, answerTo(env, this.o.self, ROUND.session.abort, payload))
        .catch((x) => this.o.log.warn('refusal not delivered', { to: from, reason: errorMessage(x) }));
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
      const session = this.createSession(ceremony, env.sessionId, invite, from);
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
        this.o.log.warn('held invite refused', { from, ceremony, reason: errorMessage(e) });
      }
    });
    return held;
  }

  /**
   * The pure ceremony an invite asks for, checked against this party's keys and, for a refresh or reshare, the
   * signed custody proposal it carries (checked by the initiator too: its own proposal must still fit).
   */
  private ceremonyFor(
    ceremony: VssCeremonyName,
    sessionId: Uint8Array,
    invite: CeremonyInvite,
    from: string,
  ): {
    vss: VssCeremony<ReshareResult>;
    create: boolean;
    participants?: string[];
    network: NetworkName | undefined;
    recovery: RecoveryPolicyJson | undefined;
  } {
    const name = invite.keyName;
    const entry = this.o.keys.get(name);
    // A member keeps the network and recovery policy it holds; a newcomer takes the invite's. Both bind them
    // into the context, so the ceremony fails unless every party has the same.
    const network = entry ? entry.network : wireNetwork(invite.network, from);
    const recovery = entry ? entry.recovery : wireRecovery(invite.recovery, from);
    const attributes = keyAttributes(network, recovery);
    if (ceremony === 'DKG') {
      if (entry) throw new FrostnetError('CONFLICT', `a key named ${name} already exists here`);
      if (recovery) this.acceptRecovery(name, recovery);
      const ctx: CeremonyContext = {
        kind: 'dkg',
        sessionId,
        threshold: invite.threshold,
        dealers: invite.members,
        receivers: invite.members,
        self: this.o.self,
        attributes,
      };
      return { vss: createDkg(ctx, this.rng), create: true, network, recovery };
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
    const signed = signedProposalFromWire(invite.proposal, from);
    if (ceremony === 'REFRESH') {
      const share = this.o.keys.active(name);
      if (!sameMembers(invite.members, share.group))
        throw new FrostnetError(
          'EPOCH_MISMATCH',
          `refresh of ${name} lists other members than this party does: a vouch made on some members only?`,
        );
      const p = this.approved('refresh', signed, invite, sessionId, share.group, from, [
        ...share.group.members,
      ]);
      return {
        vss: createRefresh(sessionId, this.o.self, share, {
          proposal: proposalDigest(p),
          attributes,
          rng: this.rng,
        }),
        create: false,
        network,
        recovery,
      };
    }
    const base = this.currentGroupOf(invite, from);
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
      const p = this.approved('reshare', signed, invite, sessionId, mine.group, from, plan.dealers);
      return {
        vss: createReshare(sessionId, this.o.self, mine, plan, {
          proposal: proposalDigest(p),
          attributes,
          rng: this.rng,
        }),
        create: false,
        participants,
        network,
        recovery,
      };
    }
    if (base.members.includes(this.o.self))
      throw new FrostnetError(
        'UNKNOWN_KEY',
        `this party is a member of ${name} but holds no share of it: repair it first ("frostnet repair")`,
      );
    if (this.o.keys.byGroupKey(bytesToHex(invite.groupKey)))
      throw new FrostnetError('CONFLICT', `this party already holds that key under another name`);
    // A newcomer knows the group only from the invite: it takes part only if the signed proposal vouches for
    // exactly that group.
    const p = this.approved('reshare', signed, invite, sessionId, base, from, plan.dealers);
    return {
      vss: createReshare(sessionId, this.o.self, base, plan, {
        proposal: proposalDigest(p),
        attributes,
        rng: this.rng,
      }),
      create: true,
      participants,
      network,
      recovery,
    };
  }

  /** The signed proposal behind a refresh or reshare invite, checked against `group` (proposals.ts). */
  private approved(
    kind: 'refresh' | 'reshare',
    signed: SignedProposal | undefined,
    invite: CeremonyInvite,
    sessionId: Uint8Array,
    group: KeyGroup,
    from: string,
    dealers: string[],
  ): CustodyProposal {
    return checkInvitedProposal(
      signed,
      {
        kind,
        keyName: invite.keyName,
        sessionId,
        plan: { threshold: invite.threshold, members: invite.members, dealers },
      },
      group,
      from,
      this.clock(),
    );
  }

  /** A reshare invite's current group (what a newcomer learns of the key), naming the key the invite names. */
  private currentGroupOf(invite: CeremonyInvite, from: string): KeyGroup {
    let base: KeyGroup;
    try {
      base = keyGroupFromJSON(JSON.parse(invite.currentGroup ?? '') as KeyShareJSON['group']);
    } catch (e) {
      throw new FrostnetError(
        'INVALID_INPUT',
        `reshare invite from ${from}: bad current group (${errorMessage(e)})`,
        [from],
      );
    }
    if (!equalBytes(groupKey(base).toBytes(true), invite.groupKey) || base.epoch !== invite.epoch)
      throw new FrostnetError(
        'INVALID_INPUT',
        `reshare invite from ${from}: its group is not the key and epoch it names`,
        [from],
      );
    return base;
  }

  private createSession(
    ceremony: VssCeremonyName,
    sessionId: Uint8Array,
    invite: CeremonyInvite,
    initiator: string,
  ): VssSession<ReshareResult> {
    const name = invite.keyName;
    if (this.running.has(name))
      throw new FrostnetError('CONFLICT', `a ceremony for key ${name} is already running`);
    const { vss, create, participants, network, recovery } = this.ceremonyFor(
      ceremony,
      sessionId,
      invite,
      initiator,
    );
    const started = this.clock();
    const log = this.o.log.child({ ceremony, key: name, session: bytesToHex(sessionId).slice(0, 16) });
    const session = new VssSession({
      ceremony,
      sessionId,
      self: this.o.self,
      initiator,
      vss,
      send: this.o.send,
      signatures: this.o.signatures,
      onPrepared: (outcome, c) =>
        this.o.keys.setPending(name, outcome, {
          create,
          participants,
          confirmations: c.toJSON(),
          network,
          recovery,
        }),
      onCommitted: (c) => this.o.keys.setPendingConfirmations(name, c.toJSON()),
      onResult: async (_outcome, certificate) => {
        await this.o.keys.activatePending(name, certificate.toJSON());
      },
      onUnsettled: (c) => this.o.keys.setPendingConfirmations(name, c.toJSON()),
      roundTimeoutMs: this.o.roundTimeoutMs,
      log,
    });
    this.running.set(
      name,
      session.done.catch(() => {}),
    );
    this.sessions.add(session);
    void session.done.catch(() => {}).finally(() => this.sessions.delete(session));
    session.done.then(
      () => {
        this.running.delete(name);
        this.o.router.remove(ceremony, sessionId);
        this.o.onOutcome?.(ceremony, true, this.clock() - started);
        log.info('ceremony complete');
      },
      (e: FrostnetError) => {
        this.running.delete(name);
        this.o.router.remove(ceremony, sessionId);
        this.o.onOutcome?.(ceremony, false, this.clock() - started);
        log.warn('ceremony failed', { code: e.code, reason: e.message, culprits: [...e.culprits] });
        // A pending outcome this party confirmed waits for its certificate from the others.
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
   * Settles `name`'s pending epoch with the other participants, on signed evidence only (certificates.ts):
   * - their signatures of the confirmation (from their pending epoch, or the certificate of the epoch they
   *   activated): once every participant's is in, it activates;
   * - another participant's signature while this party has not committed: it commits too;
   * - this party never committed, and every other participant answered without a signature: no certificate can
   *   form without this party, so it discards the outcome (and will renounce it when asked);
   * - this party committed, and t other participants renounced the outcome: one of them is honest, so no
   *   certificate can form, and it discards it.
   * Otherwise it waits. A pending epoch from before certificates existed waits for its operator.
   */
  async resolvePending(name: string): Promise<PendingResolution> {
    const entry = this.o.keys.get(name);
    if (!entry?.pending) return 'activated';
    const gathered = pendingConfirmations(entry);
    if (this.running.has(name) || !gathered) return 'waiting';
    const g = entry.pending.group;
    const others = (entry.pendingParticipants ?? g.members).filter((m) => m !== this.o.self);
    const mine = gathered.has(this.o.self) ? [this.o.self] : [];
    const answers = await this.statusOf(groupKey(g).toBytes(true), others, gathered.toWire(mine));
    const renouncing = new Set<string>();
    const renounced = renouncementStatement(gathered.sessionId, gathered.confirmation);
    for (const [party, s] of answers) {
      if (!s) continue;
      await gathered.merge(s.pendingConfirmations, this.o.signatures);
      await gathered.merge(s.certificate, this.o.signatures);
      if (s.renouncement?.length && (await this.o.signatures.verify(party, renounced, s.renouncement)))
        renouncing.add(party);
    }
    if (this.o.keys.get(name)?.pending !== entry.pending || this.running.has(name)) return 'waiting';
    const committed = gathered.has(this.o.self);
    const othersSigned = others.some((p) => gathered.has(p));
    if (!committed && othersSigned) await this.commitPending(name, gathered);
    if (gathered.complete) {
      await this.o.keys.activatePending(name, gathered.toJSON());
      this.o.log.info('pending epoch activated on its certificate', { key: name, epoch: g.epoch });
      return 'activated';
    }
    const allAnswered = others.every((p) => answers.get(p) !== undefined);
    // Renouncements count from t distinct parties: at most t-1 are assumed to lie, of the old group or the new.
    const t = Math.max(g.threshold, entry.active?.group.threshold ?? 0);
    const never = !committed && !othersSigned && allAnswered;
    if (never || (gathered.has(this.o.self) && renouncing.size >= t)) {
      await this.o.keys.discardPending(name);
      this.o.log.warn('pending epoch discarded: no certificate can form', {
        key: name,
        epoch: g.epoch,
        committed: gathered.has(this.o.self),
        renouncing: [...renouncing],
      });
      return 'discarded';
    }
    await this.o.keys.setPendingConfirmations(name, gathered.toJSON());
    return 'waiting';
  }

  /** Signs this party's confirmation of its pending outcome: another participant committed to it. */
  private async commitPending(name: string, c: Confirmations): Promise<void> {
    c.add(this.o.self, await this.o.signatures.sign(c.statement));
    await this.o.keys.setPendingConfirmations(name, c.toJSON());
  }

  /** Settles every pending epoch that can be (after a restart); returns where each stands. */
  async resolveAllPending(): Promise<Record<string, PendingResolution>> {
    const out: Record<string, PendingResolution> = {};
    for (const e of this.o.keys.list()) if (e.pending) out[e.name] = await this.resolvePending(e.name);
    return out;
  }

  /**
   * The operator's decision to drop `name`'s pending epoch, which no certificate settled: this party goes on
   * with its old share. Refused while a ceremony of the key runs. Returns whose confirmations were missing.
   */
  async abandonPending(name: string): Promise<{ epoch: number; missing: string[]; creating: boolean }> {
    return this.whileIdle(name, async () => {
      const e = this.o.keys.get(name);
      if (!e?.pending) throw new FrostnetError('CONFLICT', `key ${name} has no pending epoch to abandon`);
      const missing = pendingConfirmations(e)?.missing ?? [];
      const epoch = e.pending.group.epoch;
      await this.o.keys.discardPending(name);
      this.o.log.warn('pending epoch abandoned by the operator', { key: name, epoch, missing });
      return { epoch, missing, creating: e.active === undefined };
    });
  }

  /**
   * Asks each of `parties` what it holds of the key with this group key (and, with `pending`, of that pending
   * outcome); undefined for who did not answer.
   */
  async statusOf(
    key: Uint8Array,
    parties: readonly string[],
    pending?: EpochCertificate,
  ): Promise<StatusAnswers> {
    const answers = await Promise.all(
      parties.map(async (m) => {
        try {
          const env = await request(
            { router: this.o.router, send: this.o.send, self: this.o.self },
            m,
            'CONTROL',
            ROUND.control.keyStatusQuery,
            codecs.keyStatusQuery.encode({ groupKey: key, pending: pending ?? null }),
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
   * with its certificate, and any pending one with the confirmations gathered for it. Only to parties of those
   * epochs' groups or ceremonies; anyone else hears "nothing", which is also the truth for what concerns it (a
   * newcomer is a participant of any ceremony it took part in).
   *
   * A query about a pending outcome of the asker's gets, besides: this party's commit to it if the asker's
   * signature shows that someone committed (this party prepared the same outcome), or this party's signed
   * renouncement if it holds nothing of that outcome and runs no ceremony of the key that could still make it.
   */
  private onStatusQuery(env: Envelope, from: string): undefined {
    const q = codecs.keyStatusQuery.decode(env.payload, { from });
    void this.statusFor(q, from).then(
      (status) =>
        this.o
          .send(from, answerTo(env, this.o.self, ROUND.control.keyStatus, codecs.keyStatus.encode(status)))
          .catch((err) =>
            this.o.log.warn('status answer not delivered', { to: from, reason: errorMessage(err) }),
          ),
      (err) => this.o.log.warn('status query not answered', { from, reason: errorMessage(err) }),
    );
    return undefined;
  }

  private async statusFor(q: KeyStatusQueryMsg, from: string): Promise<KeyStatusMsg> {
    const hex = bytesToHex(q.groupKey);
    let { settled, pending } = this.o.keys.epochs(hex);
    const involves = (v?: { group: KeyGroup; participants: readonly string[] }) =>
      v !== undefined && (v.group.members.includes(from) || v.participants.includes(from));
    const member = involves(settled) || involves(pending);
    const asked = member ? q.pending : undefined;
    let renouncement: Uint8Array = new Uint8Array();
    if (asked) {
      const entry = this.o.keys.byGroupKey(hex);
      const held = entry && pendingConfirmations(entry);
      const settledBy = settled?.confirmations;
      if (held?.matches(asked)) {
        // The asker committed (its signature says every participant prepared): commit too.
        const before = held.has(this.o.self);
        await held.merge(
          { ...asked, signatures: asked.signatures.filter((x) => x.party === from) },
          this.o.signatures,
        );
        if (!before && held.has(from) && !this.running.has(entry!.name)) {
          await this.commitPending(entry!.name, held);
          ({ settled, pending } = this.o.keys.epochs(hex));
        }
      } else if (
        !(settledBy && settledBy.sessionId === bytesToHex(asked.sessionId)) &&
        !(entry && this.running.has(entry.name))
      )
        renouncement = await this.o.signatures.sign(
          renouncementStatement(asked.sessionId, asked.confirmation),
        );
    }
    const s = member ? settled?.group : undefined;
    const p = member ? pending?.group : undefined;
    const wire = (c: StoredConfirmations | undefined, participants: readonly string[]) =>
      c ? Confirmations.fromJSON(c, participants).toWire() : null;
    return {
      groupKey: q.groupKey,
      epoch: s ? s.epoch : 0,
      transcript: s ? s.transcript : new Uint8Array(),
      hasPending: p !== undefined,
      pendingEpoch: p ? p.epoch : 0,
      pendingTranscript: p ? p.transcript : new Uint8Array(),
      membersDigest: s ? membersDigest(s) : new Uint8Array(),
      hasShare: member && settled?.share === true,
      pendingConfirmations: p ? wire(pending?.confirmations, pending!.participants) : null,
      certificate: s ? wire(settled?.confirmations, settled!.participants) : null,
      renouncement,
    };
  }
}
