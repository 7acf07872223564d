/**
 * Reads the party's audit log (node/policy/audit.ts) for the console's Activity page: newest first, filtered by
 * key and outcome. The log is append-only JSON lines; a line cut off by a crash is skipped, not fatal.
 */
import { readFile } from 'node:fs/promises';
import type { AuditRecord } from '../policy/audit.ts';

export const MAX_AUDIT_RECORDS = 500;

export type AuditFilter = { key?: string; decision?: string; limit?: number };

export async function readAudit(file: string, f: AuditFilter = {}): Promise<AuditRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return [];
    throw e;
  }
  const limit = Math.min(f.limit ?? MAX_AUDIT_RECORDS, MAX_AUDIT_RECORDS);
  const out: AuditRecord[] = [];
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0 && out.length < limit; i--) {
    const r = parseLine(lines[i]);
    if (!r) continue;
    if (f.key && r.key !== f.key) continue;
    if (f.decision && r.decision !== f.decision) continue;
    out.push(r);
  }
  return out;
}

function parseLine(line: string): AuditRecord | undefined {
  if (!line.trim()) return undefined;
  try {
    const r = JSON.parse(line) as AuditRecord;
    return typeof r === 'object' && r !== null && typeof r.time === 'string' ? r : undefined;
  } catch {
    return undefined;
  }
}
