import assert from 'node:assert/strict';
import { test } from 'node:test';
import { networks } from 'bitcoinjs-lib';
import { bitcoinNetwork, NETWORK_NAMES, parseNetwork } from '../../chains/bitcoin/network.ts';
import { XPUB_VERSIONS } from '../../chains/bitcoin/network-names.ts';
import { FrostnetError } from '../../protocol/errors.ts';

test('network names map to bitcoinjs parameters; signet uses testnet prefixes', () => {
  assert.deepEqual([...NETWORK_NAMES], ['mainnet', 'testnet', 'signet', 'regtest']);
  assert.equal(bitcoinNetwork(parseNetwork('mainnet')).bech32, 'bc');
  assert.equal(bitcoinNetwork(parseNetwork(' Signet ')), networks.testnet);
  assert.equal(bitcoinNetwork(parseNetwork('testnet')).bech32, 'tb');
  assert.equal(bitcoinNetwork(parseNetwork('regtest')).bech32, 'bcrt');
});

test("the xpub versions written without bitcoinjs are bitcoinjs-lib's own", () => {
  for (const n of NETWORK_NAMES) assert.equal(XPUB_VERSIONS[n], bitcoinNetwork(n).bip32.public, n);
});

test('an unknown network is refused with the list of known ones', () => {
  assert.throws(
    () => parseNetwork('bitcoin'),
    (e) =>
      e instanceof FrostnetError &&
      e.code === 'INVALID_INPUT' &&
      /mainnet, testnet, signet, regtest/.test(e.message),
  );
});
