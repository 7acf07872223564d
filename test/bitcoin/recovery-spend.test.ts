/**
 * Recovery-path spends: the PSBT Frostnet builds for the recovery key's holder, signed by an in-test HD wallet
 * through @scure/btc-signer (it finds its key from the PSBT's tap_bip32_derivation, as a hardware wallet
 * would), finalized here, and checked by @scure alone: the witness (signature, leaf script, control block)
 * verifies against the coin's output key, and nSequence and the version satisfy older(N).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { SigHash } from '@scure/btc-signer';
import { Psbt, Transaction } from 'bitcoinjs-lib';
import { transactionWeight, type WalletUtxo } from '../../chains/bitcoin/build.ts';
import { descriptorKey, type Wallet } from '../../chains/bitcoin/keys.ts';
import { planPsbtSigning } from '../../chains/bitcoin/psbt.ts';
import { parseRecoveryPolicy } from '../../chains/bitcoin/recovery.ts';
import {
  addRecoverySignatures,
  buildRecoveryPsbt,
  finalizeRecoveryPsbt,
  recoveryInputWeight,
} from '../../chains/bitcoin/recovery-spend.ts';
import { hexToBytes } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { fakeTxid, recoveryHolder, testWallet } from './helpers.ts';
import {
  checkRecoveryWithScure,
  type Holder,
  type HolderLeaf,
  holderSigns,
  recoveryHolderAddress,
} from './recovery-helpers.ts';

const NET = 'regtest';
const { wallet: base } = testWallet(NET);
const lawyer = recoveryHolder('lawyer', NET);
const heir = recoveryHolder('heir', NET);
const one: Wallet = {
  ...base,
  recovery: parseRecoveryPolicy({ version: 1, leaves: [{ key: lawyer.keyText, older: 144 }] }),
};
const two: Wallet = {
  ...base,
  recovery: parseRecoveryPolicy({
    version: 1,
    leaves: [
      { key: lawyer.keyText, older: 4_320 },
      { key: heir.keyText, older: 52_560 },
    ],
  }),
};
const COINS: WalletUtxo[] = [
  { txid: fakeTxid('rec-a'), vout: 1, amount: 250_000n, change: false, index: 0 },
  { txid: fakeTxid('rec-b'), vout: 0, amount: 30_000n, change: true, index: 3 },
];
const rejects = (fn: () => unknown, code: string, message: RegExp) =>
  assert.throws(fn, (e) => e instanceof FrostnetError && e.code === code && message.test(e.message));

const holderAddress = (holder: Holder) => recoveryHolderAddress(holder, NET);
const checkWithScure = (txHex: string, coins: WalletUtxo[], holders: HolderLeaf[], leaf: number) =>
  checkRecoveryWithScure(base.root, NET, txHex, coins, holders, leaf);

test("a recovery spend signed by the holder's own wallet verifies against the output key, with nSequence = N", (t) => {
  const to = holderAddress(lawyer);
  const built = buildRecoveryPsbt(one, { coins: COINS, to, feeRate: 2 });
  assert.equal(built.older, 144);
  const input = built.psbt.data.inputs[0]!;
  const key = descriptorKey(one, [0, 0]);
  const leaf = key.recoveryTree!.leaves[0]!;
  assert.deepEqual(input.tapInternalKey, key.internalKey.toBytes(true).subarray(1));
  assert.deepEqual(input.tapMerkleRoot, key.merkleRoot);
  assert.deepEqual(input.tapLeafScript![0]!.script, leaf.tapLeaf.script);
  assert.deepEqual(input.tapBip32Derivation, [
    {
      masterFingerprint: hexToBytes(lawyer.fingerprint),
      pubkey: leaf.key,
      path: "m/86'/1'/0'/0/0",
      leafHashes: [leaf.proof.leafHash],
    },
  ]);
  // The network would not sign it: it names no key path of the group.
  assert.throws(() => planPsbtSigning(built.psbt.toBase64(), one), /does not belong to this key/);

  const signed = holderSigns(built.psbt.toBuffer(), lawyer);
  const done = finalizeRecoveryPsbt(signed);
  assert.equal(done.fee, built.fee);
  const tx = checkWithScure(done.txHex, COINS, [{ holder: lawyer, older: 144 }], 0);
  assert.equal(tx.getOutput(0).amount, built.amount);
  assert.equal(built.amount + built.fee, 280_000n);
  // The estimate that set the fee is the real weight.
  const weight = transactionWeight(
    COINS.map(() => recoveryInputWeight(leaf)),
    [tx.getOutput(0).script!],
  );
  assert.equal(done.weight, weight);
  t.diagnostic(
    `one-leaf recovery input: ${recoveryInputWeight(leaf) / 4} vB; 2-in 1-out sweep ${done.vsize} vB`,
  );
});

test('with two leaves the later one spends through its control block path, after its own N', (t) => {
  const to = holderAddress(heir);
  rejects(() => buildRecoveryPsbt(two, { coins: COINS, to, feeRate: 2 }), 'INVALID_INPUT', /name the leaf/);
  const built = buildRecoveryPsbt(two, { coins: COINS, to, feeRate: 2, leaf: 1 });
  assert.equal(built.older, 52_560);
  const holders = [
    { holder: lawyer, older: 4_320 },
    { holder: heir, older: 52_560 },
  ];
  // The lawyer's wallet finds nothing of its own to sign in the heir's spend.
  assert.throws(() => holderSigns(built.psbt.toBuffer(), lawyer));
  const done = finalizeRecoveryPsbt(holderSigns(built.psbt.toBuffer(), heir));
  const tx = checkWithScure(done.txHex, COINS, holders, 1);
  assert.equal(tx.getInput(0).finalScriptWitness![2]!.length, 33 + 32, 'one sibling hash');
  const leaf = descriptorKey(two, [0, 0]).recoveryTree!.leaves[1]!;
  t.diagnostic(`two-leaf recovery input: ${recoveryInputWeight(leaf) / 4} vB`);
});

test('bare signatures from any signer are checked, then finalized the same way', () => {
  const built = buildRecoveryPsbt(one, { coins: COINS, to: holderAddress(lawyer), feeRate: 1 });
  const tx = Transaction.fromBuffer(built.psbt.data.globalMap.unsignedTx.toBuffer());
  const scripts = built.psbt.data.inputs.map((i) => i.witnessUtxo!.script);
  const values = built.psbt.data.inputs.map((i) => i.witnessUtxo!.value);
  const sigs = new Map(
    COINS.map((c, i) => {
      const leaf = descriptorKey(one, [c.change ? 1 : 0, c.index]).recoveryTree!.leaves[0]!;
      const sighash = tx.hashForWitnessV1(i, scripts, values, SigHash.DEFAULT, leaf.proof.leafHash);
      const secret = lawyer.account.deriveChild(c.change ? 1 : 0).deriveChild(c.index).privateKey!;
      return [i, schnorr.sign(sighash, secret)] as const;
    }),
  );
  const other = new Map([[0, schnorr.sign(new Uint8Array(32), heir.account.privateKey!)]]);
  rejects(() => addRecoverySignatures(built.psbt, other), 'INVALID_SIGNATURE', /does not verify/);
  checkWithScure(
    finalizeRecoveryPsbt(addRecoverySignatures(built.psbt, sigs)).txHex,
    COINS,
    [{ holder: lawyer, older: 144 }],
    0,
  );
});

test('the finalizer refuses what the chain would: no signature, a short nSequence, version 1, a bent proof', () => {
  const build = () =>
    buildRecoveryPsbt(one, { coins: COINS.slice(0, 1), to: holderAddress(lawyer), feeRate: 1 }).psbt;
  rejects(() => finalizeRecoveryPsbt(build()), 'INVALID_INPUT', /input 0 is not signed by its recovery key/);
  type Edit = (p: Psbt) => void;
  // Edits before signing: the holder's wallet signs what it is given, the finalizer is what refuses.
  const before: [Edit, RegExp][] = [
    [(p) => p.setInputSequence(0, 143), /nSequence 143 is below the leaf's 144 blocks/],
    [(p) => p.setInputSequence(0, 0xffffffff), /turns relative locks off/],
    [(p) => p.setInputSequence(0, (1 << 22) | 144), /time-based lock/],
    [(p) => p.setVersion(1), /version is 1; older\(\) needs 2/],
  ];
  for (const [edit, why] of before) {
    const p = build();
    edit(p);
    rejects(() => finalizeRecoveryPsbt(holderSigns(p.toBuffer(), lawyer)), 'INVALID_INPUT', why);
  }
  // Edits after signing (a wallet would not sign these): a bent proof, a signature of something else.
  const signed = () => Psbt.fromBuffer(holderSigns(build().toBuffer(), lawyer));
  const bent = signed();
  const leaf = bent.data.inputs[0]!.tapLeafScript![0]!;
  const block = Uint8Array.from(leaf.controlBlock);
  block[5] ^= 1;
  bent.data.inputs[0]!.tapLeafScript = [{ ...leaf, controlBlock: block }];
  rejects(() => finalizeRecoveryPsbt(bent), 'INVALID_INPUT', /input 0: control block/);
  const forged = signed();
  const sig = forged.data.inputs[0]!.tapScriptSig![0]!;
  forged.data.inputs[0]!.tapScriptSig = [
    { ...sig, signature: schnorr.sign(new Uint8Array(32), heir.account.privateKey!) },
  ];
  rejects(
    () => finalizeRecoveryPsbt(forged),
    'INVALID_SIGNATURE',
    /recovery key's signature does not verify/,
  );

  // A key with no policy has no recovery path; dust is not swept; the destination must be an address here.
  rejects(
    () => buildRecoveryPsbt(base, { coins: COINS, to: holderAddress(lawyer), feeRate: 1 }),
    'WRONG_CONTEXT',
    /no recovery policy/,
  );
  rejects(
    () =>
      buildRecoveryPsbt(one, {
        coins: [{ ...COINS[0]!, amount: 600n }],
        to: holderAddress(lawyer),
        feeRate: 5,
      }),
    'INVALID_INPUT',
    /less than 546 sat/,
  );
  rejects(
    () => buildRecoveryPsbt(one, { coins: COINS, to: 'bc1qnotours', feeRate: 1 }),
    'INVALID_INPUT',
    /recovery destination/,
  );
});
