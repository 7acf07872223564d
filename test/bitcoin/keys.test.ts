import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HDKey } from '@scure/bip32';
import { p2trAddress, p2trScript, walletAddress } from '../../chains/bitcoin/address.ts';
import {
  fingerprintHex,
  keyAtPath,
  masterFingerprint,
  walletKey,
  walletRoot,
  xpub,
} from '../../chains/bitcoin/keys.ts';
import { bytesToHex, G, parsePoint, pointToBytes, xOnly } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { tweakPoint, tweakSecretKey } from '../../protocol/tweak.ts';
import { independentP2tr, TEST_VERSIONS, testWallet } from './helpers.ts';

// BIP86 test vectors (bitcoin/bips bip-0086.mediawiki): the root of "abandon ... about" and its account 0.
const BIP86 = {
  rootpub:
    'xpub661MyMwAqRbcFkPHucMnrGNzDwb6teAX1RbKQmqtEF8kK3Z7LZ59qafCjB9eCRLiTVG3uxBxgKvRgbubRhqSKXnGGb1aoaqLrpMBDrVxga8',
  account:
    'xpub6BgBgsespWvERF3LHQu6CnqdvfEvtMcQjYrcRzx53QJjSxarj2afYWcLteoGVky7D3UKDP9QyrLprQ3VCECoY49yfdDEHGCtMMj92pReUsQ',
  keys: [
    {
      change: false,
      index: 0,
      internalKey: 'cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115',
      outputKey: 'a60869f0dbcf1dc659c9cecbaf8050135ea9e8cdc487053f1dc6880949dc684c',
      address: 'bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr',
    },
    {
      change: false,
      index: 1,
      internalKey: '83dfe85a3151d2517290da461fe2815591ef69f2b18a2ce63f01697a8b313145',
      outputKey: 'a82f29944d65b86ae6b5e5cc75e294ead6c59391a1edc5e016e3498c67fc7bbb',
      address: 'bc1p4qhjn9zdvkux4e44uhx8tc55attvtyu358kutcqkudyccelu0was9fqzwh',
    },
    {
      change: true,
      index: 0,
      internalKey: '399f1b2f4393f29a18c937859c5dd8a77350103157eb880f02e8c08214277cef',
      outputKey: '882d74e5d0572d5a816cef0041a96b6c1de832f6f9676d9605c44d5e9a97d3dc',
      address: 'bc1p3qkhfews2uk44qtvauqyr2ttdsw7svhkl9nkm9s9c3x4ax5h60wqwruhk7',
    },
  ],
};

const fromXpub = (s: string) => {
  const hd = HDKey.fromExtendedKey(s);
  return walletRoot(hd.publicKey!, hd.chainCode!);
};

test('BIP86: receive and change keys below an account give the published keys and addresses', () => {
  const root = fromXpub(BIP86.account);
  for (const v of BIP86.keys) {
    const key = walletKey(root, v);
    assert.equal(bytesToHex(xOnly(key.internalKey)), v.internalKey);
    assert.equal(bytesToHex(key.outputKey), v.outputKey);
    assert.equal(bytesToHex(p2trScript(key.outputKey)), `5120${v.outputKey}`);
    assert.equal(walletAddress(root, v, 'mainnet'), v.address);
  }
});

test('BIP86: the depth-0 root serializes back to the published xpub', () => {
  assert.equal(xpub(fromXpub(BIP86.rootpub), 'mainnet'), BIP86.rootpub);
});

test('xpub and tpub decode with @scure/bip32 to the group key, chain code and fingerprint', () => {
  const { wallet } = testWallet('mainnet');
  const { root } = wallet;
  for (const [network, versions] of [
    ['mainnet', undefined],
    ['testnet', TEST_VERSIONS],
    ['signet', TEST_VERSIONS],
    ['regtest', TEST_VERSIONS],
  ] as const) {
    const s = xpub(root, network);
    assert.ok(s.startsWith(network === 'mainnet' ? 'xpub' : 'tpub'));
    const hd = HDKey.fromExtendedKey(s, versions);
    assert.equal(hd.depth, 0);
    assert.equal(hd.parentFingerprint, 0);
    assert.equal(hd.index, 0);
    assert.deepEqual(hd.publicKey, pointToBytes(root.key));
    assert.deepEqual(hd.chainCode, root.chainCode);
    assert.equal(hd.fingerprint.toString(16).padStart(8, '0'), fingerprintHex(root));
  }
  assert.equal(masterFingerprint(root).length, 4);
});

test('child keys match @scure/bip32 deriveChild, and the steps take the secret to the output key', () => {
  const { secret, wallet } = testWallet('testnet');
  for (const change of [false, true]) {
    for (const index of [0, 1, 7, 2 ** 31 - 1]) {
      const key = walletKey(wallet.root, { change, index });
      const theirs = independentP2tr(xpub(wallet.root, 'testnet'), 'testnet', change ? 1 : 0, index);
      assert.deepEqual(xOnly(key.internalKey), theirs.tapInternalKey);
      assert.deepEqual(key.outputKey, theirs.tweakedPubkey);
      assert.equal(p2trAddress(key.outputKey, 'testnet'), theirs.address);
      assert.deepEqual(xOnly(tweakPoint(wallet.root.key, key.steps)), key.outputKey);
      assert.deepEqual(xOnly(G.multiply(tweakSecretKey(secret, key.steps))), key.outputKey);
    }
  }
});

test('keyAtPath with the empty path tweaks the root itself; hardened and out-of-range indexes are refused', () => {
  const { wallet } = testWallet('mainnet');
  assert.deepEqual(keyAtPath(wallet.root, []).internalKey, wallet.root.key);
  assert.throws(() => walletKey(wallet.root, { change: false, index: 2 ** 31 }), FrostnetError);
  assert.throws(() => walletKey(wallet.root, { change: false, index: -1 }), FrostnetError);
});

test('walletRoot validates the group key and the chain code', () => {
  const key = pointToBytes(G.multiply(5n));
  assert.deepEqual(walletRoot(key, new Uint8Array(32)).key, parsePoint(key));
  assert.throws(() => walletRoot(key, new Uint8Array(31)), /chain code/);
  assert.throws(() => walletRoot(key.subarray(1), new Uint8Array(32)), /group key/);
});
