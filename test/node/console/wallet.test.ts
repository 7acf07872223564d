/** The console's wallet view of a key with a recovery policy: the tree's addresses and descriptors, the path in words. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { descriptorAddress, walletAddress } from '../../../chains/bitcoin/address.ts';
import { multipathDescriptor } from '../../../chains/bitcoin/descriptor.ts';
import { parseRecoveryPolicy, recoveryPolicyJson } from '../../../chains/bitcoin/recovery.ts';
import { walletView } from '../../../node/console/wallet.ts';
import type { KeyEntry } from '../../../node/storage/keystore.ts';
import { groupKey } from '../../../protocol/keys.ts';
import { recoveryHolder } from '../../bitcoin/helpers.ts';
import { makeKey } from '../../helpers/keys.ts';

const share = makeKey(2, 3).get('party-1')!;
const policy = parseRecoveryPolicy({
  version: 1,
  leaves: [{ key: recoveryHolder('lawyer', 'regtest').keyText, older: 4320 }],
});
const root = { key: groupKey(share.group), chainCode: share.group.chainCode };
const entry = (recovery?: KeyEntry['recovery']): KeyEntry => ({
  name: 'vault',
  createdAt: '2026-12-01T00:00:00.000Z',
  network: 'regtest',
  ...(recovery && { recovery }),
  active: share,
});

test('a key with a recovery policy shows the addresses and descriptors of its tree, and the path in words', () => {
  const w = walletView(entry(recoveryPolicyJson(policy)), 'regtest', 2);
  const wallet = { root, network: 'regtest' as const, recovery: policy };
  assert.deepEqual(
    w.receive.map((r) => r.address),
    [0, 1].map((index) => descriptorAddress(wallet, { change: false, index })),
  );
  assert.equal(w.change[1]!.address, descriptorAddress(wallet, { change: true, index: 1 }));
  assert.match(
    w.descriptors.receive,
    /\/0\/\*,and_v\(v:pk\(\[[0-9a-f]{8}\/86h\/1h\/0h\]tpub\w+\/0\/\*\),older\(4320\)\)\)#/,
  );
  assert.equal(w.descriptors.multipath, multipathDescriptor(root, 'regtest', policy));
  assert.equal(w.recovery?.length, 1);
  assert.match(
    w.recovery![0]!,
    /^after 4320 blocks \(about 30 days\) without moving, \[[0-9a-f]{8}\/86h\/1h\/0h\]tpub\w+ can spend$/,
  );
});

test('a key without one is shown as before: key-path-only addresses, no recovery line', () => {
  const w = walletView(entry(), 'regtest', 1);
  assert.equal(w.receive[0]!.address, walletAddress(root, { change: false, index: 0 }, 'regtest'));
  assert.equal(w.recovery, undefined);
  assert.doesNotMatch(w.descriptors.receive, /and_v/);
});
