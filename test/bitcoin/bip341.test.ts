/** BIP341 wallet test vectors (test/vectors/bip-0341_wallet-test-vectors.json), key-path parts. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { Transaction } from 'bitcoinjs-lib';
import { p2trAddress, p2trScript } from '../../chains/bitcoin/address.ts';
import { keyAtPath } from '../../chains/bitcoin/keys.ts';
import { SIGHASH_DEFAULT, SIGHASH_SINGLE, taprootKeySighash } from '../../chains/bitcoin/sighash.ts';
import {
  bytesToHex,
  G,
  hexToBytes,
  parsePoint,
  parseScalar,
  scalarToBytes,
  taggedHash,
} from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { taprootStep, tweakSecretKey } from '../../protocol/tweak.ts';

type Vectors = {
  scriptPubKey: {
    given: { internalPubkey: string; scriptTree: unknown };
    intermediary: { tweak: string; tweakedPubkey: string };
    expected: { scriptPubKey: string; bip350Address: string };
  }[];
  keyPathSpending: {
    given: { rawUnsignedTx: string; utxosSpent: { scriptPubKey: string; amountSats: number }[] };
    inputSpending: {
      given: { txinIndex: number; internalPrivkey: string; merkleRoot: string | null; hashType: number };
      intermediary: { internalPubkey: string; tweakedPrivkey: string; sigMsg: string; sigHash: string };
      expected: { witness: string[] };
    }[];
  }[];
};

const vectors: Vectors = JSON.parse(
  readFileSync(new URL('../vectors/bip-0341_wallet-test-vectors.json', import.meta.url), 'utf8'),
);

/** A BIP340 x-only key as the even-Y point, with a dummy chain code: the root of an empty derivation path. */
const xOnlyRoot = (hex: string) => ({
  key: parsePoint(hexToBytes(`02${hex}`)),
  chainCode: new Uint8Array(32),
});

test('scriptPubKey vectors without a script tree: tweak, output key, script and address', () => {
  const keyPathOnly = vectors.scriptPubKey.filter((v) => v.given.scriptTree === null);
  assert.ok(keyPathOnly.length > 0);
  for (const v of keyPathOnly) {
    const root = xOnlyRoot(v.given.internalPubkey);
    assert.equal(bytesToHex(scalarToBytes(taprootStep(root.key).add)), v.intermediary.tweak);
    const key = keyAtPath(root, []);
    assert.equal(bytesToHex(key.outputKey), v.intermediary.tweakedPubkey);
    assert.equal(bytesToHex(p2trScript(key.outputKey)), v.expected.scriptPubKey);
    assert.equal(p2trAddress(key.outputKey, 'mainnet'), v.expected.bip350Address);
  }
});

for (const [n, spend] of vectors.keyPathSpending.entries()) {
  const tx = Transaction.fromHex(spend.given.rawUnsignedTx);
  const prevouts = spend.given.utxosSpent.map((u) => ({
    script: hexToBytes(u.scriptPubKey),
    value: BigInt(u.amountSats),
  }));

  test(`keyPathSpending ${n}: sighash of every input equals the vector's sigHash = TapSighash(sigMsg)`, () => {
    assert.ok(spend.inputSpending.length > 0);
    for (const input of spend.inputSpending) {
      const { txinIndex, hashType } = input.given;
      const sighash = taprootKeySighash(tx, txinIndex, prevouts, hashType);
      assert.equal(bytesToHex(sighash), input.intermediary.sigHash, `input ${txinIndex}`);
      assert.deepEqual(sighash, taggedHash('TapSighash', hexToBytes(input.intermediary.sigMsg)));
      // The expected witness is a valid signature on it under the spent output key.
      const sig = hexToBytes(input.expected.witness[0]);
      const outputKey = prevouts[txinIndex].script.subarray(2);
      assert.equal(sig.length, hashType === SIGHASH_DEFAULT ? 64 : 65);
      assert.ok(schnorr.verify(sig.subarray(0, 64), sighash, outputKey));
    }
  });

  test(`keyPathSpending ${n}: the tweaked secret of inputs without a script tree`, () => {
    const keyPathOnly = spend.inputSpending.filter((i) => i.given.merkleRoot === null);
    assert.ok(keyPathOnly.length > 0);
    for (const input of keyPathOnly) {
      const secret = parseScalar(hexToBytes(input.given.internalPrivkey));
      const P = G.multiply(secret);
      assert.equal(bytesToHex(P.toBytes(true).subarray(1)), input.intermediary.internalPubkey);
      const tweaked = tweakSecretKey(secret, [taprootStep(P)]);
      assert.equal(bytesToHex(scalarToBytes(tweaked)), input.intermediary.tweakedPrivkey);
    }
  });

  test(`keyPathSpending ${n}: sighash refuses what BIP341 does not define`, () => {
    const bad = (index: number, type: number) =>
      assert.throws(() => taprootKeySighash(tx, index, prevouts, type), FrostnetError);
    bad(0, 0x04);
    bad(0, 0x80);
    bad(tx.ins.length, SIGHASH_DEFAULT);
    // SIGHASH_SINGLE for an input with no output at its index.
    assert.ok(tx.outs.length < tx.ins.length);
    bad(tx.outs.length, SIGHASH_SINGLE);
    assert.throws(() => taprootKeySighash(tx, 0, prevouts.slice(1), SIGHASH_DEFAULT), /prevouts/);
  });
}
