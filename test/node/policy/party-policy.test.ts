/**
 * A party's policy with its state files in a temporary data dir and a clock the test moves: rolling counters
 * (only what was signed counts; a restart keeps them), the approvals queue with expiry, time locks and cancels,
 * and the audit log.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PartyPolicy } from '../../../node/policy/party-policy.ts';
import type { PolicyRequest } from '../../../node/signing/signer.ts';
import type { ResolvedRequest } from '../../../node/signing/targets.ts';
import { generateIdentity, peerIdOf } from '../../../node/storage/identity.ts';
import { FrostnetError } from '../../../protocol/errors.ts';
import { testWallet } from '../../bitcoin/helpers.ts';
import {
  coin,
  drillRequest,
  executeRequest,
  FakeClock,
  NET,
  outsideAddress,
  psbtRequest,
  rawRequest,
  withDir,
} from './helpers.ts';

const SELF = peerIdOf(await generateIdentity());
const PEER = peerIdOf(await generateIdentity());
const { wallet } = testWallet(NET, 'policy wallet');
const PAYEE = outsideAddress(testWallet(NET, 'payee').wallet, 0);

/** A payment of `amount` from a coin labelled `label` (a different label: a different transaction). */
const pay = (amount: bigint, label = 'a') =>
  psbtRequest(wallet, { payments: [{ address: PAYEE, amount }], utxos: [coin(label, 1_000_000n)] });
const req = (resolved: ResolvedRequest, keyName = 'k', requester = PEER): PolicyRequest => ({
  keyName,
  requester,
  resolved,
});

async function open(dir: string, clock: FakeClock, policy?: unknown): Promise<PartyPolicy> {
  if (policy !== undefined) await writeFile(join(dir, 'policy.json'), JSON.stringify(policy));
  return PartyPolicy.open({ dataDir: dir, self: SELF, clock: clock.read });
}

/** The refusal `p.check(r)` throws: its code and message. */
async function refusal(p: PartyPolicy, r: PolicyRequest): Promise<{ code: string; message: string }> {
  try {
    await p.check(r);
  } catch (e) {
    assert.ok(e instanceof FrostnetError, String(e));
    return { code: e.code, message: e.message };
  }
  assert.fail('the policy let the request through');
}

const idIn = (message: string) => /request ([0-9a-f]{16})/.exec(message)?.[1] ?? assert.fail(message);

const audit = async (dir: string) =>
  (await readFile(join(dir, 'audit.log'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

describe('rolling counters', () => {
  test('one Bitcoin counter per key: a counters file kept per network label reads back as one sum', async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      // What a party wrote when the daily limit was counted per network label (the coordinator's choice).
      const at = clock.now - 3600_000;
      const signed = ['mainnet', 'testnet', 'signet', 'regtest'].map((n, i) => ({
        id: `${i}`.repeat(64),
        key: 'k',
        asset: `bitcoin:${n}`,
        amount: '30000',
        at,
      }));
      await writeFile(
        join(dir, 'policy-counters.json'),
        JSON.stringify({ version: 1, accepted: [], signed }),
      );
      const p = await open(dir, clock, { keys: { k: { bitcoin: { maxSentPerDay: 150_000 } } } });
      assert.match(
        (await refusal(p, req(pay(40_000n, 'after labels')))).message,
        /40000 sat on top of 120000 sat in the past 24 h is above the daily limit of 150000 sat/,
      );
      await p.check(req(pay(30_000n, 'fits')));
    });
  });

  test('the daily limit counts only what this party signed, a retry once, and survives a restart', async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      let p = await open(dir, clock, { keys: { k: { bitcoin: { maxSentPerDay: 100_000 } } } });
      const [a, b, c] = [pay(60_000n, 'a'), pay(60_000n, 'b'), pay(60_000n, 'c')];
      await p.check(req(a));
      // A is in flight (checked, not signed): its amount is reserved, so B cannot slip in beside it.
      assert.match((await refusal(p, req(b))).message, /on top of 60000 sat in the past 24 h/);
      // A never got signed (another party refused, say): once its reservation lapses it costs nothing.
      clock.advance(11 * 60);
      await p.check(req(b));
      await p.signed(req(b));
      await p.check(req(b)); // a retry of the very same transaction moves the money once
      await p.signed(req(b));
      // A restart keeps what was signed.
      p = await open(dir, clock);
      assert.match(
        (await refusal(p, req(c))).message,
        /60000 sat on top of 60000 sat in the past 24 h is above/,
      );
      clock.advance(24 * 3600); // B was signed exactly a day ago
      await p.check(req(c));
    });
  });

  test('requests per hour: distinct requests, retries free, the window rolls, a restart keeps it', async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      let p = await open(dir, clock, { default: { rawMessages: true, requestsPerHour: 2 } });
      await p.check(req(rawRequest('01')));
      await p.check(req(rawRequest('01'))); // the same request again
      clock.advance(1800);
      await p.check(req(rawRequest('02')));
      p = await open(dir, clock);
      assert.match(
        (await refusal(p, req(rawRequest('03')))).message,
        /2 requests of this key in the past hour/,
      );
      clock.advance(1801); // '01' leaves the window
      await p.check(req(rawRequest('03')));
    });
  });
});

describe('approvals', () => {
  const POLICY = { approvalExpirySeconds: 600, keys: { k: { bitcoin: { approvalAbove: 50_000 } } } };

  test('held with a stable id and the decoded transaction; approved, the same request passes', async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      const p = await open(dir, clock, POLICY);
      const r = req(pay(70_000n));
      const first = await refusal(p, r);
      assert.equal(first.code, 'APPROVAL_REQUIRED');
      assert.match(first.message, /70000 sat is above the approval threshold of 50000 sat/);
      const id = idIn(first.message);
      assert.equal(
        idIn((await refusal(p, req(pay(70_000n)))).message),
        id,
        'the id is a hash of what is signed',
      );
      assert.notEqual(idIn((await refusal(p, req(pay(70_001n)))).message), id);
      const [held] = await p.approvals.list().then((l) => l.filter((e) => e.shortId === id));
      assert.equal(held.status, 'awaiting approval');
      assert.equal(held.approvalExpiresAt, new Date(clock.now - 0 + 600_000).toISOString());
      const d = held.details;
      assert.ok(d.kind === 'psbt');
      assert.deepEqual(
        d.outputs.map((o) => [o.address ?? '', o.amount, o.change]),
        [
          [PAYEE, '70000', false],
          [d.outputs[1].address ?? '', d.outputs[1].amount, true],
        ],
      );
      assert.equal((await p.approvals.decide(id, 'approve')).status, 'ready');
      await p.check(r);
      await p.signed(r);
      assert.equal((await p.approvals.show(id)).status, 'signed');
      await assert.rejects(p.approvals.decide(id, 'reject'), /already signed/);
    });
  });

  test('rejected stays rejected, even across a restart', async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      let p = await open(dir, clock, POLICY);
      const r = req(pay(70_000n));
      const id = idIn((await refusal(p, r)).message);
      await p.approvals.decide(id, 'reject');
      p = await open(dir, clock);
      const again = await refusal(p, r);
      assert.equal(again.code, 'POLICY_DENIED');
      assert.match(again.message, /was rejected by this party's operator/);
      await assert.rejects(p.approvals.decide(id, 'approve'), /already rejected/);
    });
  });

  test('a request not approved within its expiry expires, for good', async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      const p = await open(dir, clock, POLICY);
      const r = req(pay(70_000n));
      const id = idIn((await refusal(p, r)).message);
      clock.advance(599);
      assert.equal((await p.approvals.show(id)).status, 'awaiting approval');
      clock.advance(1);
      assert.equal((await p.approvals.show(id)).status, 'expired');
      await assert.rejects(
        p.approvals.decide(id, 'approve'),
        (e) => e instanceof FrostnetError && e.code === 'CONFLICT',
      );
      const again = await refusal(p, r);
      assert.equal(again.code, 'POLICY_DENIED');
      assert.match(again.message, /expired/);
    });
  });

  test('ids: a unique prefix of 8 or more hex digits; anything else is refused', async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      const p = await open(dir, clock, POLICY);
      const id = idIn((await refusal(p, req(pay(70_000n)))).message);
      assert.equal((await p.approvals.show(id.slice(0, 8))).shortId, id);
      await assert.rejects(p.approvals.show(id.slice(0, 7)), /at least 8 digits/);
      await assert.rejects(p.approvals.show('00000000'), /no request 00000000/);
    });
  });
});

describe('time locks', () => {
  const POLICY = {
    approvalExpirySeconds: 7200,
    keys: { k: { evm: { approvalAbove: '5 ether', timeLock: { above: '1 ether', delaySeconds: 3600 } } } },
  };
  const send = (ether: bigint, nonce = 0n) => req(executeRequest({ value: ether * 10n ** 18n, nonce }));

  test('refused until the delay since first seen has passed, then let through', async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      let p = await open(dir, clock, POLICY);
      const first = await refusal(p, send(2n));
      assert.equal(first.code, 'TIME_LOCKED');
      assert.match(first.message, new RegExp(`until ${new Date(clock.now + 3_600_000).toISOString()}`));
      clock.advance(3599);
      p = await open(dir, clock); // a restart does not restart the delay
      assert.equal((await refusal(p, send(2n))).code, 'TIME_LOCKED');
      clock.advance(1);
      await p.check(send(2n));
    });
  });

  test('cancelled during the delay: refused for good', async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      const p = await open(dir, clock, POLICY);
      const id = idIn((await refusal(p, send(2n))).message);
      assert.equal((await p.approvals.show(id)).status, 'time-locked');
      await assert.rejects(p.approvals.decide(id, 'approve'), /needs no approval; it is time-locked/);
      assert.equal((await p.approvals.decide(id, 'cancel')).status, 'cancelled');
      clock.advance(7200);
      const again = await refusal(p, send(2n));
      assert.equal(again.code, 'POLICY_DENIED');
      assert.match(again.message, /was cancelled by this party's operator/);
    });
  });

  test('with approval too: approval first, and approving never shortens the lock', async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      const p = await open(dir, clock, POLICY);
      const first = await refusal(p, send(6n));
      assert.equal(first.code, 'APPROVAL_REQUIRED');
      assert.match(first.message, /also time-locked until/);
      await p.approvals.decide(idIn(first.message), 'approve');
      assert.equal((await refusal(p, send(6n))).code, 'TIME_LOCKED');
      clock.advance(3600);
      await p.check(send(6n));
    });
  });
});

describe('audit log', () => {
  test('one JSON line per request decision, signature and operator action', async () => {
    await withDir(async (dir) => {
      const clock = new FakeClock();
      const p = await open(dir, clock, {
        approvalExpirySeconds: 60,
        keys: { k: { rawMessages: false, bitcoin: { approvalAbove: 50_000 } } },
      });
      await refusal(p, req(rawRequest()));
      const small = req(pay(10_000n));
      await p.check(small);
      await p.signed(small);
      const big = req(pay(70_000n));
      const id = idIn((await refusal(p, big)).message);
      await p.approvals.decide(id, 'approve');
      await p.check(big);
      const held = req(pay(80_000n));
      await refusal(p, held);
      clock.advance(60);
      await refusal(p, held);
      const lines = await audit(dir);
      assert.deepEqual(
        lines.map((l) => l.decision),
        [
          'denied',
          'allowed',
          'signed',
          'approval-required',
          'approved',
          'allowed',
          'approval-required',
          'expired',
          'denied',
        ],
      );
      for (const l of lines) {
        assert.deepEqual(Object.keys(l).sort(), [
          'decision',
          'id',
          'key',
          'reason',
          'requester',
          'time',
          'what',
        ]);
        assert.equal(l.key, 'k');
        assert.ok(l.reason.length > 0);
      }
      assert.equal(lines[0].requester, PEER);
      assert.match(lines[0].reason, /raw message signing is off/);
      assert.equal(lines[1].what.kind, 'psbt');
      assert.equal(lines[1].what.sent, '10000');
      assert.equal(lines[4].requester, 'operator');
      assert.equal(lines[0].time, new Date(clock.now - 60_000).toISOString());
    });
  });

  test('no policy file: the defaults (drills and PSBTs allowed, raw messages refused), every request audited', async () => {
    await withDir(async (dir) => {
      const p = await open(dir, new FakeClock());
      await p.check(req(drillRequest(), 'any', SELF));
      const raw = await refusal(p, req(rawRequest(), 'any', SELF));
      assert.match(raw.message, /raw message signing is off/);
      const [drill, refused] = await audit(dir);
      assert.equal(drill.decision, 'allowed');
      assert.equal(drill.requester, SELF);
      assert.equal(refused.decision, 'denied');
    });
  });

  test('a corrupt state file stops the policy from opening rather than forgetting its limits', async () => {
    await withDir(async (dir) => {
      await writeFile(join(dir, 'policy-counters.json'), '{"version":1,"accepted":[],"signed":[{"id":1}]}');
      await assert.rejects(
        open(dir, new FakeClock()),
        (e) => e instanceof FrostnetError && e.code === 'STORE_CORRUPT',
      );
    });
  });
});
