import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checksum, networks, Output } from '@bitcoinerlab/descriptors';
import { HDKey } from '@scure/bip32';
import { descriptorAddress, walletAddress } from '../../chains/bitcoin/address.ts';
import {
  descriptorChecksum,
  multipathDescriptor,
  verifyDescriptorChecksum,
  walletDescriptors,
  withChecksum,
} from '../../chains/bitcoin/descriptor.ts';
import { fingerprintHex, xpub } from '../../chains/bitcoin/keys.ts';
import type { NetworkName } from '../../chains/bitcoin/network.ts';
import { parseRecoveryPolicy } from '../../chains/bitcoin/recovery.ts';
import { bytesToHex, G, xOnly } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { independentP2tr, recoveryHolder, TEST_VERSIONS, testWallet } from './helpers.ts';

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

const blNetwork = (network: NetworkName) =>
  network === 'mainnet' ? networks.bitcoin : network === 'regtest' ? networks.regtest : networks.testnet;

/** The address @bitcoinerlab/descriptors derives from a descriptor (checksum required), on its own parser. */
const theirAddress = (descriptor: string, network: NetworkName, index: number, change?: number) =>
  new Output({
    descriptor,
    index,
    ...(change === undefined ? {} : { change }),
    network: blNetwork(network),
    checksumRequired: true,
  }).getAddress();

test('recovery descriptors: tr(K,and_v(v:pk(R),older(N))) in both forms, same checksums and addresses as @bitcoinerlab/descriptors', () => {
  for (const network of ['mainnet', 'testnet', 'regtest'] as NetworkName[]) {
    const { wallet } = testWallet(network);
    const lawyer = recoveryHolder('lawyer', network);
    const heir = recoveryHolder('heir', network);
    const policies = [
      [{ key: lawyer.keyText, older: 52_560 }],
      [
        { key: lawyer.keyText, older: 4_320 },
        { key: heir.keyText, older: 52_560 },
        { key: bytesToHex(xOnly(G.multiply(99n))), older: 65_535 },
      ],
    ];
    for (const leaves of policies) {
      const recovery = parseRecoveryPolicy({ version: 1, leaves });
      const recoverable = { ...wallet, recovery };
      const two = walletDescriptors(wallet.root, network, recovery);
      const multi = multipathDescriptor(wallet.root, network, recovery);
      const k = `[${fingerprintHex(wallet.root)}]${xpub(wallet.root, network)}`;
      const r = `[${lawyer.fingerprint}/86h/${network === 'mainnet' ? 0 : 1}h/0h]${lawyer.account.publicExtendedKey}`;
      if (leaves.length === 1) {
        assert.equal(
          verifyDescriptorChecksum(two.receive),
          `tr(${k}/0/*,and_v(v:pk(${r}/0/*),older(52560)))`,
        );
        assert.equal(
          verifyDescriptorChecksum(multi),
          `tr(${k}/<0;1>/*,and_v(v:pk(${r}/<0;1>/*),older(52560)))`,
        );
      } else
        assert.match(
          multi,
          /^tr\([^,]+,\{\{and_v\(.+\),and_v\(.+\)\},and_v\(v:pk\([0-9a-f]{64}\),older\(65535\)\)\}\)#/,
        );
      for (const d of [two.receive, two.change, multi]) {
        const payload = verifyDescriptorChecksum(d);
        assert.equal(`${payload}#${checksum(payload)}`, d, 'the same BIP380 checksum');
      }
      for (let index = 0; index < 4; index++)
        for (const change of [false, true]) {
          const ours = descriptorAddress(recoverable, { change, index });
          assert.equal(
            theirAddress(change ? two.change : two.receive, network, index),
            ours,
            `${network} ${index}`,
          );
          assert.equal(
            theirAddress(multi, network, index, change ? 1 : 0),
            ours,
            `multipath ${network} ${index}`,
          );
        }
    }
    // Without a policy the multipath form holds exactly the two branches of today's descriptors.
    const plain = multipathDescriptor(wallet.root, network);
    assert.equal(
      verifyDescriptorChecksum(plain),
      verifyDescriptorChecksum(walletDescriptors(wallet.root, network).receive).replace('/0/*', '/<0;1>/*'),
    );
    assert.equal(
      theirAddress(plain, network, 5, 1),
      walletAddress(wallet.root, { change: true, index: 5 }, network),
    );
  }
});

test('a descriptor whose leaf differs in N or in R gives other addresses: the tree is all in the descriptor', () => {
  const { wallet } = testWallet('testnet');
  const lawyer = recoveryHolder('lawyer', 'testnet');
  const heir = recoveryHolder('heir', 'testnet');
  const at = (key: string, older: number) =>
    multipathDescriptor(
      wallet.root,
      'testnet',
      parseRecoveryPolicy({ version: 1, leaves: [{ key, older }] }),
    );
  const base = theirAddress(at(lawyer.keyText, 1000), 'testnet', 0, 0);
  assert.notEqual(theirAddress(at(lawyer.keyText, 1001), 'testnet', 0, 0), base);
  assert.notEqual(theirAddress(at(heir.keyText, 1000), 'testnet', 0, 0), base);
});
