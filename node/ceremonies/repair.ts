/**
 * Share repair between daemons (protocol/repair.ts): a member's daemon asks t helpers, itself first, to rebuild
 * the share of a member that lost it. Each helper splits its weighted share into deltas for the other helpers
 * (step 1), sums what it gets into a sigma for the lost party (step 2); the lost party sums the sigmas (step 3),
 * checks the result against its verifying share and stores it. No helper learns the share.
 *
 * The lost party holds nothing, so the invite carries the public key group; it accepts a share only if every
 * helper (at least t of them) vouches for that same group in its sigma, and the share matches the verifying
 * share the group lists for it. Values travel on authenticated, encrypted streams between configured peers
 * only, so the share goes to the peer that the helpers' groups list for the lost identifier, and to nobody else.
 *
 * A member whose whole device is gone comes back with a new identity. Each member's operator then vouches for
 * it (vouch below): that member's group lists the new peer id under the old identifier. Every helper checks on
 * its own that the lost party is a member of its group, so the new identity gets a share only when t members
 * vouched for it; the coordinator asks only helpers whose member lists match its own, so that none refuses.
 */
import type { RNG } from '@noble/curves/abstract/frost.js';
import type { NetworkName } from '../../chains/bitcoin/network-names.ts';
import type { RecoveryPolicyJson } from '../../chains/bitcoin/recovery.ts';
import { bytesToHex, equalBytes } from '../../protocol/curve.ts';
import { type ErrorCode, errorMessage, FrostnetError, toFrostnetError } from '../../protocol/errors.ts';
import {
  groupDigest,
  groupKey,
  type KeyGroup,
  type KeyShare,
  type KeyShareJSON,
  keyGroupFromJSON,
  keyGroupToJSON,
} from '../../protocol/keys.ts';
import { type RepairPlan, repairStep1, repairStep2, repairStep3 } from '../../protocol/repair.ts';
import type { Logger } from '../ops/log.ts';
import { CeremonySession, type SessionLink, sendAbort } from '../session/kernel.ts';
import { codecs, type RepairInviteMsg, ROUND, signedProposalFromWire } from '../session/messages.ts';
import type { Router, Session } from '../session/router.ts';
import type { Send } from '../session/rpc.ts';
import { parsePeerId } from '../storage/identity.ts';
import { type KeyStore, validateKeyName } from '../storage/keystore.ts';
import { type Envelope, envelope } from '../transport/wire.ts';
import { holdsMembership, holdsShare, type KeyCeremonies, type ProposalOptions } from './key-ceremonies.ts';
import { recoveryText, wireNetwork, wireRecovery } from './key-network.ts';
import { type CeremonyReport, checkInvitedProposal } from './proposals.ts';

/** Codes a participant's abort may carry on; anything else reads as a failed repair. */
const ABORT_CODES: readonly ErrorCode[] = [
  'INVALID_SHARE',
  'INVALID_INPUT',
  'EQUIVOCATION',
  'UNEXPECTED_SENDER',
  'TIMEOUT',
  'CONFLICT',
  'EPOCH_MISMATCH',
];

/**
 * `network`, `recovery`: the key's, a helper's own or the lost party's from the invite (undefined: none stored).
 */
type KeyProps = { network: NetworkName | undefined; recovery: RecoveryPolicyJson | undefined };
type Role =
  | ({ kind: 'helper'; share: KeyShare } & KeyProps)
  | ({ kind: 'lost'; group: KeyGroup; keyName: string } & KeyProps);

type RepairSessionOptions = {
  sessionId: Uint8Array;
  self: string;
  /** The helper that asked for the repair; the lost party reports to it. */
  coordinator: string;
  plan: RepairPlan;
  role: Role;
  send: Send;
  /** Stores the repaired share (lost party only). */
  store: (keyName: string, share: KeyShare, props: KeyProps) => Promise<void>;
  roundTimeoutMs: number;
  log: Logger;
  /** The helper's randomness for its deltas (repairStep1's default when absent). */
  rng?: RNG;
};

/** One party's part in one repair. `done` gives the repaired epoch (coordinator, lost party) or undefined. */
class RepairSession extends CeremonySession<number | undefined> {
  private readonly o: RepairSessionOptions;
  private readonly digest: Uint8Array;
  private readonly deltas = new Map<string, Uint8Array>();
  private readonly sigmas = new Map<string, Uint8Array>();
  private sentSigma = false;
  private repairing = false;

  constructor(o: RepairSessionOptions) {
    super(repairLink(o), [...o.plan.helpers, o.plan.lost], o.roundTimeoutMs);
    this.o = o;
    this.digest = groupDigest(o.role.kind === 'helper' ? o.role.share.group : o.role.group);
  }

  start(): void {
    this.armTimer();
    const { role, plan, self } = this.o;
    if (role.kind !== 'helper') return;
    this.guard(() => {
      for (const [to, delta] of repairStep1(role.share, self, plan, this.o.rng)) {
        if (to === self) this.deltas.set(self, delta);
        else this.sendTo(to, ROUND.repair.delta, codecs.repairDelta.encode({ delta }));
      }
      this.maybeSigma();
    });
  }

  receive(env: Envelope, from: string): void {
    if (this.settled) return;
    if (!this.participants.includes(from) || from === this.o.self)
      throw new FrostnetError('UNEXPECTED_SENDER', `${from} takes no part in this repair`, [from]);
    if (env.round === ROUND.session.abort) {
      const a = this.readAbort(env, from, ABORT_CODES, 'INVALID_SHARE');
      // The coordinator passes it on, so that helpers told nothing (a refusal goes to it alone) stop too.
      this.fail(
        new FrostnetError(a.code, `${from} ended the repair: ${a.reason}`, a.culprits),
        this.isCoordinator,
      );
      return;
    }
    const { role, plan } = this.o;
    this.guard(() => {
      if (role.kind === 'helper' && env.round === ROUND.repair.delta && plan.helpers.includes(from)) {
        const { delta } = codecs.repairDelta.decode(env.payload, { from });
        this.once(this.deltas, from, delta);
        this.maybeSigma();
      } else if (role.kind === 'lost' && env.round === ROUND.repair.sigma && plan.helpers.includes(from)) {
        const m = codecs.repairSigma.decode(env.payload, { from });
        if (!equalBytes(m.groupDigest, this.digest))
          throw new FrostnetError(
            'INVALID_INPUT',
            `${from} holds another key group than the repair names; no share is accepted`,
            [from],
          );
        const network = wireNetwork(m.network, from);
        if (network !== role.network)
          throw new FrostnetError(
            'INVALID_INPUT',
            `${from} holds the key with network ${network ?? '(none)'}, the repair invite says ${role.network ?? '(none)'}; no share is accepted`,
            [...new Set([this.o.coordinator, from])],
          );
        const recovery = wireRecovery(m.recovery, from);
        if (recoveryText(recovery) !== recoveryText(role.recovery)) {
          const named = (p: RecoveryPolicyJson | undefined) =>
            p ? `a recovery policy of ${p.leaves.length} leaf(s)` : 'no recovery policy';
          throw new FrostnetError(
            'INVALID_INPUT',
            `${from} holds the key with ${named(recovery)}, the repair invite names ${recovery && role.recovery ? 'another one' : named(role.recovery)}; no share is accepted`,
            [...new Set([this.o.coordinator, from])],
          );
        }
        this.once(this.sigmas, from, m.sigma);
        this.maybeRepair(role);
      } else if (this.isCoordinator && env.round === ROUND.repair.done && from === plan.lost) {
        const { epoch } = codecs.repairDone.decode(env.payload, { from });
        this.finish(epoch);
      } else
        throw new FrostnetError('UNEXPECTED_SENDER', `${from} may not send round ${env.round} here`, [from]);
    });
  }

  private get isCoordinator(): boolean {
    return this.o.self === this.o.coordinator;
  }

  /** A retransmission is ignored; two different values from one sender end the repair. */
  private once(into: Map<string, Uint8Array>, from: string, value: Uint8Array): void {
    const before = into.get(from);
    if (before && !equalBytes(before, value))
      throw new FrostnetError('EQUIVOCATION', `${from} sent two different repair values`, [from]);
    into.set(from, value);
    this.armTimer();
  }

  /** Step 2 once every helper's delta is in: the sigma goes to the lost party. */
  private maybeSigma(): void {
    const { plan } = this.o;
    if (this.sentSigma || !plan.helpers.every((h) => this.deltas.has(h))) return;
    this.sentSigma = true;
    const sigma = repairStep2(plan.helpers, this.deltas);
    this.deltas.clear();
    this.sendTo(
      plan.lost,
      ROUND.repair.sigma,
      codecs.repairSigma.encode({
        sigma,
        groupDigest: this.digest,
        network: this.o.role.network ?? '',
        recovery: recoveryText(this.o.role.recovery),
      }),
    );
    // The coordinator waits for the lost party's word; the other helpers are done.
    if (!this.isCoordinator) this.finish(undefined);
  }

  /** Step 3 once every sigma is in: check, store, report to the coordinator. */
  private maybeRepair(role: Extract<Role, { kind: 'lost' }>): void {
    const { plan } = this.o;
    if (this.repairing || !plan.helpers.every((h) => this.sigmas.has(h))) return;
    this.repairing = true;
    const share = repairStep3(role.group, plan, this.sigmas);
    this.o.store(role.keyName, share, role).then(
      () => {
        this.sendTo(
          this.o.coordinator,
          ROUND.repair.done,
          codecs.repairDone.encode({ epoch: share.group.epoch }),
        );
        this.finish(share.group.epoch);
      },
      (e) => this.fail(toFrostnetError(e), true),
    );
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      // A stray or malformed message from a participant ends the repair: there is no second chance for it.
      this.fail(toFrostnetError(e), true);
    }
  }

  private sendTo(to: string, round: number, payload: Uint8Array): void {
    void this.sendRound(to, round, payload);
  }

  protected override onTimeout(): void {
    const { plan, role } = this.o;
    const waiting =
      role.kind === 'lost'
        ? plan.helpers.filter((h) => !this.sigmas.has(h))
        : this.sentSigma
          ? [plan.lost]
          : plan.helpers.filter((h) => !this.deltas.has(h));
    this.fail(
      new FrostnetError('TIMEOUT', `no repair answer from ${waiting.join(', ')} in time`, waiting),
      true,
    );
  }

  /** A helper's deltas are parts of its share: none outlives a failed repair. */
  protected override onFail(): undefined {
    this.deltas.clear();
    return undefined;
  }
}

/** The link of a repair session: the session, this party, the network and somewhere to log failed sends. */
const repairLink = (o: { sessionId: Uint8Array; self: string; send: Send; log: Logger }): SessionLink => ({
  sessionId: o.sessionId,
  ceremony: 'REPAIR',
  self: o.self,
  send: o.send,
  log: o.log,
});

export type RepairsOptions = {
  self: string;
  /** Milliseconds since the epoch. */
  clock?: () => number;
  /** A helper's randomness for its deltas; cryptographic unless a test seeds it. */
  rng?: RNG;
  keys: KeyStore;
  ceremonies: KeyCeremonies;
  router: Router;
  send: Send;
  /** Peer ids this party is configured to talk to. */
  peers: () => string[];
  roundTimeoutMs: number;
  log: Logger;
};

export type RepairOutcome = { name: string; party: string; helpers: string[]; epoch: number };

/** `peer` now holds `party`'s place in key `name` for this party. */
export type VouchOutcome = { name: string; party: string; peer: string; members: string[] };

export class Repairs {
  private readonly o: RepairsOptions;

  constructor(o: RepairsOptions) {
    this.o = o;
    o.router.onOpen('REPAIR', ROUND.session.invite, (env, from) => this.onInvite(env, from));
  }

  /**
   * Rebuilds `lost`'s share of `name` with t helpers: this party and the first members after it that answer on
   * the current epoch, once t members approved the repair (a custody proposal, key-ceremonies.ts). The lost
   * party must be reachable and must not hold the current epoch's share.
   */
  async repair(
    name: string,
    lost: string,
    report: CeremonyReport = {},
    opts: ProposalOptions = {},
  ): Promise<RepairOutcome> {
    const { self, keys, ceremonies } = this.o;
    const share = keys.settled(name);
    const g = share.group;
    if (lost === self)
      throw new FrostnetError(
        'INVALID_INPUT',
        "a party cannot repair its own share: ask another member's daemon",
      );
    if (!g.members.includes(lost))
      throw new FrostnetError('INVALID_INPUT', `${lost} is not a member of key ${name}`, [lost]);
    const others = g.members.filter((m) => m !== self);
    const answers = await ceremonies.survey(g, others);
    if (!answers.get(lost))
      throw new FrostnetError('UNREACHABLE', `${lost} did not answer; start its daemon first`, [lost]);
    if (holdsShare(answers.get(lost), g))
      throw new FrostnetError('CONFLICT', `${lost} still holds its share of ${name} at epoch ${g.epoch}`, [
        lost,
      ]);
    // Helpers must list the same members as this party: a member that has not vouched for a re-initialised
    // party would refuse to help it.
    const ready = others.filter(
      (m) => m !== lost && holdsMembership(answers.get(m), g) && !answers.get(m)?.hasPending,
    );
    const helpers = [self, ...ready].slice(0, g.threshold);
    if (helpers.length < g.threshold) {
      const missing = others.filter((m) => m !== lost && !ready.includes(m));
      const unvouched = missing.filter((m) => holdsShare(answers.get(m), g) && !answers.get(m)?.hasPending);
      throw new FrostnetError(
        'UNREACHABLE',
        `a repair needs ${g.threshold} helpers on epoch ${g.epoch}, only ${helpers.length} are ready` +
          (unvouched.length ? `; ${unvouched.join(', ')} list other members (vouch there first)` : ''),
        missing,
      );
    }
    const plan = { threshold: g.threshold, members: [...g.members], dealers: helpers, lost };
    const proposal = await ceremonies.propose('repair', name, g, plan, report, opts);
    const invite: RepairInviteMsg = {
      keyName: name,
      groupKey: groupKey(g).toBytes(true),
      epoch: g.epoch,
      lost,
      helpers,
      group: JSON.stringify(keyGroupToJSON(g)),
      proposal,
      network: keys.get(name)?.network ?? '',
      recovery: recoveryText(keys.get(name)?.recovery),
    };
    const { sessionId } = proposal.proposal;
    // No refresh or reshare of the key may race the repair: it rebuilds a share of this very epoch.
    return ceremonies.whileIdle(name, async () => {
      const current = keys.settled(name);
      const session = this.session(
        sessionId,
        self,
        { lost, helpers },
        {
          kind: 'helper',
          share: current,
          network: keys.get(name)?.network,
          recovery: keys.get(name)?.recovery,
        },
      );
      this.checkApproved(invite, sessionId, current.group, self);
      session.start();
      this.o.router.add('REPAIR', sessionId, session);
      const payload = codecs.repairInvite.encode(invite);
      for (const to of [...helpers.slice(1), lost])
        void this.o
          .send(to, envelope({ sessionId, ceremony: 'REPAIR', sender: self }, ROUND.session.invite, payload))
          .catch((e) => this.o.log.warn('repair invite not delivered', { to, reason: errorMessage(e) }));
      const epoch = (await session.done) as number;
      return { name, party: lost, helpers, epoch };
    });
  }

  /** The signed proposal behind a repair invite from `from`, checked against `group` (proposals.ts). */
  private checkApproved(inv: RepairInviteMsg, sessionId: Uint8Array, group: KeyGroup, from: string): void {
    checkInvitedProposal(
      signedProposalFromWire(inv.proposal, from),
      {
        kind: 'repair',
        keyName: inv.keyName,
        sessionId,
        plan: { threshold: group.threshold, members: group.members, dealers: inv.helpers, lost: inv.lost },
      },
      group,
      from,
      (this.o.clock ?? Date.now)(),
    );
  }

  /**
   * This party's vouch that `replacement` is `old` come back under a new identity (its device and data dir are
   * gone): from now on this party treats `replacement` as the holder of `old`'s identifier. A repair then needs
   * t helpers that all vouched alike. Refused while `old` still answers holding a share or a pending epoch: a
   * member that has its share is moved by a reshare, not replaced. No ceremony of the key runs meanwhile.
   */
  async vouch(name: string, old: string, replacement: string): Promise<VouchOutcome> {
    const { self, keys, ceremonies, log } = this.o;
    parsePeerId(replacement, 'new peer');
    return ceremonies.whileIdle(name, async () => {
      const g = keys.settled(name).group;
      if (old === self || replacement === self)
        throw new FrostnetError('INVALID_INPUT', 'a party cannot vouch for itself or replace itself');
      if (!g.members.includes(old))
        throw new FrostnetError(
          'INVALID_INPUT',
          `${old} is not a member of key ${name}${g.members.includes(replacement) ? ` (${replacement} is: vouched for already?)` : ''}`,
          [old],
        );
      if (g.members.includes(replacement))
        throw new FrostnetError('CONFLICT', `${replacement} is already a member of key ${name}`, [
          replacement,
        ]);
      if (!this.o.peers().includes(replacement))
        throw new FrostnetError(
          'INVALID_INPUT',
          `${replacement} is not a configured peer: add it first (frostnet peers add)`,
          [replacement],
        );
      const s = (await ceremonies.survey(g, [old])).get(old);
      if (s && ((s.transcript.length > 0 && s.hasShare) || s.hasPending))
        throw new FrostnetError(
          'CONFLICT',
          `${old} still answers holding a share of ${name}; move a member that has its share with a reshare`,
          [old],
        );
      const share = await keys.replaceMember(name, old, replacement);
      log.info('member replaced', { key: name, old, replacement });
      return { name, party: old, peer: replacement, members: [...share.group.members] };
    });
  }

  private session(sessionId: Uint8Array, coordinator: string, plan: RepairPlan, role: Role): RepairSession {
    const session = new RepairSession({
      sessionId,
      self: this.o.self,
      coordinator,
      plan,
      role,
      send: this.o.send,
      store: (keyName, share, { network, recovery }) =>
        this.o.keys.restore(keyName, share, network, recovery),
      roundTimeoutMs: this.o.roundTimeoutMs,
      log: this.o.log.child({ ceremony: 'REPAIR', session: bytesToHex(sessionId).slice(0, 16) }),
      rng: this.o.rng,
    });
    const end = (ok: boolean, reason?: string) => {
      this.o.router.remove('REPAIR', sessionId);
      this.o.log.info('repair ended', { lost: plan.lost, ok, ...(reason ? { reason } : {}) });
    };
    session.done.then(
      () => end(true),
      (e: Error) => end(false, e.message),
    );
    return session;
  }

  /** A helper checks the invite against its own share; the lost party against what it holds (nothing). */
  private onInvite(env: Envelope, from: string): Session {
    const inv = codecs.repairInvite.decode(env.payload, { from });
    const { self } = this.o;
    validateKeyName(inv.keyName);
    const plan: RepairPlan = { lost: inv.lost, helpers: inv.helpers };
    if (!inv.helpers.includes(from) || (self !== inv.lost && !inv.helpers.includes(self)))
      throw new FrostnetError(
        'UNEXPECTED_SENDER',
        `repair invite from ${from} for a repair this party is not in`,
        [from],
      );
    const known = new Set(this.o.peers());
    const strangers = [...inv.helpers, inv.lost].filter((p) => p !== self && !known.has(p));
    if (strangers.length)
      throw new FrostnetError(
        'INVALID_INPUT',
        `repair names parties that are not peers: ${strangers.join(', ')}`,
      );
    const role = this.roleFor(inv, env.sessionId, from, plan);
    const session = this.session(env.sessionId, from, plan, role);
    session.start();
    return session;
  }

  /**
   * What this party is in the invited repair, checked: the lost party against what it holds (nothing) and the
   * group it is given, a helper against its own share; both against the signed proposal. A refusal is told at
   * once to the coordinator and the lost party rather than leave them to time out; only them, so that an invite
   * cannot make this party send to many.
   */
  private roleFor(inv: RepairInviteMsg, sessionId: Uint8Array, from: string, plan: RepairPlan): Role {
    const { self, keys } = this.o;
    try {
      if (self !== inv.lost) {
        const share = this.helperShare(inv, from);
        this.checkApproved(inv, sessionId, share.group, from);
        const held = keys.get(inv.keyName);
        return { kind: 'helper', share, network: held?.network, recovery: held?.recovery };
      }
      const group = parseGroup(inv);
      if (inv.helpers.length < group.threshold || inv.helpers.some((h) => !group.members.includes(h)))
        throw new FrostnetError(
          'INVALID_INPUT',
          `repair invite from ${from}: not ${group.threshold} members help`,
          [from],
        );
      if (keys.get(inv.keyName) || keys.byGroupKey(bytesToHex(inv.groupKey)))
        throw new FrostnetError(
          'CONFLICT',
          `this party holds key ${inv.keyName}; there is nothing to repair`,
        );
      this.checkApproved(inv, sessionId, group, from);
      return {
        kind: 'lost',
        group,
        keyName: inv.keyName,
        network: wireNetwork(inv.network, from),
        recovery: wireRecovery(inv.recovery, from),
      };
    } catch (e) {
      sendAbort(
        repairLink({ sessionId, self, send: this.o.send, log: this.o.log }),
        [...new Set([from, plan.lost])],
        toFrostnetError(e),
      );
      throw e;
    }
  }

  /** This helper's share for the invite: the same key and epoch, and a group that lists the lost party. */
  private helperShare(inv: RepairInviteMsg, from: string): KeyShare {
    const share = this.o.keys.active(inv.keyName);
    const g = share.group;
    if (!equalBytes(groupKey(g).toBytes(true), inv.groupKey) || g.epoch !== inv.epoch)
      throw new FrostnetError('EPOCH_MISMATCH', `repair of ${inv.keyName} is for another key or epoch`, [
        from,
      ]);
    if (!g.members.includes(inv.lost))
      throw new FrostnetError(
        'INVALID_INPUT',
        `${inv.lost} is not a member of ${inv.keyName} for ${this.o.self}: its operator has not vouched for it`,
      );
    return share;
  }
}

/** The invite's key group, naming the key and epoch the invite names and listing the lost party. */
function parseGroup(inv: RepairInviteMsg): KeyGroup {
  let g: KeyGroup;
  try {
    g = keyGroupFromJSON(JSON.parse(inv.group) as KeyShareJSON['group']);
  } catch (e) {
    throw new FrostnetError('INVALID_INPUT', `repair invite: bad key group (${errorMessage(e)})`);
  }
  if (
    !equalBytes(groupKey(g).toBytes(true), inv.groupKey) ||
    g.epoch !== inv.epoch ||
    !g.members.includes(inv.lost)
  )
    throw new FrostnetError(
      'INVALID_INPUT',
      'repair invite: its group is not the key, epoch or member it names',
    );
  return g;
}
