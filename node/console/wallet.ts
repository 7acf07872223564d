/**
 * A key as a wallet, for the console's Key page and wallet card: receive and change addresses, the watch-only
 * descriptors, the xpub and fingerprint, and the EVM account key, all derived from the group key and chain code
 * (pure chain code; nothing secret is involved or shown).
 */
import { descriptorAddress } from '../../chains/bitcoin/address.ts';
import { multipathDescriptor, walletDescriptors } from '../../chains/bitcoin/descriptor.ts';
import { fingerprintHex, type Wallet, walletRoot, xpub } from '../../chains/bitcoin/keys.ts';
import type { NetworkName } from '../../chains/bitcoin/network.ts';
import { describeRecovery, parseRecoveryPolicy } from '../../chains/bitcoin/recovery.ts';
import { evmKey } from '../../chains/evm/keys.ts';
import { bytesToHex } from '../../protocol/curve.ts';
import { groupKey } from '../../protocol/keys.ts';
import { entryGroup, type KeyEntry } from '../storage/keystore.ts';

export type WalletView = {
  key: string;
  network: NetworkName;
  threshold: number;
  members: string[];
  epoch: number;
  groupKey: string;
  fingerprint: string;
  xpub: string;
  /** With checksums; with a recovery policy they hold its script tree. */
  descriptors: { receive: string; change: string; multipath: string };
  /** The key's recovery path, for people (one line per leaf); absent for a key without one. */
  recovery?: string[];
  receive: { path: string; address: string }[];
  change: { path: string; address: string }[];
  /** x-only key of EVM account 0 (the account contract's address depends on its factory). */
  evmAccountKey?: string;
};

export function walletView(e: KeyEntry, network: NetworkName, count: number): WalletView {
  const g = entryGroup(e);
  const gk = groupKey(g).toBytes(true);
  const root = walletRoot(gk, g.chainCode);
  const recovery = e.recovery && parseRecoveryPolicy(e.recovery);
  const wallet: Wallet = { root, network, ...(recovery && { recovery }) };
  const branch = (change: boolean) =>
    Array.from({ length: count }, (_, index) => ({
      path: `m/${change ? 1 : 0}/${index}`,
      address: descriptorAddress(wallet, { change, index }),
    }));
  let evmAccountKey: string | undefined;
  try {
    evmAccountKey = bytesToHex(evmKey(root, 0).px);
  } catch {
    // About 2^-128 of keys have no usable EVM account 0.
  }
  return {
    key: e.name,
    network,
    threshold: g.threshold,
    members: [...g.members],
    epoch: g.epoch,
    groupKey: bytesToHex(gk),
    fingerprint: fingerprintHex(root),
    xpub: xpub(root, network),
    descriptors: {
      ...walletDescriptors(root, network, recovery),
      multipath: multipathDescriptor(root, network, recovery),
    },
    ...(recovery && { recovery: describeRecovery(recovery, network) }),
    receive: branch(false),
    change: branch(true),
    evmAccountKey,
  };
}
