/**
 * Recovery status: when each coin's recovery path opens (BIP68: confirmed at h, spendable through older(N)
 * from block h + N), which coins are due for a refresh given a margin, and the refresh PSBT itself.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { p2trScript } from '../../chains/bitcoin/address.ts';
import { buildWalletPsbt } from '../../chains/bitcoin/build.ts';
import { descriptorKey, type Wallet, walletKey } from '../../chains/bitcoin/keys.ts';
import { planPsbtSigning } from '../../chains/bitcoin/psbt.ts';
import { parseRecoveryPolicy } from '../../chains/bitcoin/recovery.ts';
import {
  buildRefreshPsbt,
  type ChainCoin,
  isRefresh,
  recoveryStatus,
} from '../../chains/bitcoin/recovery-status.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { fakeTxid, recoveryHolder, testWallet } from './helpers.ts';

const NET = 'regtest';
const { wallet: base } = testWallet(NET);
const other = testWallet(NET, 'someone else').wallet;
const wallet: Wallet = {
  ...base,
  recovery: parseRecoveryPolicy({
    version: 1,
    leaves: [
      { key: recoveryHolder('heir', NET).keyText, older: 1_000 },
      { key: recoveryHolder('lawyer', NET).keyText, older: 144 },
    ],
  }),
};
const script = (w: Wallet, change: boolean, index: number) =>
  p2trScript(descriptorKey(w, [change ? 1 : 0, index]).outputKey);
const coin = (label: string, s: Uint8Array, height?: number, extra: Partial<ChainCoin> = {}): ChainCoin => ({
  txid: fakeTxid(label),
  vout: 0,
  amount: 50_000n,
  script: s,
  ...(height === undefined ? {} : { height }),
  ...extra,
});

test('each coin: when its recovery path opens, and whether to refresh it within the margin', () => {
  const coins = [
    coin('due', script(wallet, false, 0), 1_000, { at: { change: false, index: 0 } }),
    coin('open', script(wallet, true, 5), 900),
    coin('locked', script(wallet, false, 3), 1_090),
    coin('unconfirmed', script(wallet, false, 1)),
    coin('old descriptor', p2trScript(walletKey(base.root, { change: false, index: 2 }).outputKey), 10),
    coin('not ours', p2trScript(walletKey(other.root, { change: false, index: 0 }).outputKey), 10),
    coin('beyond the lookahead', script(wallet, false, 12), 1_000),
  ];
  const status = recoveryStatus(wallet, coins, { height: 1_100, margin: 50, lookahead: 10 });
  const view = status.coins.map((s) => [s.state, s.opensAt, s.blocksLeft]);
  assert.deepEqual(view, [
    // Lawyer's leaf (144) opens first: block 1,144 is 43 blocks after the next one (1,101).
    ['refresh-due', 1_144, 43],
    ['open', 1_044, 0],
    ['locked', 1_234, 133],
    ['unconfirmed', undefined, undefined],
    ['no-recovery', undefined, undefined],
    ['unknown', undefined, undefined],
    ['unknown', undefined, undefined],
  ]);
  assert.deepEqual(status.coins[0]!.leafOpensAt, [2_000, 1_144]);
  assert.deepEqual(status.coins[1]!.at, { change: true, index: 5 });
  assert.deepEqual(
    status.refresh.map((u) => [u.txid, u.change, u.index]),
    [
      [fakeTxid('due'), false, 0],
      [fakeTxid('open'), true, 5],
    ],
  );
  // A larger lookahead finds index 12, and so does naming its address.
  const far = recoveryStatus(wallet, coins.slice(-1), { height: 1_100, margin: 50, lookahead: 13 });
  assert.equal(far.coins[0]!.state, 'refresh-due');
  const named = coins.slice(-1).map((c) => ({ ...c, at: { change: false, index: 12 } }));
  assert.equal(recoveryStatus(wallet, named, { height: 1_100, margin: 50 }).coins[0]!.state, 'refresh-due');
});

test('the opening block follows BIP68: confirmed at h, a spend through older(N) may be in block h + N', () => {
  const c = [coin('edge', script(wallet, false, 0), 100)];
  const at = (height: number) => recoveryStatus(wallet, c, { height, margin: 0, lookahead: 1 }).coins[0]!;
  assert.equal(at(100).opensAt, 244);
  // Tip 243: the next block is 244, so the recovery spend can be mined now.
  assert.deepEqual([at(243).state, at(243).blocksLeft], ['open', 0]);
  assert.deepEqual([at(242).state, at(242).blocksLeft], ['locked', 1]);
  assert.equal(
    recoveryStatus(wallet, c, { height: 242, margin: 1, lookahead: 1 }).coins[0]!.state,
    'refresh-due',
  );
});

test('a refresh spends the due coins to our own change under the policy; isRefresh tells it from a payment', () => {
  const coins = [coin('a', script(wallet, false, 0), 1_000), coin('b', script(wallet, true, 1), 900)];
  const status = recoveryStatus(wallet, coins, { height: 1_100, margin: 100, lookahead: 3 });
  const { psbt } = buildRefreshPsbt(wallet, status, { changeIndex: 7, feeRate: 2 });
  const plan = planPsbtSigning(psbt.toBase64(), wallet);
  assert.equal(plan.inputs.length, 2);
  assert.ok(isRefresh(plan.summary));
  assert.deepEqual(plan.summary.outputs[0]!.path, [1, 7]);
  const payment = buildWalletPsbt(wallet, {
    utxos: status.refresh,
    payments: [{ address: 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080', amount: 10_000n }],
    changeIndex: 7,
    feeRate: 2,
  }).psbt;
  assert.equal(isRefresh(planPsbtSigning(payment.toBase64(), wallet).summary), false);
  assert.throws(
    () =>
      buildRefreshPsbt(wallet, recoveryStatus(wallet, [], { height: 1, margin: 1 }), {
        changeIndex: 0,
        feeRate: 1,
      }),
    /no coin is due/,
  );
});

test('heights are whole numbers, and no coin confirms above the tip', () => {
  const c = [coin('x', script(wallet, false, 0), 10)];
  const bad = (fn: () => unknown, why: RegExp) =>
    assert.throws(fn, (e) => e instanceof FrostnetError && e.code === 'INVALID_INPUT' && why.test(e.message));
  bad(() => recoveryStatus(wallet, c, { height: -1, margin: 0 }), /current height/);
  bad(() => recoveryStatus(wallet, c, { height: 10.5, margin: 0 }), /current height/);
  bad(() => recoveryStatus(wallet, c, { height: 9, margin: 0 }), /above the current height 9/);
  bad(() => recoveryStatus(wallet, c, { height: 10, margin: -2 }), /refresh margin/);
  bad(() => recoveryStatus(wallet, c, { height: 10, margin: 0, lookahead: 0 }), /lookahead/);
  // A key without a policy: its coins have no recovery path.
  assert.equal(
    recoveryStatus(
      base,
      c.map((x) => ({
        ...x,
        script: p2trScript(walletKey(base.root, { change: false, index: 0 }).outputKey),
      })),
      { height: 10, margin: 0, lookahead: 1 },
    ).coins[0]!.state,
    'no-recovery',
  );
});
