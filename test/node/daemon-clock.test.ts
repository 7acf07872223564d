/**
 * The daemon's one clock (DaemonOptions.clock): a real daemon started in this process on a clock the test sets
 * years ahead of the wall clock, and moves, decides by that clock and dates what it records by it. Party 1 runs
 * on the shifted clock; party 2 (the coordinator of the signatures below) on the wall clock. Party 1's policy
 * file is read by the daemon itself, so its policy gets the daemon's clock, not one a test built in.
 *
 * The shifted clock runs at the wall clock's pace (a deadline measured on it still passes), `offset` ahead. A
 * daemon that read Date.now anywhere below would date its records in the present, count the first signature
 * in the last hour after the clock moved an hour, and hold the request whose approval time ran out.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RequestView } from '../../node/api/requests.ts';
import { openBackup } from '../../node/ceremonies/backup.ts';
import { POLICY_FILE } from '../../node/policy/format.ts';
import { Network } from '../helpers/network.ts';
import { refusalParts } from '../helpers/network-extra.ts';

const HOUR_MS = 3_600_000;
const BACKUP_PASSPHRASE = 'a backup passphrase of the test';

describe('a daemon on an injected clock', () => {
  let net: Network;
  let offset = Date.parse('2031-03-04T05:06:07Z') - Date.now();
  const clock = () => Date.now() + offset;
  /** The clock's readings around the start of party 1's daemon, and around the DKG of key "counted". */
  const started = { from: 0, to: 0 };
  const made = { from: 0, to: 0 };
  let keygen: RequestView | undefined;

  /** `iso` is a time the shifted clock read between `from` and `to` (ms since the epoch). */
  const between = (iso: string | undefined, from: number, to: number, what: string) => {
    const t = Date.parse(iso ?? '');
    assert.ok(
      from <= t && t <= to,
      `${what} ${iso} is not between ${new Date(from).toISOString()} and ${new Date(to).toISOString()}`,
    );
  };

  before(async () => {
    net = await Network.create(2);
    const policy = (i: number, p: unknown) =>
      writeFile(join(net.parties[i]!.dataDir, POLICY_FILE), JSON.stringify(p));
    // Party 2 signs every raw message: only party 1's rules are under test.
    await policy(1, { default: { rawMessages: true } });
    await policy(0, {
      approvalExpirySeconds: 3600,
      keys: {
        counted: { rawMessages: true, requestsPerHour: 1 },
        held: { rawMessages: true, requireApproval: true },
      },
    });
    started.from = clock();
    await net.startInProcess(0, { clock });
    started.to = clock();
    await net.startInProcess(1);
    made.from = clock();
    keygen = await net.keygen(0, 'counted', 2);
    made.to = clock();
    const k = await net.keygen(0, 'held', 2);
    assert.equal(k.state, 'done', JSON.stringify(k.error));
  });
  after(async () => net?.close());

  /** A raw message signed by the 2-of-2 key `key`, asked of party 2 (which coordinates it on the wall clock). */
  const sign = (key: string, message: string) => net.run(1, `/v1/keys/${key}/sign`, { message });

  test('what the daemon records is dated by its clock: its start, a request, the key it made, a backup', async () => {
    const status = await net.call(0, 'GET', '/v1/status');
    between(status.json.startedAt, started.from, started.to, 'the daemon started at');
    const r = keygen!;
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    const created = (r.result as { createdAt: string }).createdAt;
    between(r.startedAt, made.from, made.to, 'the keygen request started at');
    between(r.endedAt, made.from, made.to, 'the keygen request ended at');
    between(created, made.from, made.to, 'the key was created at');
    const key = await net.call(0, 'GET', '/v1/keys/counted');
    assert.equal(key.json.createdAt, created, 'the keygen result is the stored record');
    const listed = await net.call(0, 'GET', '/v1/requests');
    assert.equal(listed.json.find((v: { id: string }) => v.id === r.id)?.startedAt, r.startedAt);
    const from = clock();
    const file = await net.call(0, 'POST', '/v1/keys/counted/backup', { passphrase: BACKUP_PASSPHRASE });
    const to = clock();
    assert.equal(file.status, 200, JSON.stringify(file.json));
    between(
      (await openBackup(file.json, BACKUP_PASSPHRASE)).exportedAt,
      from,
      to,
      'the backup was exported at',
    );
  });

  test("the policy's hourly window moves with the daemon's clock: the limit is reached, then an hour later lifts", async () => {
    const first = await sign('counted', '01');
    assert.equal(first.state, 'done', JSON.stringify(first.error));
    const second = await sign('counted', '02');
    assert.equal(second.state, 'failed', JSON.stringify(second));
    assert.equal(second.error.code, 'NOT_ENOUGH_SIGNERS');
    const why = refusalParts(second, net.ids).get(net.ids[0]!);
    assert.match(
      why ?? '',
      /1 requests of this key in the past hour already; the limit is 1/,
      second.error.message,
    );
    // An hour and a minute later at party 1 (and a moment later on the wall clock): the first signature left
    // the window. Its handed-out commitments expired too (after 30 session lifetimes): the coordinator gets
    // fresh ones, which is no refusal.
    offset += HOUR_MS + 60_000;
    const third = await sign('counted', '03');
    assert.equal(third.state, 'done', JSON.stringify(third.error));
  });

  test('an approval expires when the daemon’s clock passes its expiry: it cannot be approved, and the request fails', async () => {
    const from = clock();
    const r = await sign('held', '04');
    const to = clock();
    assert.equal(r.state, 'awaiting-approval', JSON.stringify(r));
    const queued = async () => {
      const list = await net.call(0, 'GET', '/v1/approvals');
      assert.equal(list.status, 200, JSON.stringify(list.json));
      const e = list.json.find((x: { shortId: string }) => x.shortId === r.held.id);
      assert.ok(e, `request ${r.held.id} is not in party 1's queue: ${JSON.stringify(list.json)}`);
      return e;
    };
    const held = await queued();
    assert.equal(held.status, 'awaiting approval');
    between(held.firstSeen, from, to, 'the request was first seen at');
    assert.equal(Date.parse(held.approvalExpiresAt) - Date.parse(held.firstSeen), HOUR_MS);

    offset += HOUR_MS + 1000;
    assert.equal((await queued()).status, 'expired');
    const late = await net.call(0, 'POST', `/v1/approvals/${held.id}/approve`, {});
    assert.equal(late.status, 409, JSON.stringify(late.json));
    assert.match(late.json.error.message, /is already expired/);
    // Party 2 asks again (its pauses run on real time) and hears party 1 refuse the expired request.
    let end = r;
    while (end.state !== 'failed' && end.state !== 'done')
      end = (await net.call(1, 'GET', `/v1/requests/${r.id}?wait=60000`)).json;
    assert.equal(end.state, 'failed', JSON.stringify(end));
    assert.match(
      refusalParts(end, net.ids).get(net.ids[0]!) ?? '',
      /expired without approval/,
      end.error.message,
    );
  });
});
