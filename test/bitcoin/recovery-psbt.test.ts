/**
 * Key-path spends of recovery-enabled coins: a 2-of-3 key made by this project's DKG signs, in process, a PSBT
 * whose inputs commit to the agreed recovery tree; the signatures verify against sighashes and output keys that
 * @scure/btc-signer computes on its own. Then the refusals: a PSBT made for any other tree is not signed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { HDKey } from '@scure/bip32';
import { p2tr, p2wpkh, Script, Transaction as ScureTx, SigHash } from '@scure/btc-signer';
import type { Psbt } from 'bitcoinjs-lib';
import { descriptorAddress } from '../../chains/bitcoin/address.ts';
import { buildWalletPsbt, estimateWeight, KEY_PATH_INPUT_VSIZE } from '../../chains/bitcoin/build.ts';
import { descriptorKey, type Wallet, xpub } from '../../chains/bitcoin/keys.ts';
import { applyKeySignatures, finalizePsbt, planPsbtSigning } from '../../chains/bitcoin/psbt.ts';
import { parseRecoveryPolicy, recoveryTreeAt } from '../../chains/bitcoin/recovery.ts';
import { controlBlock } from '../../chains/bitcoin/taptree.ts';
import { G, hexToBytes, pointToBytes } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { groupKey } from '../../protocol/keys.ts';
import { makeKey, signWith } from '../helpers/keys.ts';
import { fakeTxid, recoveryHolder, scureNetwork, TEST_VERSIONS, testWallet } from './helpers.ts';

const NET = 'regtest';
const OLDER = 4_320;
const lawyer = recoveryHolder('lawyer', NET);
const recovery = parseRecoveryPolicy({ version: 1, leaves: [{ key: lawyer.keyText, older: OLDER }] });

// A 2-of-3 group from the DKG; its root as the wallet root, as the daemon builds it from the key record.
const shares = makeKey(2, 3);
const group = shares.get('party-1')!.group;
const wallet: Wallet = { root: { key: groupKey(group), chainCode: group.chainCode }, network: NET, recovery };
const plain: Wallet = { root: wallet.root, network: NET };

const outside = p2wpkh(pointToBytes(G.multiply(777n)), scureNetwork(NET)).address!;
const COINS = [
  { txid: fakeTxid('r1'), vout: 0, amount: 120_000n, change: false, index: 0 },
  { txid: fakeTxid('r2'), vout: 3, amount: 45_000n, change: true, index: 2 },
];

const build = (w: Wallet = wallet) =>
  buildWalletPsbt(w, {
    utxos: COINS,
    payments: [{ address: outside, amount: 100_000n }],
    changeIndex: 1,
    feeRate: 3,
  });

const rejects = (fn: () => unknown, code: string, message: RegExp) =>
  assert.throws(fn, (e) => e instanceof FrostnetError && e.code === code && message.test(e.message));

function tamper(psbt: Psbt, edit: (p: Psbt) => void): string {
  const copy = psbt.clone();
  edit(copy);
  return copy.toBase64();
}

/** The coin's P2TR output built by @scure alone: K and R derived by @scure/bip32, the leaf by btc-signer. */
function scureOutput(branch: number, index: number, older = OLDER) {
  const internal = HDKey.fromExtendedKey(xpub(wallet.root, NET), TEST_VERSIONS)
    .deriveChild(branch)
    .deriveChild(index);
  const R = lawyer.account.deriveChild(branch).deriveChild(index).publicKey!.subarray(1);
  const leaf = Script.encode([R, 'CHECKSIGVERIFY', older, 'CHECKSEQUENCEVERIFY']);
  return p2tr(internal.publicKey!.subarray(1), { script: leaf }, scureNetwork(NET), true);
}

test('a 2-of-3 key signs a key-path spend of recovery-enabled coins; @scure verifies every signature', (t) => {
  const { psbt, fee, change } = build();
  const plan = planPsbtSigning(psbt.toBase64(), wallet);
  assert.deepEqual(
    plan.inputs.map((i) => i.path),
    [
      [0, 0],
      [1, 2],
    ],
  );
  for (const input of plan.inputs) {
    const [branch, index] = input.path as [number, number];
    assert.deepEqual(input.merkleRoot, recoveryTreeAt(recovery, branch, index).merkleRoot);
    assert.deepEqual(input.outputKey, scureOutput(branch, index).tweakedPubkey);
  }
  // The change output commits to the same policy, and says so in PSBT_OUT_TAP_TREE.
  assert.equal(plan.summary.outputs[1]!.change, true);
  assert.equal(plan.summary.outputs[1]!.address, descriptorAddress(wallet, { change: true, index: 1 }));
  assert.equal(plan.summary.outputs[1]!.address, scureOutput(1, 1).address);
  assert.equal(psbt.data.outputs[1]!.tapTree!.leaves.length, 1);

  // Signed by FROST: parties 1 and 3, every share tweaked by the plan's steps (BIP32 children, then the tree).
  const sigs = new Map(
    plan.inputs.map((i) => [
      i.index,
      signWith(shares, ['party-1', 'party-3'], { scheme: 'bip340', message: i.sighash, steps: i.steps }),
    ]),
  );
  const done = finalizePsbt(applyKeySignatures(psbt, sigs));
  const tx = ScureTx.fromRaw(hexToBytes(done.txHex));
  const spent = COINS.map((c) => scureOutput(c.change ? 1 : 0, c.index));
  const scripts = spent.map((s) => s.script);
  const amounts = COINS.map((c) => c.amount);
  for (let i = 0; i < tx.inputsLength; i++) {
    const witness = tx.getInput(i).finalScriptWitness!;
    assert.equal(witness.length, 1, `input ${i}: the key path, one witness element`);
    assert.equal(witness[0]!.length, 64);
    const sighash = tx.preimageWitnessV1(i, scripts, SigHash.DEFAULT, amounts);
    assert.ok(schnorr.verify(witness[0]!, sighash, spent[i]!.tweakedPubkey), `input ${i} verifies`);
  }
  assert.equal(done.fee, fee);
  assert.equal(tx.getOutput(1).amount, change);
  assert.equal(done.weight, estimateWeight(2, [tx.getOutput(0).script!, tx.getOutput(1).script!]));
  assert.equal(KEY_PATH_INPUT_VSIZE, 57.5);
  t.diagnostic(`2-in 2-out key-path spend of recovery-enabled coins: ${done.vsize} vB`);
});

test('a PSBT naming another merkle root is refused, naming the input and the agreed root', () => {
  const { psbt } = build();
  const other = recoveryTreeAt(recovery, 0, 1).merkleRoot;
  const forged = tamper(psbt, (p) => {
    p.data.inputs[0]!.tapMerkleRoot = other;
  });
  rejects(
    () => planPsbtSigning(forged, wallet),
    'WRONG_CONTEXT',
    /^input 0 names the script tree with merkle root .* commits to the agreed recovery tree/,
  );
  // A key without a policy refuses any tree, even on its own empty-tree coins.
  const plainPsbt = build(plain).psbt;
  const claimed = tamper(plainPsbt, (p) => {
    p.data.inputs[1]!.tapMerkleRoot = other;
  });
  rejects(() => planPsbtSigning(claimed, plain), 'WRONG_CONTEXT', /^input 1 .* commits to no script tree/);
  assert.equal(planPsbtSigning(plainPsbt.toBase64(), plain).inputs[0]!.merkleRoot, undefined);
});

test('coins of a tree other than the agreed one are refused: another N, another R, or no tree', () => {
  const variants: [string, Wallet][] = [
    [
      'another N',
      {
        ...wallet,
        recovery: parseRecoveryPolicy({ version: 1, leaves: [{ key: lawyer.keyText, older: OLDER - 1 }] }),
      },
    ],
    [
      'another R',
      {
        ...wallet,
        recovery: parseRecoveryPolicy({
          version: 1,
          leaves: [{ key: recoveryHolder('stranger', NET).keyText, older: OLDER }],
        }),
      },
    ],
    [
      'a second leaf nobody agreed to',
      {
        ...wallet,
        recovery: parseRecoveryPolicy({
          version: 1,
          leaves: [
            { key: lawyer.keyText, older: OLDER },
            { key: xpub(testWallet(NET, 'intruder').wallet.root, NET), older: 1 },
          ],
        }),
      },
    ],
    ['no tree', plain],
  ];
  for (const [what, made] of variants) {
    const { psbt } = build(made);
    rejects(
      () => planPsbtSigning(psbt.toBase64(), wallet),
      'WRONG_CONTEXT',
      /^input 0 does not belong to this key: its script is not the P2TR output of m\/0\/0 under the recovery policy/,
    );
    assert.ok(planPsbtSigning(psbt.toBase64(), made).inputs.length === 2, what);
  }
});

test('script leaves in a key-path request must be leaves of the agreed tree with their control blocks', () => {
  const { psbt } = build();
  const key = descriptorKey(wallet, [0, 0]);
  const leaf = key.recoveryTree!.leaves[0]!;
  const block = controlBlock(key.internalKey, key.merkleRoot!, leaf.proof);
  const honest = tamper(psbt, (p) =>
    p.updateInput(0, { tapLeafScript: [{ ...leaf.tapLeaf, controlBlock: block }] }),
  );
  assert.equal(planPsbtSigning(honest, wallet).inputs.length, 2);

  const hidden = Script.encode([schnorr.getPublicKey(new Uint8Array(32).fill(3)), 'CHECKSIG']);
  const foreign = tamper(psbt, (p) => {
    p.data.inputs[0]!.tapLeafScript = [{ leafVersion: 0xc0, script: hidden, controlBlock: block }];
  });
  rejects(
    () => planPsbtSigning(foreign, wallet),
    'WRONG_CONTEXT',
    /^input 0 names a script leaf .* not in the agreed/,
  );
  const wrongBlock = Uint8Array.from(block);
  wrongBlock[0] ^= 1;
  const bent = tamper(psbt, (p) => {
    p.data.inputs[0]!.tapLeafScript = [{ ...leaf.tapLeaf, controlBlock: wrongBlock }];
  });
  rejects(() => planPsbtSigning(bent, wallet), 'WRONG_CONTEXT', /^input 0 names a script leaf/);
});
