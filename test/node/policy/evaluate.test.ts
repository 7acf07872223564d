/**
 * Every rule, pure: one request it allows and one it denies (or holds), with the rolling usage given as data.
 * Requests are the resolutions a party makes of real PSBTs and EIP-712 data.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { estimateWeight } from '../../../chains/bitcoin/build.ts';
import { parseRecoveryPolicy } from '../../../chains/bitcoin/recovery.ts';
import { loadAddressChecks } from '../../../node/policy/address-checks.ts';
import {
  evaluate,
  MAX_VETO_SECONDS,
  refuseRecovery,
  type Usage,
  type Verdict,
} from '../../../node/policy/evaluate.ts';
import { NO_RULES, parsePolicy, type Rules, rulesFor } from '../../../node/policy/format.ts';
import type { ResolvedRequest } from '../../../node/signing/targets.ts';
import { generateIdentity, peerIdOf } from '../../../node/storage/identity.ts';
import { testWallet } from '../../bitcoin/helpers.ts';
import {
  drillRequest,
  ERC20_TRANSFER,
  executeRequest,
  NET,
  outsideAddress,
  psbtRequest,
  rawRequest,
  rotateRequest,
  TOKEN,
  transferData,
  vetoRequest,
} from './helpers.ts';

const SELF = peerIdOf(await generateIdentity());
const PEER = peerIdOf(await generateIdentity());
const STRANGER = peerIdOf(await generateIdentity());
const { wallet } = testWallet(NET, 'policy wallet');
const other = testWallet(NET, 'payee').wallet;
const PAYEE = outsideAddress(other, 0);
const THIEF = outsideAddress(other, 1);
const NONE: Usage = { requestsLastHour: 0, spentLastDay: 0n };

const CHECKS = await loadAddressChecks();
const rules = (json: unknown): Rules => parsePolicy({ default: json }, 'policy', CHECKS).default!;
const verdict = (r: Rules, resolved: ResolvedRequest, usage = NONE, requester = PEER): Verdict =>
  evaluate(r, { keyName: 'k', requester, self: SELF, resolved, now: Date.now() }, usage);
const pay = (amount: bigint, o: { to?: string; changeIndex?: number; feeRate?: number } = {}) =>
  psbtRequest(wallet, {
    payments: [{ address: o.to ?? PAYEE, amount }],
    changeIndex: o.changeIndex,
    feeRate: o.feeRate,
  });

function allows(r: Rules, req: ResolvedRequest, usage = NONE, requester = PEER) {
  const v = verdict(r, req, usage, requester);
  assert.deepEqual(v, { decision: 'allow' }, JSON.stringify(v));
}

function denies(r: Rules, req: ResolvedRequest, reason: RegExp, usage = NONE, requester = PEER) {
  const v = verdict(r, req, usage, requester);
  assert.equal(v.decision, 'deny', JSON.stringify(v));
  assert.ok(
    v.decision === 'deny' && v.reasons.some((x) => reason.test(x)),
    `${JSON.stringify(v)} !~ ${reason}`,
  );
}

function holds(r: Rules, req: ResolvedRequest, what: 'approval' | 'lock', reason: RegExp, usage = NONE) {
  const v = verdict(r, req, usage);
  assert.equal(v.decision, 'hold', JSON.stringify(v));
  const text = v.decision === 'hold' ? (what === 'approval' ? v.approval : v.lock?.reason) : undefined;
  assert.ok(text && reason.test(text), `${JSON.stringify(v)} !~ ${reason}`);
}

describe('rules for every request', () => {
  test('a key without an entry uses the default; an entry replaces the default; neither refuses', () => {
    const p = parsePolicy({ default: { rawMessages: false }, keys: { open: { rawMessages: true } } });
    denies(rulesFor(p, 'other')!, rawRequest(), /raw message signing is off/);
    allows(rulesFor(p, 'open')!, rawRequest());
    const strict = parsePolicy({ keys: { open: { rawMessages: true } } });
    const v = evaluate(
      rulesFor(strict, 'other'),
      { keyName: 'other', requester: PEER, self: SELF, resolved: rawRequest(), now: Date.now() },
      NONE,
    );
    assert.equal(v.decision, 'deny');
    assert.match(JSON.stringify(v), /no rules for key other and no default/);
  });

  test('schemes', () => {
    const r = rules({ rawMessages: true, schemes: ['bip340'] });
    allows(r, rawRequest('aa', 'bip340'));
    denies(r, rawRequest('aa', 'rfc9591'), /scheme rfc9591 is not allowed/);
  });

  test('raw messages: off unless the file turns them on; drills on unless it turns them off', () => {
    denies(rules({}), rawRequest(), /raw message signing is off/);
    allows(rules({}), drillRequest());
    denies(rules({ drills: false }), drillRequest(), /recovery drills are off/);
    allows(rules({ rawMessages: true }), rawRequest());
    denies(rules({ rawMessages: false }), rawRequest(), /raw message signing is off/);
    allows(rules({ rawMessages: false }), pay(1000n), NONE); // other kinds are unaffected
  });

  test('requesters, with "self" for local requests', () => {
    const r = rules({ rawMessages: true, requesters: [PEER, 'self'] });
    allows(r, rawRequest(), NONE, PEER);
    allows(r, rawRequest(), NONE, SELF);
    denies(r, rawRequest(), new RegExp(`requester ${STRANGER} may not`), NONE, STRANGER);
    denies(
      rules({ rawMessages: true, requesters: [PEER] }),
      rawRequest(),
      /requester self may not/,
      NONE,
      SELF,
    );
    // A drill is a request like any other for who may ask and how often.
    denies(rules({ requesters: [PEER] }), drillRequest(), /requester self may not/, NONE, SELF);
  });

  test('requests per hour', () => {
    const r = rules({ rawMessages: true, requestsPerHour: 3 });
    allows(r, rawRequest(), { ...NONE, requestsLastHour: 2 });
    denies(r, rawRequest(), /3 requests of this key in the past hour already; the limit is 3/, {
      ...NONE,
      requestsLastHour: 3,
    });
  });

  test('manual approval of every request', () => {
    holds(
      rules({ rawMessages: true, requireApproval: true }),
      rawRequest(),
      'approval',
      /every request of this key needs approval/,
    );
    // A drill's signature is worthless outside the drill: no operator is asked about one.
    allows(rules({ requireApproval: true }), drillRequest());
  });

  test('every broken rule is named, and a denial wins over a hold', () => {
    const r = rules({ requireApproval: true, schemes: ['bip340'], rawMessages: false });
    const v = verdict(r, rawRequest('aa', 'rfc9591'));
    assert.equal(v.decision, 'deny');
    assert.equal(v.decision === 'deny' && v.reasons.length, 2);
  });
});

describe('Bitcoin rules, on the PSBT as this party decoded it', () => {
  test('a chain switched off', () => {
    denies(rules({ bitcoin: false }), pay(1000n), /signs no Bitcoin transactions/);
  });

  test('networks', () => {
    allows(rules({ bitcoin: { networks: ['regtest'] } }), pay(1000n));
    denies(rules({ bitcoin: { networks: ['mainnet'] } }), pay(1000n), /network regtest is not allowed/);
  });

  test('maximum sent per transaction counts payments, not change', () => {
    // 1 000 000 sat in, 100 000 out to the payee: the ~900 000 sat of change is not "sent".
    const r = rules({ bitcoin: { maxSentPerTx: 100_000 } });
    allows(r, pay(100_000n));
    denies(r, pay(100_001n), /100001 sat is above the per-transaction limit of 100000 sat/);
  });

  test('maximum sent per rolling day', () => {
    const r = rules({ bitcoin: { maxSentPerDay: '0.001 btc' } });
    allows(r, pay(60_000n), { ...NONE, spentLastDay: 40_000n });
    denies(r, pay(60_000n), /on top of 40001 sat in the past 24 h is above the daily limit of 100000 sat/, {
      ...NONE,
      spentLastDay: 40_001n,
    });
  });

  test('destination allowlist, compared by script (an upper-case address matches)', () => {
    const r = rules({ bitcoin: { destinations: [PAYEE.toUpperCase()] } });
    allows(r, pay(5000n));
    denies(
      r,
      pay(5000n, { to: THIEF }),
      new RegExp(`output 0 pays 5000 sat to ${THIEF}, which is not an allowed`),
    );
  });

  test('change must return to this key: the change branch, below an index the wallet watches', () => {
    allows(rules({ bitcoin: { changeToSelf: true } }), pay(5000n, { changeIndex: 10_000 }));
    denies(
      rules({ bitcoin: { changeToSelf: true } }),
      pay(5000n, { changeIndex: 10_001 }),
      /returns change to m\/1\/10001, not to a change address of this key \(m\/1\/0 \.\. m\/1\/10000\)/,
    );
    denies(
      rules({ bitcoin: { changeToSelf: true, maxChangeIndex: 5 } }),
      pay(5000n, { changeIndex: 6 }),
      /m\/1\/6/,
    );
  });

  test('fee ceiling, absolute', () => {
    const req = pay(5000n, { feeRate: 10 });
    const fee = req.kind === 'psbt' ? req.summary.fee : 0n;
    allows(rules({ bitcoin: { maxFee: Number(fee) } }), req);
    denies(
      rules({ bitcoin: { maxFee: Number(fee) - 1 } }),
      req,
      new RegExp(`fee of ${fee} sat is above the limit`),
    );
  });

  test('fee share: the fee against what is sent', () => {
    const req = pay(5000n, { feeRate: 10 });
    const s = req.kind === 'psbt' ? req.summary : undefined!;
    const share = Number(s.fee) / 5000;
    allows(rules({ bitcoin: { maxFeeShare: share + 0.001 } }), req);
    denies(
      rules({ bitcoin: { maxFeeShare: share - 0.001 } }),
      req,
      new RegExp(`the fee of ${s.fee} sat is \\d+\\.\\d\\d% of the 5000 sat sent, above the limit of`),
    );
  });

  test('fee ceiling, rate from the exact signed size', () => {
    const req = pay(5000n, { feeRate: 10 });
    assert.equal(req.kind, 'psbt');
    const s = req.kind === 'psbt' ? req.summary : undefined!;
    const rate =
      (Number(s.fee) * 4) /
      estimateWeight(
        s.inputs.length,
        s.outputs.map((o) => o.script),
      );
    assert.ok(rate >= 10 && rate < 10.1, `${rate}`);
    allows(rules({ bitcoin: { maxFeeRate: 10.1 } }), req);
    denies(
      rules({ bitcoin: { maxFeeRate: 9.5 } }),
      req,
      /fee rate of 10\.\d\d sat\/vB is above the limit of 9\.5/,
    );
  });

  test('approval above an amount', () => {
    const r = rules({ bitcoin: { approvalAbove: 50_000 } });
    allows(r, pay(50_000n));
    holds(r, pay(50_001n), 'approval', /50001 sat is above the approval threshold of 50000 sat/);
  });

  test('time lock above an amount', () => {
    const r = rules({ bitcoin: { timeLock: { above: 70_000, delaySeconds: 3600 } } });
    allows(r, pay(70_000n));
    holds(r, pay(70_001n), 'lock', /70001 sat is above the time-lock threshold of 70000 sat/);
    const v = verdict(r, pay(70_001n));
    assert.equal(v.decision === 'hold' && v.lock?.delaySeconds, 3600);
  });
});

describe('EVM rules, on the EIP-712 action as this party decoded it', () => {
  const plainTransfer = (value: bigint, chainId = 1n) => executeRequest({ value, chainId });

  test('a chain switched off', () => {
    denies(rules({ evm: false }), plainTransfer(1n), /signs no EVM actions/);
  });

  test('chain ids', () => {
    allows(rules({ evm: { chainIds: [1, '8453'] } }), plainTransfer(1n, 8453n));
    denies(rules({ evm: { chainIds: [1] } }), plainTransfer(1n, 10n), /chain id 10 is not allowed/);
  });

  test('actions', () => {
    allows(rules({ evm: { actions: ['Execute'] } }), plainTransfer(1n));
    denies(rules({ evm: { actions: ['Execute'] } }), rotateRequest(), /EVM action RotateKey is not allowed/);
    // Without an actions list only Execute is allowed: a key rotation must be allowed by name.
    denies(rules({}), rotateRequest(), /EVM action RotateKey is not allowed \(allowed: Execute\)/);
    denies(rules({ evm: {} }), rotateRequest(), /EVM action RotateKey is not allowed/);
    // Allowed by name, it is held for approval (showing old and new key), unless the file says otherwise.
    holds(
      rules({ evm: { actions: ['Execute', 'RotateKey'] } }),
      rotateRequest(),
      'approval',
      /key rotation hands the account to another key and needs approval/,
    );
    allows(rules({ evm: { actions: ['RotateKey'], rotateKeyRequiresApproval: false } }), rotateRequest());
  });

  test('target contracts (any address case)', () => {
    allows(rules({ evm: { targets: [`0x${TOKEN.slice(2).toUpperCase()}`] } }), plainTransfer(1n));
    denies(
      rules({ evm: { targets: [TOKEN] } }),
      executeRequest({ to: `0x${'44'.repeat(20)}` }),
      /target 0x4444.* is not an allowed contract/,
    );
  });

  test('function selectors, "0x" for a plain transfer', () => {
    const r = rules({ evm: { selectors: [ERC20_TRANSFER] } });
    allows(r, executeRequest({ data: transferData(5n) }));
    denies(
      r,
      executeRequest({ data: `0x095ea7b3${'00'.repeat(64)}` }),
      /function selector 0x095ea7b3 is not allowed/,
    );
    denies(r, plainTransfer(1n), /a call without data \(a plain transfer\) is not allowed/);
    allows(rules({ evm: { selectors: ['0x'] } }), plainTransfer(1n));
  });

  test('maximum value per transaction', () => {
    const r = rules({ evm: { maxValuePerTx: '1 ether' } });
    allows(r, plainTransfer(10n ** 18n));
    denies(
      r,
      plainTransfer(10n ** 18n + 1n),
      /is above the per-transaction limit of 1000000000000000000 wei/,
    );
  });

  test('maximum value per rolling day', () => {
    const r = rules({ evm: { maxValuePerDay: '2 gwei' } });
    allows(r, plainTransfer(1_000_000_000n), { ...NONE, spentLastDay: 1_000_000_000n });
    denies(r, plainTransfer(1_000_000_000n), /above the daily limit of 2000000000 wei/, {
      ...NONE,
      spentLastDay: 1_000_000_001n,
    });
  });

  test('approval and time lock above a value', () => {
    const r = rules({ evm: { approvalAbove: 100, timeLock: { above: 1000, delaySeconds: 60 } } });
    allows(r, plainTransfer(100n));
    holds(r, plainTransfer(101n), 'approval', /101 wei is above the approval threshold of 100 wei/);
    const both = verdict(r, plainTransfer(1001n));
    assert.ok(both.decision === 'hold' && both.approval && both.lock, JSON.stringify(both));
  });
});

describe('a VetoRecovery is valid for a day at most', () => {
  const r = rules({ evm: { actions: ['Execute', 'VetoRecovery'] } });
  const now = BigInt(Math.floor(Date.now() / 1000));
  test('one valid for an hour passes; one valid for longer than a day, signed ahead to be kept, is denied', () => {
    allows(r, vetoRequest(now + 3600n));
    denies(
      r,
      vetoRequest(now + BigInt(MAX_VETO_SECONDS) + 60n),
      /a VetoRecovery may be valid for at most 86400 s/,
    );
    denies(r, vetoRequest(2n ** 255n), /valid for at most 86400 s/);
    denies(rules({}), vetoRequest(now + 60n), /EVM action VetoRecovery is not allowed \(allowed: Execute\)/);
  });
});

describe('recovery paths a party agrees to at keygen', () => {
  const R1 = 'a'.repeat(64);
  const R2 = '79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798';
  const policy = (key: string, older: number) =>
    parseRecoveryPolicy({ version: 1, leaves: [{ key, older }] });
  test('none without a recovery rule: not by default, not with no policy file', () => {
    for (const r of [rules({}), NO_RULES])
      assert.match(refuseRecovery(r, 'k', policy(R2, 52_560)).join(), /accepts no recovery path for key k/);
    assert.match(refuseRecovery(undefined, 'k', policy(R2, 52_560)).join(), /accepts no recovery path/);
  });
  test('a listed key with N at least minOlder passes; another key, or a sooner path, is named', () => {
    const r = rules({ recovery: { keys: [R2], minOlder: 144 } });
    assert.deepEqual(refuseRecovery(r, 'k', policy(R2, 144)), []);
    assert.match(
      refuseRecovery(r, 'k', policy(R1.replace(/^a/, '7'), 144)).join(),
      /is not one this party's policy accepts/,
    );
    assert.match(
      refuseRecovery(r, 'k', policy(R2, 143)).join(),
      /leaf 0: it opens after 143 blocks .* wants at least 144/,
    );
    // minOlder defaults to about 30 days.
    assert.match(
      refuseRecovery(rules({ recovery: { keys: [R2] } }), 'k', policy(R2, 144)).join(),
      /at least 4320/,
    );
  });
  test('the policy file names a bad recovery key or minOlder by field', () => {
    assert.throws(() => rules({ recovery: { keys: ['xpubnonsense'] } }), /default\.recovery\.keys\[0\]/);
    assert.throws(() => rules({ recovery: { keys: [R2], minOlder: 0 } }), /default\.recovery\.minOlder/);
    assert.throws(() => rules({ recovery: { keys: [] } }), /default\.recovery\.keys/);
    assert.throws(() => rules({ recovery: { keys: [R2], older: 5 } }), /default\.recovery\.older/);
  });
});
