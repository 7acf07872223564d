import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HDKey } from '@scure/bip32';
import { walletAddress } from '../../chains/bitcoin/address.ts';
import {
  descriptorChecksum,
  verifyDescriptorChecksum,
  walletDescriptors,
  withChecksum,
} from '../../chains/bitcoin/descriptor.ts';
import type { NetworkName } from '../../chains/bitcoin/network.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { independentP2tr, TEST_VERSIONS, testWallet } from './helpers.ts';

// Valid checksums published in BIP380 (test vectors) and Bitcoin Core src/test/descriptor_tests.cpp ("Checksums").
const CORE_XPRV =
  "sh(multi(2,[00000000/111'/222]xprvA1RpRA33e1JQ7ifknakTFpgNXPmW2YvmhqLQYMmrj4xJXXWYpDPS3xz7iAxn8L39njGVyuoseXzU6rcxFLJ8HFsTjSyQbLYnMpCqE2VbFWc,xprv9uPDJpEQgRQfDcW7BkF7eTya6RPxXeJCqCJGHuCJ4GiRVLzkTXBAJMu2qaMWPrS7AANYqdq6vcBcBUdJCVVFceUvJFjaPdGZ2y9WACViL4L/0))";
const CORE_XPUB =
  "sh(multi(2,[00000000/111'/222]xpub6ERApfZwUNrhLCkDtcHTcxd75RbzS1ed54G1LkBUHQVHQKqhMkhgbmJbZRkrgZw4koxb5JaHWkY4ALHY2grBGRjaDMzQLcgJvLJuZZvRcEL,xpub68NZiKmJWnxxS6aaHmn81bvJeTESw724CRDs6HbuccFQN9Ku14VQrADWgqbhhTHBaohPX4CjNLf9fq9MYo6oDaPPLPxSb7gwQN3ih19Zm4Y/0))";
const VALID = [
  ['raw(deadbeef)', '89f8spxm'],
  [CORE_XPRV, 'ggrsrxfy'],
  [CORE_XPUB, 'tjg09x5t'],
] as const;

test('checksums of published descriptors', () => {
  for (const [payload, checksum] of VALID) {
    assert.equal(descriptorChecksum(payload), checksum);
    assert.equal(verifyDescriptorChecksum(`${payload}#${checksum}`), payload);
  }
});

test('BIP380 invalid checksum vectors are refused', () => {
  const invalid = [
    'raw(deadbeef)', // no checksum: refused, since we only accept checked descriptors
    'raw(deadbeef)#',
    'raw(deadbeef)#89f8spxmx',
    'raw(deadbeef)#89f8spx',
    'raw(deedbeef)#89f8spxm',
    'raw(deedbeef)##9f8spxm',
    'raw(Ü)#00000000',
  ];
  for (const d of invalid) assert.throws(() => verifyDescriptorChecksum(d), FrostnetError, d);
});

// The descriptor as watch-only wallets read it: tr([fingerprint]xpub/branch/*).
const TR = /^tr\(\[([0-9a-f]{8})\]([1-9A-HJ-NP-Za-km-z]{111})\/([01])\/\*\)$/;

test('wallet descriptors: checksum verifies, and addresses 0..9 match @scure derivations from the descriptor', () => {
  for (const network of ['mainnet', 'testnet', 'regtest'] as NetworkName[]) {
    const { wallet } = testWallet(network);
    const descriptors = walletDescriptors(wallet.root, network);
    for (const [branch, descriptor] of [
      [0, descriptors.receive],
      [1, descriptors.change],
    ] as const) {
      const payload = verifyDescriptorChecksum(descriptor);
      assert.equal(withChecksum(payload), descriptor);
      const m = TR.exec(payload);
      assert.ok(m, payload);
      const [, fingerprint, key, b] = m;
      assert.equal(Number(b), branch);
      const hd = HDKey.fromExtendedKey(key, network === 'mainnet' ? undefined : TEST_VERSIONS);
      assert.equal(hd.fingerprint.toString(16).padStart(8, '0'), fingerprint);
      for (let index = 0; index < 10; index++) {
        const theirs = independentP2tr(key, network, branch, index);
        assert.equal(walletAddress(wallet.root, { change: branch === 1, index }, network), theirs.address);
      }
    }
  }
});
