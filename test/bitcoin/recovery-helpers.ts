/**
 * Recovery-path spends checked by @scure/btc-signer alone, shared by the chain-level tests and the tests on real
 * daemons: the recovery key's holder (an in-test HD wallet) signs the PSBT as a hardware wallet would, from its
 * tap_bip32_derivation, and a finalized spend's witness (signature, leaf script, control block) is verified
 * against the coin's output key as @scure derives it from the xpubs, with nSequence and version against older(N).
 */
import assert from 'node:assert/strict';
import { schnorr } from '@noble/curves/secp256k1.js';
import { HDKey } from '@scure/bip32';
import { p2tr, Script, Transaction as ScureTx, SigHash, TaprootControlBlock } from '@scure/btc-signer';
import { p2trAddress } from '../../chains/bitcoin/address.ts';
import type { WalletUtxo } from '../../chains/bitcoin/build.ts';
import { type ExtendedKey, xpub } from '../../chains/bitcoin/keys.ts';
import type { NetworkName } from '../../chains/bitcoin/network.ts';
import { bytesToHex, hexToBytes } from '../../protocol/curve.ts';
import { type recoveryHolder, scureNetwork, TEST_VERSIONS } from './helpers.ts';

export type Holder = ReturnType<typeof recoveryHolder>;
/** A leaf of a policy: its holder and its N. */
export type HolderLeaf = { holder: Holder; older: number };

/** The holder's own address, where the recovered coins go. */
export const recoveryHolderAddress = (holder: Holder, network: NetworkName) =>
  p2trAddress(holder.account.deriveChild(0).deriveChild(99).publicKey!.subarray(1), network);

/** The holder's wallet signs every input it has a key for, as @scure/btc-signer does from a master HD key. */
export function holderSigns(psbt: Uint8Array, holder: Holder): Uint8Array {
  const tx = ScureTx.fromPSBT(psbt);
  // The same HD key as @scure/btc-signer's own HDKey type, which types publicKey as never null.
  assert.equal(tx.sign(holder.master as unknown as Parameters<ScureTx['sign']>[0]), tx.inputsLength);
  return tx.toPSBT();
}

/** Each coin's output and leaf, built by @scure alone from the xpubs: K/branch/index, R/branch/index. */
export function scureRecoveryOutput(
  root: ExtendedKey,
  network: NetworkName,
  coin: WalletUtxo,
  holders: HolderLeaf[],
) {
  const [branch, index] = [coin.change ? 1 : 0, coin.index];
  const internal = HDKey.fromExtendedKey(
    xpub(root, network),
    network === 'mainnet' ? undefined : TEST_VERSIONS,
  )
    .deriveChild(branch)
    .deriveChild(index);
  const leaves = holders.map(({ holder, older }) => ({
    script: Script.encode([
      holder.account.deriveChild(branch).deriveChild(index).publicKey!.subarray(1),
      'CHECKSIGVERIFY',
      older,
      'CHECKSEQUENCEVERIFY',
    ]),
  }));
  const tree = leaves.length === 1 ? leaves[0]! : [leaves[0]!, leaves[1]!];
  return p2tr(internal.publicKey!.subarray(1), tree, scureNetwork(network), true);
}

export function checkRecoveryWithScure(
  root: ExtendedKey,
  network: NetworkName,
  txHex: string,
  coins: WalletUtxo[],
  holders: HolderLeaf[],
  leaf: number,
) {
  const tx = ScureTx.fromRaw(hexToBytes(txHex));
  const spent = coins.map((c) => scureRecoveryOutput(root, network, c, holders));
  const scripts = spent.map((s) => s.script);
  const amounts = coins.map((c) => c.amount);
  const { older } = holders[leaf]!;
  assert.equal(tx.version, 2);
  for (let i = 0; i < tx.inputsLength; i++) {
    const input = tx.getInput(i);
    const [sig, script, block] = input.finalScriptWitness!;
    assert.equal(input.finalScriptWitness!.length, 3, 'signature, leaf script, control block');
    assert.equal(sig!.length, 64);
    // The control block is the one @scure computes for this leaf, and it proves the leaf under the output key.
    const theirs = spent[i]!.tapLeafScript!.find(
      ([, s]) => bytesToHex(s.subarray(0, -1)) === bytesToHex(script!),
    );
    assert.ok(theirs, `input ${i}: the leaf is in @scure's tree`);
    assert.deepEqual(block, TaprootControlBlock.encode(theirs[0]));
    assert.deepEqual(TaprootControlBlock.decode(block!).internalKey, spent[i]!.tapInternalKey);
    const sighash = tx.preimageWitnessV1(i, scripts, SigHash.DEFAULT, amounts, undefined, script, 0xc0);
    assert.ok(schnorr.verify(sig!, sighash, Script.decode(script!)[0] as Uint8Array), `input ${i} verifies`);
    // older(N): relative lock on, counted in blocks, at least N (BIP68, BIP112).
    const sequence = input.sequence!;
    assert.equal(sequence & 0x80000000, 0);
    assert.equal(sequence & 0x00400000, 0);
    assert.ok((sequence & 0xffff) >= older, `input ${i}: nSequence ${sequence} >= ${older}`);
    assert.equal(sequence, older);
  }
  return tx;
}
