/**
 * PSBT flow with one whole secret standing in for the network: receive 0 and receive 1 → an outside address
 * plus change 0 → plan → sign → finalize, checked by @scure/btc-signer; then the refusals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { Address, OutScript, p2wpkh, Transaction as ScureTx, SigHash } from '@scure/btc-signer';
import { type Psbt, Transaction } from 'bitcoinjs-lib';
import { p2trScript } from '../../chains/bitcoin/address.ts';
import { buildWalletPsbt, estimateWeight, KEY_PATH_INPUT_VSIZE } from '../../chains/bitcoin/build.ts';
import { walletKey, xpub } from '../../chains/bitcoin/keys.ts';
import {
  applyKeySignatures,
  finalizePsbt,
  loadPsbt,
  planPsbtSigning,
  summarizePsbt,
} from '../../chains/bitcoin/psbt.ts';
import { G, hexToBytes, pointToBytes, scalarToBytes, xOnly } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { fakeTxid, independentP2tr, scureNetwork, signPlan, testWallet } from './helpers.ts';

const NET = 'testnet';
const { secret, wallet } = testWallet(NET);
const other = testWallet(NET, 'someone else');
const outside = p2wpkh(pointToBytes(G.multiply(424242n)), scureNetwork(NET)).address!;
const UTXOS = [
  { txid: fakeTxid('a'), vout: 1, amount: 150_000n, change: false, index: 0 },
  { txid: fakeTxid('b'), vout: 0, amount: 80_000n, change: false, index: 1 },
];
const PAY = 200_000n;

const build = (utxos = UTXOS) =>
  buildWalletPsbt(wallet, {
    utxos,
    payments: [{ address: outside, amount: PAY }],
    changeIndex: 0,
    feeRate: 2,
  });

/** A copy of the PSBT with one input's fields changed, as a dishonest or broken creator would send it. */
function tamper(psbt: Psbt, edit: (p: Psbt) => void): string {
  const copy = psbt.clone();
  edit(copy);
  return copy.toBase64();
}

const rejects = (fn: () => unknown, code: string, message: RegExp) =>
  assert.throws(fn, (e) => e instanceof FrostnetError && e.code === code && message.test(e.message));

/** Prevout scripts and amounts of our made-up coins, derived by @scure alone from the xpub. */
function independentPrevouts(utxos = UTXOS) {
  const key = xpub(wallet.root, NET);
  const spent = utxos.map((u) => independentP2tr(key, NET, u.change ? 1 : 0, u.index));
  return { scripts: spent.map((s) => s.script), amounts: utxos.map((u) => u.amount), spent };
}

test('a spend of receive 0 and 1 to an outside address with change is signed, finalized and valid', (t) => {
  const { psbt, fee, change } = build();
  const plan = planPsbtSigning(psbt.toBase64(), wallet);
  assert.deepEqual(
    plan.inputs.map((i) => i.path),
    [
      [0, 0],
      [0, 1],
    ],
  );

  // The summary a policy checks.
  const { summary } = plan;
  assert.deepEqual(
    summary.inputs.map((i) => [i.ours, i.amount, i.txid, i.vout]),
    UTXOS.map((u) => [true, u.amount, u.txid, u.vout]),
  );
  assert.deepEqual(
    summary.outputs.map((o) => [o.address, o.amount, o.change]),
    [
      [outside, PAY, false],
      [independentP2tr(xpub(wallet.root, NET), NET, 1, 0).address, change, true],
    ],
  );
  assert.deepEqual(summary.outputs[1].path, [1, 0]);
  assert.equal(summary.sent, PAY);
  assert.equal(summary.fee, fee);
  assert.equal(summary.totalIn, 230_000n);

  const signed = applyKeySignatures(psbt, signPlan(plan, secret));
  const done = finalizePsbt(signed.toBase64());
  assert.equal(done.fee, fee);

  // Independent check: parse the raw transaction with @scure and verify each witness against its sighash.
  const tx = ScureTx.fromRaw(hexToBytes(done.txHex));
  const { scripts, amounts, spent } = independentPrevouts();
  assert.equal(tx.inputsLength, 2);
  for (let i = 0; i < tx.inputsLength; i++) {
    const witness = tx.getInput(i).finalScriptWitness!;
    assert.equal(witness.length, 1, `input ${i}: one witness element`);
    assert.equal(witness[0].length, 64, `input ${i}: a 64-byte signature`);
    const sighash = tx.preimageWitnessV1(i, scripts, SigHash.DEFAULT, amounts);
    assert.ok(schnorr.verify(witness[0], sighash, spent[i].tweakedPubkey), `input ${i} verifies`);
  }
  assert.deepEqual(tx.getOutput(0).script, OutScript.encode(Address(scureNetwork(NET)).decode(outside)));
  assert.equal(tx.getOutput(1).amount, 230_000n - PAY - fee);

  // Size: what scure measures, what bitcoinjs measured, and what the estimate predicted.
  assert.equal(tx.vsize, done.vsize);
  assert.equal(tx.weight, done.weight);
  assert.equal(done.weight, estimateWeight(2, [tx.getOutput(0).script!, tx.getOutput(1).script!]));
  assert.equal(KEY_PATH_INPUT_VSIZE, 57.5);
  t.diagnostic(`2-in 2-out key-path spend: ${done.vsize} vB (weight ${done.weight}), fee ${done.fee} sat`);
});

test('a non-default sighash type is refused unless allowed, then signed with its byte appended', () => {
  const { psbt } = build();
  const single = tamper(psbt, (p) => p.updateInput(0, { sighashType: SigHash.SINGLE_ANYONECANPAY }));
  rejects(() => planPsbtSigning(single, wallet), 'POLICY_DENIED', /input 0 requests sighash type 0x83/);

  const plan = planPsbtSigning(single, wallet, {
    sighashTypes: [SigHash.DEFAULT, SigHash.SINGLE_ANYONECANPAY],
  });
  assert.deepEqual(
    plan.inputs.map((i) => i.sighashType),
    [SigHash.SINGLE_ANYONECANPAY, SigHash.DEFAULT],
  );
  const signed = applyKeySignatures(single, signPlan(plan, secret));
  assert.equal(signed.data.inputs[0].tapKeySig!.length, 65);
  assert.equal(signed.data.inputs[0].tapKeySig![64], SigHash.SINGLE_ANYONECANPAY);
  const tx = ScureTx.fromRaw(hexToBytes(finalizePsbt(signed).txHex));
  const { scripts, amounts, spent } = independentPrevouts();
  const witness = tx.getInput(0).finalScriptWitness!;
  const sighash = tx.preimageWitnessV1(0, scripts, SigHash.SINGLE_ANYONECANPAY, amounts);
  assert.ok(schnorr.verify(witness[0].subarray(0, 64), sighash, spent[0].tweakedPubkey));
});

test('an input paying to another key under our derivation is refused, naming the input', () => {
  const { psbt } = build();
  const theirs = p2trScript(walletKey(other.wallet.root, { change: false, index: 1 }).outputKey);
  const forged = tamper(psbt, (p) => {
    p.data.inputs[1].witnessUtxo = { script: theirs, value: 80_000n };
  });
  rejects(() => planPsbtSigning(forged, wallet), 'WRONG_CONTEXT', /^input 1 does not belong to this key/);
});

test('a derivation that names another internal key is refused', () => {
  const { psbt } = build();
  const forged = tamper(psbt, (p) => {
    p.data.inputs[0].tapBip32Derivation![0].pubkey = xOnly(G.multiply(5n));
  });
  rejects(() => planPsbtSigning(forged, wallet), 'WRONG_CONTEXT', /input 0: derivation m\/0\/0/);
  const hardened = tamper(psbt, (p) => {
    p.data.inputs[0].tapBip32Derivation![0].path = "m/0'/0";
  });
  rejects(() => planPsbtSigning(hardened, wallet), 'INVALID_INPUT', /input 0: derivation .*hardened/);
});

test('an outside output that claims to be our change is refused', () => {
  const { psbt } = build();
  const claim = psbt.data.outputs[1].tapBip32Derivation!;
  const forged = tamper(psbt, (p) => p.updateOutput(0, { tapBip32Derivation: claim }));
  rejects(() => summarizePsbt(forged, wallet), 'WRONG_CONTEXT', /^output 0 does not belong to this key/);
});

test('inputs of another wallet are refused, or left to their owner when asked, and the spend completes', () => {
  const ours = build().psbt;
  const theirs = buildWalletPsbt(other.wallet, {
    utxos: [{ txid: fakeTxid('c'), vout: 3, amount: 40_000n, change: true, index: 2 }],
    payments: [],
    changeIndex: 0,
    feeRate: 1,
  }).psbt;
  const joint = ours.clone();
  const { hash, index } = theirs.txInputs[0];
  const { witnessUtxo, tapInternalKey, tapBip32Derivation } = theirs.data.inputs[0];
  joint.addInput({ hash, index, witnessUtxo, tapInternalKey, tapBip32Derivation });

  rejects(() => planPsbtSigning(joint, wallet), 'WRONG_CONTEXT', /^input 2 does not belong to this key/);
  const mine = planPsbtSigning(joint, wallet, { skipForeignInputs: true });
  const yours = planPsbtSigning(joint, other.wallet, { skipForeignInputs: true });
  assert.deepEqual(
    mine.inputs.map((i) => i.index),
    [0, 1],
  );
  assert.deepEqual(
    yours.inputs.map((i) => i.index),
    [2],
  );
  assert.equal(mine.summary.inputs[2].ours, false);
  rejects(
    () => planPsbtSigning(theirs, wallet, { skipForeignInputs: true }),
    'WRONG_CONTEXT',
    /no input of this wallet/,
  );

  const signed = applyKeySignatures(
    applyKeySignatures(joint, signPlan(mine, secret)),
    signPlan(yours, other.secret),
  );
  const tx = ScureTx.fromRaw(hexToBytes(finalizePsbt(signed).txHex));
  const prevouts = [...independentPrevouts().spent, independentP2tr(xpub(other.wallet.root, NET), NET, 1, 2)];
  const scripts = prevouts.map((s) => s.script);
  const amounts = [...UTXOS.map((u) => u.amount), 40_000n];
  for (let i = 0; i < 3; i++) {
    const sighash = tx.preimageWitnessV1(i, scripts, SigHash.DEFAULT, amounts);
    assert.ok(schnorr.verify(tx.getInput(i).finalScriptWitness![0], sighash, prevouts[i].tweakedPubkey));
  }
});

test('a foreign input given by its whole previous transaction is hashed with that output', () => {
  const { psbt } = build();
  const script = p2trScript(walletKey(other.wallet.root, { change: false, index: 0 }).outputKey);
  const prev = new Transaction();
  prev.addInput(hexToBytes(fakeTxid('d')), 0);
  prev.addOutput(hexToBytes('6a00'), 0n);
  prev.addOutput(script, 55_000n);
  const joint = psbt.clone();
  joint.addInput({ hash: prev.getId(), index: 1, nonWitnessUtxo: prev.toBuffer() });
  const plan = planPsbtSigning(joint, wallet, { skipForeignInputs: true });
  assert.equal(plan.summary.inputs[2].amount, 55_000n);

  const tx = ScureTx.fromPSBT(joint.toBuffer());
  const { scripts, amounts } = independentPrevouts();
  for (const i of plan.inputs) {
    const sighash = tx.preimageWitnessV1(i.index, [...scripts, script], SigHash.DEFAULT, [
      ...amounts,
      55_000n,
    ]);
    assert.deepEqual(i.sighash, sighash);
  }
  // A previous transaction that is not the one the input spends.
  const wrongPrev = prev.clone();
  wrongPrev.outs[1].value = 99_000n;
  const swapped = tamper(joint, (p) => {
    p.data.inputs[2].nonWitnessUtxo = wrongPrev.toBuffer();
  });
  rejects(
    () => planPsbtSigning(swapped, wallet, { skipForeignInputs: true }),
    'INVALID_INPUT',
    /input 2: its previous/,
  );
});

test('a tampered prevout amount yields signatures that do not verify against the real prevouts', () => {
  const { psbt, fee } = build();
  // The creator under-reports input 0 so that the fee looks 200 sat smaller than it is.
  const lying = tamper(psbt, (p) => {
    p.data.inputs[0].witnessUtxo = { ...p.data.inputs[0].witnessUtxo!, value: 149_800n };
  });
  const plan = planPsbtSigning(lying, wallet);
  assert.equal(plan.summary.fee, fee - 200n);
  const sigs = signPlan(plan, secret);
  const tx = ScureTx.fromRaw(hexToBytes(finalizePsbt(applyKeySignatures(lying, sigs)).txHex));
  const { scripts, amounts, spent } = independentPrevouts();
  for (const [i, sig] of sigs) {
    const real = tx.preimageWitnessV1(i, scripts, SigHash.DEFAULT, amounts);
    assert.equal(schnorr.verify(sig, real, spent[i].tweakedPubkey), false, `input ${i}`);
    assert.ok(schnorr.verify(sig, plan.inputs[i].sighash, spent[i].tweakedPubkey));
  }
});

test('malformed PSBTs are refused with INVALID_INPUT', () => {
  const good = build().psbt.toBuffer();
  const cases: (string | Uint8Array)[] = [
    '',
    'not a psbt',
    'cHNidP8=',
    Buffer.from('hello world').toString('base64'),
    good.subarray(0, good.length - 7),
    `70736274ff${'00'.repeat(8)}`,
    new Uint8Array(0),
  ];
  for (const c of cases) {
    rejects(() => planPsbtSigning(c, wallet), 'INVALID_INPUT', /malformed PSBT/);
  }
  assert.equal(loadPsbt(Buffer.from(good).toString('hex')).inputCount, 2);
  assert.equal(
    loadPsbt(
      Buffer.from(good)
        .toString('base64')
        .replace(/(.{64})/g, '$1\n'),
    ).inputCount,
    2,
  );
});

test('a missing prevout, a wrong signature and an unsigned input are refused', () => {
  const { psbt } = build();
  const noUtxo = tamper(psbt, (p) => {
    delete p.data.inputs[1].witnessUtxo;
  });
  rejects(() => planPsbtSigning(noUtxo, wallet), 'INVALID_INPUT', /input 1 has no previous output/);

  const plan = planPsbtSigning(psbt, wallet);
  // Signed by the untweaked group secret: a key the outputs do not pay to.
  const wrong = new Map([[0, schnorr.sign(plan.inputs[0].sighash, scalarToBytes(secret))]]);
  rejects(() => applyKeySignatures(psbt, wrong), 'INVALID_SIGNATURE', /input 0/);
  const half = applyKeySignatures(psbt, new Map([...signPlan(plan, secret)].slice(0, 1)));
  rejects(() => finalizePsbt(half), 'INVALID_INPUT', /input 1 is not signed/);
  // Signing again replaces the earlier signature.
  const full = applyKeySignatures(half, signPlan(plan, secret));
  assert.equal(ScureTx.fromRaw(hexToBytes(finalizePsbt(full).txHex)).inputsLength, 2);
});

test('the builder refuses spends the coins cannot pay and drops dust change into the fee', () => {
  rejects(
    () =>
      buildWalletPsbt(wallet, {
        utxos: UTXOS,
        payments: [{ address: outside, amount: 230_000n }],
        changeIndex: 0,
        feeRate: 1,
      }),
    'INVALID_INPUT',
    /not enough/,
  );
  rejects(
    () =>
      buildWalletPsbt(wallet, {
        utxos: UTXOS,
        payments: [{ address: 'bc1qnotanaddress', amount: 1000n }],
        changeIndex: 0,
        feeRate: 1,
      }),
    'INVALID_INPUT',
    /payment 0/,
  );
  const noChangeFee = Math.ceil(
    estimateWeight(2, [OutScript.encode(Address(scureNetwork(NET)).decode(outside))]) / 4,
  );
  const exact = buildWalletPsbt(wallet, {
    utxos: UTXOS,
    payments: [{ address: outside, amount: 230_000n - BigInt(noChangeFee) - 100n }],
    changeIndex: 0,
    feeRate: 1,
  });
  assert.equal(exact.change, 0n);
  assert.equal(exact.psbt.txOutputs.length, 1);
  assert.equal(exact.fee, BigInt(noChangeFee) + 100n);
});
