/**
 * A Taproot key-path spend signed by the daemons' network (issue 5): every party recomputes the BIP341
 * sighashes from the PSBT itself; the result is checked by an independent implementation (@scure/btc-signer).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { p2wpkh, Transaction as ScureTx, SigHash } from '@scure/btc-signer';
import { buildWalletPsbt, KEY_PATH_INPUT_VSIZE } from '../../chains/bitcoin/build.ts';
import { type Wallet, walletRoot, xpub } from '../../chains/bitcoin/keys.ts';
import { G, hexToBytes, pointToBytes } from '../../protocol/curve.ts';
import { fakeTxid, independentP2tr, scureNetwork, testWallet } from '../bitcoin/helpers.ts';
import { Network } from '../helpers/network.ts';

const NET = 'regtest';
const outside = p2wpkh(pointToBytes(G.multiply(777n)), scureNetwork(NET)).address!;
const UTXOS = [
  { txid: fakeTxid('network a'), vout: 0, amount: 120_000n, change: false, index: 0 },
  { txid: fakeTxid('network b'), vout: 3, amount: 95_000n, change: false, index: 1 },
];

describe('PSBT signing by the network', () => {
  let net: Network;
  let wallet: Wallet;
  before(async () => {
    net = await Network.create(3, { roundTimeoutMs: 4000 });
    await net.startAll();
    const dkg = await net.keygen(0, 'btc', 2, net.ids, NET);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    wallet = {
      root: walletRoot(hexToBytes(dkg.result.groupKey), hexToBytes(dkg.result.chainCode)),
      network: NET,
    };
  });
  after(async () => net?.close());

  const build = (w: Wallet, utxos = UTXOS) =>
    buildWalletPsbt(w, {
      utxos,
      payments: [{ address: outside, amount: 150_000n }],
      changeIndex: 0,
      feeRate: 3,
    });

  test('receive 0 and 1 spent to an outside address with change: signed, finalized, independently valid', async () => {
    const { psbt, change } = build(wallet);
    assert.ok(change > 0n);
    const r = await net.run(1, '/v1/keys/btc/sign', { psbt: psbt.toBase64(), network: NET, finalize: true });
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    assert.deepEqual(r.result.inputs, [0, 1]);
    const tx = ScureTx.fromRaw(hexToBytes(r.result.txHex));
    const key = xpub(wallet.root, NET);
    const spent = UTXOS.map((u) => independentP2tr(key, NET, 0, u.index));
    const scripts = spent.map((s) => s.script);
    const amounts = UTXOS.map((u) => u.amount);
    for (let i = 0; i < UTXOS.length; i++) {
      const witness = tx.getInput(i).finalScriptWitness!;
      assert.equal(witness.length, 1, 'a key-path witness is one item');
      assert.equal(witness[0].length, 64, 'one 64-byte signature (SIGHASH_DEFAULT)');
      const sighash = tx.preimageWitnessV1(i, scripts, SigHash.DEFAULT, amounts);
      assert.ok(schnorr.verify(witness[0], sighash, spent[i].tweakedPubkey), `input ${i}`);
    }
    // Change really goes back to change address 0 of this key.
    const changeOut = independentP2tr(key, NET, 1, 0);
    assert.ok(
      Array.from({ length: tx.outputsLength }, (_, i) => tx.getOutput(i)).some((o) =>
        Buffer.from(o.script!).equals(Buffer.from(changeOut.script)),
      ),
    );
    const perInput = (r.result.vsize - (tx.vsize - UTXOS.length * KEY_PATH_INPUT_VSIZE)) / UTXOS.length;
    console.log(
      `network-signed spend: ${r.result.vsize} vB for ${UTXOS.length} key-path inputs (${perInput} vB each), txid ${r.result.txid}`,
    );
    assert.equal(tx.vsize, r.result.vsize);
  });

  test('an input of another key is refused by the parties, naming the input', async () => {
    const other = testWallet(NET, 'not this key').wallet;
    const mine = build(wallet).psbt;
    const theirs = build(other, [{ ...UTXOS[1], amount: 500_000n }]).psbt;
    // One input of ours and one of another key's, in one PSBT.
    mine.data.inputs[1] = theirs.data.inputs[0];
    mine.txInputs[1].hash.set(theirs.txInputs[0].hash);
    const r = await net.run(0, '/v1/keys/btc/sign', { psbt: mine.toBase64(), network: NET });
    assert.equal(r.state, 'failed');
    assert.match(r.error.message, /input 1/);
  });

  test('a tampered prevout amount: the signature does not verify against the real amount', async () => {
    const { psbt } = build(wallet);
    psbt.data.inputs[0].witnessUtxo = { ...psbt.data.inputs[0].witnessUtxo!, value: 119_800n };
    const r = await net.run(2, '/v1/keys/btc/sign', { psbt: psbt.toBase64(), network: NET, finalize: true });
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    const tx = ScureTx.fromRaw(hexToBytes(r.result.txHex));
    const key = xpub(wallet.root, NET);
    const spent = UTXOS.map((u) => independentP2tr(key, NET, 0, u.index));
    const real = tx.preimageWitnessV1(
      0,
      spent.map((s) => s.script),
      SigHash.DEFAULT,
      UTXOS.map((u) => u.amount),
    );
    assert.equal(schnorr.verify(tx.getInput(0).finalScriptWitness![0], real, spent[0].tweakedPubkey), false);
  });

  test('a malformed PSBT is a clear error', async () => {
    for (const psbt of ['bm90IGEgcHNidA==', build(wallet).psbt.toBase64().slice(0, 60)]) {
      const r = await net.run(0, '/v1/keys/btc/sign', { psbt, network: NET });
      assert.ok(r.state === 'failed' || r.state === 'rejected');
      assert.match(JSON.stringify(r.error), /PSBT/);
    }
  });
});
