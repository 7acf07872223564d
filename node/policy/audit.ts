/**
 * The party's audit log: one JSON line per request decision, signature and operator action, appended to
 * <dataDir>/audit.log and never rewritten. Lines are written one at a time, in order, each with one append
 * (O_APPEND), so a crash can cut off at most the line being written. A check whose line cannot be written is
 * refused: nothing is signed without a record of it.
 */
import { appendFile } from 'node:fs/promises';
import { Serial } from '../storage/json-file.ts';

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

export class AuditLog {
  readonly file: string;
  private readonly clock: () => number;
  private readonly serial = new Serial();

  constructor(file: string, clock: () => number) {
    this.file = file;
    this.clock = clock;
  }

  append(r: Omit<AuditRecord, 'time'>): Promise<void> {
    const line = `${JSON.stringify({ time: new Date(this.clock()).toISOString(), ...r })}\n`;
    return this.serial.run(() => appendFile(this.file, line, { flag: 'a', mode: 0o600 }));
  }
}
