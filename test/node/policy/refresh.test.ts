/**
 * Refreshes of a recovery-enabled key (docs/recovery.md): a self-transfer of the coins whose recovery path
 * opens soon, built by buildRefreshPsbt, is nothing sent, so a policy that holds every payment for approval or
 * a time lock still lets it through at once (while a payment waits). The limits on the fee still apply.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { p2trScript } from '../../../chains/bitcoin/address.ts';
import type { Wallet } from '../../../chains/bitcoin/keys.ts';
import { addressPath, descriptorKey } from '../../../chains/bitcoin/keys.ts';
import { planPsbtSigning } from '../../../chains/bitcoin/psbt.ts';
import { parseRecoveryPolicy } from '../../../chains/bitcoin/recovery.ts';
import { buildRefreshPsbt, isRefresh, recoveryStatus } from '../../../chains/bitcoin/recovery-status.ts';
import { loadAddressChecks } from '../../../node/policy/address-checks.ts';
import { evaluate } from '../../../node/policy/evaluate.ts';
import { parsePolicy } from '../../../node/policy/format.ts';
import type { ResolvedRequest } from '../../../node/signing/targets.ts';
import { fakeTxid, recoveryHolder, testWallet } from '../../bitcoin/helpers.ts';
import { NET, outsideAddress, spendPsbt } from './helpers.ts';

const wallet: Wallet = {
  ...testWallet(NET, 'refreshing wallet').wallet,
  recovery: parseRecoveryPolicy({
    version: 1,
    leaves: [{ key: recoveryHolder('lawyer', NET).keyText, older: 4320 }],
  }),
};
const PAYEE = outsideAddress(testWallet(NET, 'payee').wallet, 0);
const rules = parsePolicy(
  {
    default: {
      bitcoin: {
        destinations: [PAYEE],
        approvalAbove: '0 btc',
        timeLock: { above: '0 btc', delaySeconds: 86400 },
        maxFeeShare: 0.01,
      },
    },
  },
  'policy',
  await loadAddressChecks(),
).default!;

const resolve = (psbt: Parameters<typeof planPsbtSigning>[0]): ResolvedRequest => {
  const plan = planPsbtSigning(psbt, wallet);
  return {
    kind: 'psbt',
    targets: plan.inputs.map((i) => ({ scheme: 'bip340', message: i.sighash, steps: i.steps })),
    inputs: plan.inputs.map((i) => i.index),
    network: NET,
    summary: plan.summary,
  };
};
const verdict = (resolved: ResolvedRequest) =>
  evaluate(
    rules,
    { keyName: 'k', requester: 'peer', self: 'self', resolved, now: Date.now() },
    {
      requestsLastHour: 0,
      spentLastDay: 0n,
    },
  );

test('a refresh of the coins due passes a policy that holds every payment; a payment waits', () => {
  const at = { change: false, index: 4 };
  const script = p2trScript(descriptorKey(wallet, addressPath(at)).outputKey);
  const status = recoveryStatus(
    wallet,
    [{ txid: fakeTxid('due'), vout: 0, amount: 500_000n, script, height: 1000 }],
    { height: 1000 + 4320 - 10, margin: 100 },
  );
  assert.equal(status.coins[0]!.state, 'refresh-due');
  const refresh = resolve(buildRefreshPsbt(wallet, status, { changeIndex: 2, feeRate: 2 }).psbt);
  assert.ok(refresh.kind === 'psbt' && isRefresh(refresh.summary));
  assert.deepEqual(verdict(refresh), { decision: 'allow' });

  const payment = resolve(
    spendPsbt(wallet, {
      payments: [{ address: PAYEE, amount: 100_000n }],
      utxos: [{ txid: fakeTxid('due'), vout: 0, amount: 500_000n, ...at }],
    }),
  );
  const held = verdict(payment);
  assert.equal(held.decision, 'hold', JSON.stringify(held));
  assert.match(
    held.decision === 'hold' ? (held.approval ?? '') : '',
    /above the approval threshold of 0 sat/,
  );
});

test('a refresh still meets the fee limits: an outsized fee is refused', () => {
  const at = { change: true, index: 1 };
  const script = p2trScript(descriptorKey(wallet, addressPath(at)).outputKey);
  const status = recoveryStatus(
    wallet,
    [{ txid: fakeTxid('small'), vout: 1, amount: 20_000n, script, height: 10 }],
    { height: 10 + 4320, margin: 0 },
  );
  assert.equal(status.coins[0]!.state, 'open');
  const v = verdict(resolve(buildRefreshPsbt(wallet, status, { changeIndex: 0, feeRate: 50 }).psbt));
  assert.equal(v.decision, 'deny', JSON.stringify(v));
  assert.match(
    v.decision === 'deny' ? v.reasons.join('; ') : '',
    /fee of \d+ sat is .*% of the 20000 sat spent/,
  );
});
