/**
 * A party's policy as the signer uses it (node/signing/signer.ts Policy): the rules of its policy file applied to the
 * request as this party decoded it, the approvals queue and time locks, rolling counters of what it signed, and
 * the audit log. Files in the data dir: policy.json (the operator's, read at start), approvals.json and
 * policy-counters.json (state, written atomically), audit.log (append-only).
 *
 * Every check, signature and operator action runs one at a time, so two requests checked at once cannot both
 * slip under a limit that only one of them fits.
 */
import { join } from 'node:path';
import { parseRecoveryPolicy, type RecoveryPolicyJson } from '../../chains/bitcoin/recovery.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import type { Logger } from '../ops/log.ts';
import { HeldError } from '../signing/hold-error.ts';
import type { Policy, PolicyRequest } from '../signing/signer.ts';
import { Serial } from '../storage/json-file.ts';
import {
  APPROVALS_FILE,
  ApprovalQueue,
  type Decision,
  type Entry,
  iso,
  type Status,
  statusOf,
} from './approvals.ts';
import { AUDIT_FILE, AuditLog } from './audit.ts';
import { COUNTERS_FILE, DEFAULT_RESERVATION_MS, RollingCounters } from './counters.ts';
import { type Details, describe, requestId, shortId, spendOf, summaryLine } from './describe.ts';
import { evaluate, refuseRecovery } from './evaluate.ts';
import {
  DEFAULT_APPROVAL_EXPIRY_SECONDS,
  loadPolicyFile,
  NO_RULES,
  POLICY_FILE,
  type PolicyFile,
  rulesFor,
} from './format.ts';

export type PartyPolicyOptions = {
  dataDir: string;
  /** This party's peer id ("self" in the rules). */
  self: string;
  /** Default <dataDir>/policy.json. */
  file?: string;
  /** Milliseconds since the epoch; injectable so that tests can move time. */
  clock?: () => number;
  log?: Logger;
  reservationMs?: number;
  /** Told of every request newly held for this party's operator (the config's notify hook). */
  notify?: (held: EntryView) => void;
};

/** A queue entry as the control API and the CLI show it. */
export type EntryView = {
  id: string;
  shortId: string;
  key: string;
  requester: string;
  status: Status;
  firstSeen: string;
  summary: string;
  details: Details;
  /** Why it is held. */
  reasons: string[];
  approvalExpiresAt?: string;
  unlockAt?: string;
  decidedAt?: string;
  signedAt?: string;
};

/** What the control API offers the operator (node/api/server.ts). */
export interface ApprovalsBackend {
  list(): Promise<EntryView[]>;
  show(id: string): Promise<EntryView>;
  /** `note`: the operator's reason, kept in the audit line. */
  decide(id: string, decision: Decision, note?: string): Promise<EntryView>;
}

/** Settles once both are written, failing if either fails; awaited later, so never an unhandled rejection. */
function both(a: Promise<void>, b: Promise<void>): Promise<void> {
  const done = Promise.all([a, b]).then(() => {});
  done.catch(() => {});
  return done;
}

const DONE: Record<Decision, 'approved' | 'rejected' | 'cancelled'> = {
  approve: 'approved',
  reject: 'rejected',
  cancel: 'cancelled',
};

export class PartyPolicy implements Policy {
  private readonly self: string;
  private readonly clock: () => number;
  private readonly rules: PolicyFile | undefined;
  private readonly counters: RollingCounters;
  private readonly queue: ApprovalQueue;
  private readonly audit: AuditLog;
  private readonly serial = new Serial();
  private readonly notify?: (held: EntryView) => void;
  readonly approvals: ApprovalsBackend;

  private constructor(
    o: {
      self: string;
      clock: () => number;
      rules: PolicyFile | undefined;
      notify?: (held: EntryView) => void;
    },
    parts: { counters: RollingCounters; queue: ApprovalQueue; audit: AuditLog },
  ) {
    this.self = o.self;
    this.clock = o.clock;
    this.rules = o.rules;
    this.notify = o.notify;
    this.counters = parts.counters;
    this.queue = parts.queue;
    this.audit = parts.audit;
    // Each sees expiries first, so that an operator never approves a request that already ran out of time.
    const fresh = <T>(fn: () => T) =>
      this.serial.run(async () => {
        await this.sweep();
        return fn();
      });
    this.approvals = {
      list: () => fresh(() => this.queue.list().map((e) => this.view(e))),
      show: (id) => fresh(() => this.view(this.queue.find(id))),
      decide: (id, decision, note) => this.serial.run(() => this.decide(id, decision, note)),
    };
  }

  /** Loads the policy file (none: every request allowed, still audited) and the state beside it. */
  static async open(o: PartyPolicyOptions): Promise<PartyPolicy> {
    const clock = o.clock ?? Date.now;
    const file = o.file ?? join(o.dataDir, POLICY_FILE);
    const rules = await loadPolicyFile(file);
    if (!rules) o.log?.warn('no policy file: every request is allowed (and audited)', { file });
    const counters = await RollingCounters.open(
      join(o.dataDir, COUNTERS_FILE),
      clock,
      o.reservationMs ?? DEFAULT_RESERVATION_MS,
    );
    const queue = await ApprovalQueue.open(join(o.dataDir, APPROVALS_FILE), clock);
    const audit = new AuditLog(join(o.dataDir, AUDIT_FILE), clock);
    return new PartyPolicy({ self: o.self, clock, rules, notify: o.notify }, { counters, queue, audit });
  }

  /**
   * Decisions run one at a time (each sees the counters the previous one left); the counters and the audit line
   * are written after, outside that queue, so concurrent requests share their writes. The check resolves only
   * once both are on disk.
   */
  async check(req: PolicyRequest): Promise<void> {
    const { persisted } = await this.serial.run(() => this.decideRequest(req));
    await persisted;
  }

  /**
   * Refuses (POLICY_DENIED, naming each reason) to help make key `keyName` with the recovery policy `recovery`
   * unless this party's rules for the key accept every leaf: a recovery path hands the coins to its key's holder
   * once they sit still long enough, so each member agrees to it in its own policy, not one member for all.
   */
  checkRecovery(keyName: string, recovery: RecoveryPolicyJson): void {
    const rules = this.rules ? rulesFor(this.rules, keyName) : NO_RULES;
    const why = refuseRecovery(rules, keyName, parseRecoveryPolicy(recovery));
    if (why.length > 0)
      throw new FrostnetError(
        'POLICY_DENIED',
        `policy for key ${keyName} refuses its recovery path: ${why.join('; ')}`,
      );
  }

  async signed(req: PolicyRequest): Promise<void> {
    const { persisted } = await this.serial.run(async () => {
      const id = requestId(req.keyName, req.resolved);
      const counted = this.counters.signed(req.keyName, id, spendOf(req.resolved));
      counted.catch(() => {}); // awaited below
      await this.queue.markSigned(id);
      return {
        persisted: both(
          counted,
          this.record(req, id, 'signed', 'this party signed (its shares leave once this is recorded)'),
        ),
      };
    });
    await persisted;
  }

  private async decideRequest(req: PolicyRequest): Promise<{ persisted: Promise<void> }> {
    const { keyName, resolved } = req;
    const id = requestId(keyName, resolved);
    const short = shortId(id);
    await this.sweep();
    const earlier = this.queue.get(id);
    if (earlier && ['rejected', 'expired', 'cancelled'].includes(earlier.state)) {
      const at = iso(earlier.decidedAt ?? earlier.firstSeen);
      const why =
        earlier.state === 'expired'
          ? `request ${short} expired without approval at ${at}`
          : `request ${short} was ${earlier.state} by this party's operator at ${at}`;
      await this.record(req, id, 'denied', why);
      throw new FrostnetError('POLICY_DENIED', why);
    }
    const spend = spendOf(resolved);
    const verdict = evaluate(
      this.rules ? rulesFor(this.rules, keyName) : NO_RULES,
      { keyName, requester: req.requester, self: this.self, resolved, now: this.clock() },
      this.counters.usage(keyName, id, spend),
    );
    if (verdict.decision === 'deny') {
      const why = `policy for key ${keyName} refuses request ${short}: ${verdict.reasons.join('; ')}`;
      await this.record(req, id, 'denied', why);
      throw new FrostnetError('POLICY_DENIED', why);
    }
    let cleared = 'within policy';
    if (verdict.decision === 'hold' || earlier) {
      const details = await describe(resolved);
      const known = this.queue.get(id) !== undefined;
      const entry =
        verdict.decision === 'hold'
          ? await this.queue.hold(
              { id, key: keyName, requester: req.requester, details, summary: summaryLine(details) },
              verdict,
              this.rules?.approvalExpirySeconds ?? DEFAULT_APPROVAL_EXPIRY_SECONDS,
            )
          : earlier!;
      const now = this.clock();
      const status = statusOf(entry, now);
      if (!known && this.notify && (status === 'awaiting approval' || status === 'time-locked'))
        this.notify(this.view(entry));
      if (status === 'expired') await this.sweep();
      if (status === 'awaiting approval' || status === 'expired') {
        const lock =
          entry.lock && now < entry.lock.unlockAt
            ? `; it is also time-locked until ${iso(entry.lock.unlockAt)}`
            : '';
        const why =
          status === 'expired'
            ? `request ${short} expired without approval at ${iso(entry.approval!.expiresAt)}`
            : `request ${short} for key ${keyName} awaits approval by this party's operator (${entry.approval!.reason}) until ${iso(entry.approval!.expiresAt)}${lock}; approve it with "frostnet approvals approve ${short}", then ask again`;
        await this.record(req, id, status === 'expired' ? 'denied' : 'approval-required', why);
        if (status === 'expired') throw new FrostnetError('POLICY_DENIED', why);
        throw new HeldError('APPROVAL_REQUIRED', why, iso(entry.approval!.expiresAt));
      }
      if (status === 'time-locked') {
        const why = `request ${short} for key ${keyName} is time-locked at this party until ${iso(entry.lock!.unlockAt)} (${entry.lock!.reason}); ask again after that. Its operator can cancel it with "frostnet approvals cancel ${short}"`;
        await this.record(req, id, 'time-locked', why);
        throw new HeldError('TIME_LOCKED', why, iso(entry.lock!.unlockAt));
      }
      cleared = [
        entry.approval && `approved by this party's operator at ${iso(entry.decidedAt!)}`,
        entry.lock && `time lock ended at ${iso(entry.lock.unlockAt)}`,
      ]
        .filter(Boolean)
        .join('; ');
    }
    const counted = this.counters.accepted(keyName, id, spend);
    return { persisted: both(counted, this.record(req, id, 'allowed', cleared || 'within policy')) };
  }

  private async decide(idOrPrefix: string, decision: Decision, note?: string): Promise<EntryView> {
    await this.sweep();
    const entry = await this.queue.decide(this.queue.find(idOrPrefix).id, decision);
    await this.audit.append({
      requester: 'operator',
      key: entry.key,
      id: entry.id,
      what: entry.details,
      decision: DONE[decision],
      reason: `${DONE[decision]} by this party's operator${note ? `: ${note}` : ''}`,
    });
    return this.view(entry);
  }

  /** Expires held requests whose approval time ran out, with an audit line each. */
  private async sweep(): Promise<void> {
    for (const e of await this.queue.expire())
      await this.audit.append({
        requester: e.requester,
        key: e.key,
        id: e.id,
        what: e.details,
        decision: 'expired',
        reason: `not approved by ${iso(e.approval!.expiresAt)}`,
      });
  }

  /** Appends the audit line now (its place in the log is fixed by this call); resolves once it is written. */
  private record(
    req: PolicyRequest,
    id: string,
    decision: 'allowed' | 'denied' | 'approval-required' | 'time-locked' | 'signed',
    reason: string,
  ): Promise<void> {
    return this.audit.append(
      describe(req.resolved).then((what) => ({
        requester: req.requester,
        key: req.keyName,
        id,
        what,
        decision,
        reason,
      })),
    );
  }

  private view(e: Entry): EntryView {
    return {
      id: e.id,
      shortId: shortId(e.id),
      key: e.key,
      requester: e.requester,
      status: statusOf(e, this.clock()),
      firstSeen: iso(e.firstSeen),
      summary: e.summary,
      details: e.details,
      reasons: [e.approval?.reason, e.lock?.reason].filter((r): r is string => r !== undefined),
      ...(e.approval && { approvalExpiresAt: iso(e.approval.expiresAt) }),
      ...(e.lock && { unlockAt: iso(e.lock.unlockAt) }),
      ...(e.decidedAt !== undefined && { decidedAt: iso(e.decidedAt) }),
      ...(e.signedAt !== undefined && { signedAt: iso(e.signedAt) }),
    };
  }
}
