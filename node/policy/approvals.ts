/**
 * This party's queue of held requests: those a rule sent to its operator for approval, and those waiting out a
 * time lock. An entry is keyed by the request id (a hash of what is signed), so the requester simply asks again
 * and the same entry answers. Kept in a JSON file written atomically: an approval, a rejection, a cancel and the
 * start of a time lock all survive a restart.
 *
 * An entry passes once every hold on it is cleared: approved by the operator (when approval was needed) and
 * past its unlock time (when time-locked). Rejected, cancelled and expired are final. A request awaiting
 * approval expires `approvalExpirySeconds` after it was first seen. Approving never shortens a time lock: the
 * lock exists so that operators have that long to cancel.
 */
import { FrostnetError } from '../../protocol/errors.ts';
import { readJsonFile, writeJsonFile } from '../storage/json-file.ts';
import type { Details } from './describe.ts';
import type { Hold } from './evaluate.ts';

export const APPROVALS_FILE = 'approvals.json';
/** Open entries at most; past this a new hold is refused, so a requester cannot flood the operator's queue. */
export const MAX_OPEN_ENTRIES = 1000;
/** Finished entries are kept this long for `approvals list --all`, then dropped (the audit log keeps all). */
export const KEEP_FINISHED_MS = 30 * 24 * 3_600_000;
/** Shortest id prefix the queue resolves. */
export const MIN_PREFIX = 8;

export type EntryState = 'held' | 'approved' | 'rejected' | 'expired' | 'cancelled';
export type Status =
  | 'awaiting approval'
  | 'time-locked'
  | 'ready'
  | 'signed'
  | 'rejected'
  | 'expired'
  | 'cancelled';
export type Decision = 'approve' | 'reject' | 'cancel';
export const DECISIONS: readonly Decision[] = ['approve', 'reject', 'cancel'];

export type Entry = {
  id: string;
  key: string;
  requester: string;
  firstSeen: number;
  details: Details;
  summary: string;
  /** Present when the operator must approve. */
  approval?: { reason: string; expiresAt: number };
  /** Present when time-locked. */
  lock?: { reason: string; unlockAt: number };
  state: EntryState;
  decidedAt?: number;
  signedAt?: number;
};

const FINAL: readonly EntryState[] = ['rejected', 'expired', 'cancelled'];

/** Where an entry stands at `now`. */
export function statusOf(e: Entry, now: number): Status {
  if (FINAL.includes(e.state)) return e.state as Status;
  if (e.signedAt !== undefined) return 'signed';
  if (e.approval && e.state !== 'approved')
    return now >= e.approval.expiresAt ? 'expired' : 'awaiting approval';
  if (e.lock && now < e.lock.unlockAt) return 'time-locked';
  return 'ready';
}

const isOpen = (e: Entry) => !FINAL.includes(e.state) && e.signedAt === undefined;

export class ApprovalQueue {
  private readonly file: string;
  private readonly clock: () => number;
  private entries: Map<string, Entry>;

  private constructor(file: string, clock: () => number, entries: Entry[]) {
    this.file = file;
    this.clock = clock;
    this.entries = new Map(entries.map((e) => [e.id, e]));
  }

  static async open(file: string, clock: () => number): Promise<ApprovalQueue> {
    const raw = (await readJsonFile(file)) as { version?: unknown; entries?: unknown } | undefined;
    if (raw === undefined) return new ApprovalQueue(file, clock, []);
    if (raw?.version !== 1 || !Array.isArray(raw.entries))
      throw new FrostnetError(
        'STORE_CORRUPT',
        `${file} is not an approvals file; restore it or move it away`,
      );
    return new ApprovalQueue(file, clock, raw.entries as Entry[]);
  }

  get(id: string): Entry | undefined {
    return this.entries.get(id);
  }

  /** Every entry, newest first. */
  list(): Entry[] {
    return [...this.entries.values()].sort((a, b) => b.firstSeen - a.firstSeen);
  }

  /** The entry an id or a unique prefix of it (at least 8 hex digits) names. */
  find(idOrPrefix: string): Entry {
    const p = idOrPrefix.trim().toLowerCase();
    if (!/^[0-9a-f]+$/.test(p) || p.length < MIN_PREFIX)
      throw new FrostnetError(
        'BAD_REQUEST',
        `a request id is hex, at least ${MIN_PREFIX} digits (see "frostnet approvals list")`,
      );
    const hits = [...this.entries.keys()].filter((id) => id.startsWith(p));
    if (hits.length === 0)
      throw new FrostnetError('BAD_REQUEST', `no request ${p} in this party's approvals queue`);
    if (hits.length > 1)
      throw new FrostnetError('BAD_REQUEST', `${p} matches ${hits.length} requests; give more of the id`);
    return this.entries.get(hits[0])!;
  }

  /**
   * Records a held request (or adds a hold a changed policy now asks for to an existing entry; holds are never
   * relaxed). Returns the entry.
   */
  async hold(
    base: Pick<Entry, 'id' | 'key' | 'requester' | 'details' | 'summary'>,
    hold: Hold,
    approvalExpirySeconds: number,
  ): Promise<Entry> {
    const now = this.clock();
    let e = this.entries.get(base.id);
    if (!e) {
      if ([...this.entries.values()].filter(isOpen).length >= MAX_OPEN_ENTRIES)
        throw new FrostnetError(
          'POLICY_DENIED',
          `this party's approvals queue holds ${MAX_OPEN_ENTRIES} open requests; its operator must clear some first`,
        );
      e = { ...base, firstSeen: now, state: 'held' };
    }
    let changed = !this.entries.has(base.id);
    if (hold.approval !== undefined && !e.approval) {
      e.approval = { reason: hold.approval, expiresAt: e.firstSeen + approvalExpirySeconds * 1000 };
      changed = true;
    }
    if (hold.lock && !e.lock) {
      e.lock = { reason: hold.lock.reason, unlockAt: e.firstSeen + hold.lock.delaySeconds * 1000 };
      changed = true;
    }
    if (changed) {
      this.entries.set(e.id, e);
      await this.save();
    }
    return e;
  }

  /** Marks every entry whose approval time ran out as expired; returns them (for the audit log). */
  async expire(): Promise<Entry[]> {
    const now = this.clock();
    const expired = [...this.entries.values()].filter((e) => isOpen(e) && statusOf(e, now) === 'expired');
    for (const e of expired) {
      e.state = 'expired';
      e.decidedAt = e.approval!.expiresAt;
    }
    if (expired.length > 0) await this.save();
    return expired;
  }

  /** The operator's decision on an open entry. */
  async decide(id: string, decision: Decision): Promise<Entry> {
    const e = this.entries.get(id);
    if (!e) throw new FrostnetError('BAD_REQUEST', `no request ${id} in this party's approvals queue`);
    const now = this.clock();
    const status = statusOf(e, now);
    if (FINAL.includes(e.state) || status === 'signed')
      throw new FrostnetError('CONFLICT', `request ${id.slice(0, 16)} is already ${status}`);
    if (decision === 'approve') {
      if (!e.approval)
        throw new FrostnetError(
          'CONFLICT',
          `request ${id.slice(0, 16)} needs no approval; it is time-locked until ${iso(e.lock!.unlockAt)} (cancel it to refuse it)`,
        );
      if (e.state === 'approved') return e;
      e.state = 'approved';
    } else e.state = decision === 'reject' ? 'rejected' : 'cancelled';
    e.decidedAt = now;
    await this.save();
    return e;
  }

  async markSigned(id: string): Promise<void> {
    const e = this.entries.get(id);
    if (!e || e.signedAt !== undefined) return;
    e.signedAt = this.clock();
    await this.save();
  }

  private async save(): Promise<void> {
    const cutoff = this.clock() - KEEP_FINISHED_MS;
    for (const [id, e] of this.entries)
      if (!isOpen(e) && (e.signedAt ?? e.decidedAt ?? e.firstSeen) < cutoff) this.entries.delete(id);
    await writeJsonFile(this.file, { version: 1, entries: [...this.entries.values()] });
  }
}

export const iso = (ms: number): string => new Date(ms).toISOString();
