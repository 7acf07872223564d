/**
 * Test wallets held by one whole secret key, standing in for the network: the same tweaks the network applies
 * to shares are applied here to the secret. Plus independent derivations with @scure/bip32 and btc-signer.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { HDKey } from '@scure/bip32';
import { NETWORK, p2tr, TEST_NETWORK } from '@scure/btc-signer';
import type { ExtendedKey, Wallet } from '../../chains/bitcoin/keys.ts';
import type { NetworkName } from '../../chains/bitcoin/network.ts';
import type { SigningPlan } from '../../chains/bitcoin/psbt.ts';
import { bytesToHex, Fn, G, scalarToBytes } from '../../protocol/curve.ts';
import { tweakSecretKey } from '../../protocol/tweak.ts';

const text = (s: string) => new TextEncoder().encode(s);

/** A wallet whose group secret is known to the test; `label` picks a different key. */
export function testWallet(
  network: NetworkName,
  label = 'frostnet test wallet',
): { secret: bigint; wallet: Wallet } {
  const secret = Fn.create(Fn.fromBytes(sha256(text(`${label} secret`))));
  const root: ExtendedKey = { key: G.multiply(secret), chainCode: sha256(text(`${label} chain code`)) };
  return { secret, wallet: { root, network } };
}

/** Signs every planned input as the network would, with the whole secret tweaked by the plan's steps. */
export function signPlan(plan: SigningPlan, secret: bigint): Map<number, Uint8Array> {
  return new Map(
    plan.inputs.map((i) => [
      i.index,
      schnorr.sign(i.sighash, scalarToBytes(tweakSecretKey(secret, i.steps))),
    ]),
  );
}

/** A made-up previous transaction id. */
export const fakeTxid = (label: string): string => bytesToHex(sha256(text(`prevout ${label}`)));

/** BIP32 version bytes of tpub/tprv for @scure/bip32. */
export const TEST_VERSIONS = { private: 0x04358394, public: 0x043587cf };

export const scureNetwork = (network: NetworkName) =>
  network === 'mainnet'
    ? NETWORK
    : network === 'regtest'
      ? { ...TEST_NETWORK, bech32: 'bcrt' }
      : TEST_NETWORK;

/** P2TR output of [branch, index] below an extended key, derived by @scure/bip32 and @scure/btc-signer alone. */
export function independentP2tr(extendedKey: string, network: NetworkName, branch: number, index: number) {
  const versions = network === 'mainnet' ? undefined : TEST_VERSIONS;
  const hd = HDKey.fromExtendedKey(extendedKey, versions).deriveChild(branch).deriveChild(index);
  return p2tr(hd.publicKey!.subarray(1), undefined, scureNetwork(network));
}

/**
 * A recovery key holder: an in-test HD wallet standing in for a hardware wallet, its account key at
 * m/86'/coin'/0', and that key as its wallet exports it ("[fingerprint/86h/0h/0h]xpub...").
 */
export function recoveryHolder(label: string, network: NetworkName) {
  const master = HDKey.fromMasterSeed(
    sha256(text(`${label} seed`)),
    network === 'mainnet' ? undefined : TEST_VERSIONS,
  );
  const coin = network === 'mainnet' ? 0 : 1;
  const account = master.derive(`m/86'/${coin}'/0'`);
  const fingerprint = master.fingerprint.toString(16).padStart(8, '0');
  return {
    master,
    account,
    fingerprint,
    keyText: `[${fingerprint}/86h/${coin}h/0h]${account.publicExtendedKey}`,
  };
}
