/**
 * The audit log's writes: lines appended while a write is under way go out together, in the order of the
 * calls (also when a line's details are still being decoded), and each caller learns whether its own line is
 * on disk.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuditLog, type AuditRecord } from '../../../node/policy/audit.ts';
import { FakeClock, withDir } from './helpers.ts';

const rec = (id: string): Omit<AuditRecord, 'time'> => ({
  requester: 'peer',
  key: 'k',
  id,
  what: { kind: 'raw' },
  decision: 'allowed',
  reason: 'within policy',
});

const ids = async (file: string) =>
  (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).id);

test('lines appended at once are written in the order of the calls, late details included', async () => {
  await withDir(async (dir) => {
    const log = new AuditLog(join(dir, 'audit.log'), new FakeClock().read);
    let decoded!: (r: Omit<AuditRecord, 'time'>) => void;
    const slow = new Promise<Omit<AuditRecord, 'time'>>((r) => {
      decoded = r;
    });
    const writes = [log.append(rec('0')), log.append(slow)];
    for (let i = 2; i < 50; i++) writes.push(log.append(rec(String(i))));
    await writes[0]; // the first write took line 0 alone; the rest wait for line 1's details
    decoded(rec('1'));
    await Promise.all(writes);
    assert.deepEqual(
      await ids(log.file),
      Array.from({ length: 50 }, (_, i) => String(i)),
    );
  });
});

test('a line that cannot be made fails its own caller only; a write that fails, every caller of its batch', async () => {
  await withDir(async (dir) => {
    const log = new AuditLog(join(dir, 'audit.log'), new FakeClock().read);
    const results = await Promise.allSettled([
      log.append(rec('a')),
      log.append(Promise.reject(new Error('cannot decode'))),
      log.append(rec('b')),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(await ids(log.file), ['a', 'b']);
    const lost = new AuditLog(join(dir, 'missing-dir', 'audit.log'), new FakeClock().read);
    const failed = await Promise.allSettled([lost.append(rec('c')), lost.append(rec('d'))]);
    assert.deepEqual(
      failed.map((r) => r.status),
      ['rejected', 'rejected'],
    );
  });
});
