/**
 * The party's audit log: one JSON line per request decision, signature and operator action, appended to
 * <dataDir>/audit.log and never rewritten. Lines are written in the order they were appended, with O_APPEND;
 * the lines appended while a write is under way go together into the next write (one open, write and close for
 * all of them), so a crash can cut off at most the lines being written, none of whose callers was told they
 * were. A check whose line cannot be written is refused: nothing is signed without a record of it.
 */
import { appendFile } from 'node:fs/promises';

export const AUDIT_FILE = 'audit.log';

export const AUDIT_DECISIONS = [
  'allowed',
  'denied',
  'approval-required',
  'time-locked',
  'signed',
  'approved',
  'rejected',
  'cancelled',
  'expired',
] as const;
export type AuditDecision = (typeof AUDIT_DECISIONS)[number];

export type AuditRecord = {
  /** ISO 8601. */
  time: string;
  /** The requester's peer id, or "operator" for this party's operator's actions. */
  requester: string;
  key: string;
  /** The request id (hash of what is signed). */
  id: string;
  /** The decoded request (describe.ts Details). */
  what: unknown;
  decision: AuditDecision;
  reason: string;
};

type Pending = { line: Promise<string>; done: { resolve(): void; reject(e: unknown): void } };

export class AuditLog {
  readonly file: string;
  private readonly clock: () => number;
  private pending: Pending[] = [];
  private writing = false;

  constructor(file: string, clock: () => number) {
    this.file = file;
    this.clock = clock;
  }

  /**
   * Appends a line, stamped now; `r` may still be in the making (its details decoded), and takes its place in
   * the log by the order of the calls all the same. Resolves once the line is written.
   */
  append(r: Omit<AuditRecord, 'time'> | Promise<Omit<AuditRecord, 'time'>>): Promise<void> {
    const time = new Date(this.clock()).toISOString();
    const line = Promise.resolve(r).then((rec) => `${JSON.stringify({ time, ...rec })}\n`);
    line.catch(() => {}); // rejected to its caller below, in order
    const written = new Promise<void>((resolve, reject) =>
      this.pending.push({ line, done: { resolve, reject } }),
    );
    if (!this.writing) void this.flush();
    return written;
  }

  /** Writes every pending line, in order, one write per batch, until none is left. */
  private async flush(): Promise<void> {
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        const lines = await Promise.allSettled(batch.map((p) => p.line));
        const text = lines.map((l) => (l.status === 'fulfilled' ? l.value : '')).join('');
        try {
          if (text) await appendFile(this.file, text, { flag: 'a', mode: 0o600 });
          lines.forEach((l, i) => {
            if (l.status === 'fulfilled') batch[i].done.resolve();
            else batch[i].done.reject(l.reason);
          });
        } catch (e) {
          for (const p of batch) p.done.reject(e);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}
