/**
 * Recovery spends: the script-path spend of a recovery leaf, which the recovery key's holder signs with their
 * own wallet once the coins have not moved for the leaf's N blocks. buildRecoveryPsbt makes the PSBT such a
 * wallet signs (BIP371 fields: the leaf with its control block, the holder's key derivation, the internal key
 * and merkle root; nSequence = N in BIP68 blocks, version 2); finalizeRecoveryPsbt checks the holder's
 * signature and everything the chain will check, then builds the witness: signature, leaf script, control block.
 * The network's keys play no part: this is what works when its members are gone.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { Psbt, Transaction } from 'bitcoinjs-lib';
import { equalBytes, xOnly } from '../../protocol/curve.ts';
import { blameOnThrow, FrostnetError } from '../../protocol/errors.ts';
import { addressScript, isP2trScript, p2trScript } from './address.ts';
import { checkCoin, checkFeeRate, transactionWeight, varintSize, type WalletUtxo } from './build.ts';
import { addressPath, descriptorKey, type Wallet } from './keys.ts';
import { bitcoinNetwork } from './network.ts';
import { type FinalizedTransaction, finalizePsbt, loadPsbt, type PsbtSource } from './psbt.ts';
import { parseRecoveryLeafScript, type RecoveryLeafAt } from './recovery.ts';
import { SIGHASH_DEFAULT, taprootScriptSighash } from './sighash.ts';
import { controlBlock, tapLeafHash, verifyControlBlock } from './taptree.ts';
import { formatDerivation } from './xpub.ts';

/** BIP68: the sequence bit that turns relative locks off, and the one that makes them time-based. */
const SEQUENCE_DISABLE_FLAG = 1 << 31;
const SEQUENCE_TYPE_FLAG = 1 << 22;
const SEQUENCE_MASK = 0xffff;
/** The highest dust limit of a standard output (P2PKH); a sweep must leave at least this after the fee. */
const SWEEP_DUST = 546n;
/** CSV needs a transaction version of at least 2 (BIP112). */
const RECOVERY_TX_VERSION = 2;

export type RecoverySpendRequest = {
  /** Coins of this wallet (with its recovery policy) to recover. */
  readonly coins: readonly WalletUtxo[];
  /** Which leaf of the policy spends (its place in the policy); may be left out when there is one. */
  readonly leaf?: number;
  /** Where everything goes, less the fee: an address the recovery key's holder controls. */
  readonly to: string;
  /** Satoshis per virtual byte. */
  readonly feeRate: number;
};

export type BuiltRecoveryPsbt = {
  readonly psbt: Psbt;
  readonly fee: bigint;
  /** What `to` receives. */
  readonly amount: bigint;
  /** The blocks each coin must stay unmoved before the spend is valid: the leaf's N, also every nSequence. */
  readonly older: number;
};

/**
 * Weight of one input spending a recovery leaf with a 64-byte signature: outpoint, empty scriptSig and
 * sequence at full weight; witness item count, signature, leaf script and control block at one each.
 */
export function recoveryInputWeight(leaf: RecoveryLeafAt): number {
  const script = leaf.tapLeaf.script.length;
  const block = 33 + 32 * leaf.proof.path.length;
  return 41 * 4 + 1 + (1 + 64) + (varintSize(script) + script) + (varintSize(block) + block);
}

function chooseLeaf(wallet: Wallet, leaf: number | undefined): number {
  const count = wallet.recovery?.leaves.length ?? 0;
  if (count === 0)
    throw new FrostnetError('WRONG_CONTEXT', 'this key has no recovery policy, so no recovery path');
  if (leaf === undefined && count === 1) return 0;
  if (leaf === undefined || !Number.isInteger(leaf) || leaf < 0 || leaf >= count)
    throw new FrostnetError(
      'INVALID_INPUT',
      `recovery leaf ${leaf ?? '(none)'}: name the leaf that spends, 0 to ${count - 1} in policy order`,
    );
  return leaf;
}

/** The PSBT that sweeps these coins through one recovery leaf, for its key's holder to sign. */
export function buildRecoveryPsbt(wallet: Wallet, req: RecoverySpendRequest): BuiltRecoveryPsbt {
  if (req.coins.length === 0) throw new FrostnetError('INVALID_INPUT', 'no coins to recover');
  checkFeeRate(req.feeRate);
  const which = chooseLeaf(wallet, req.leaf);
  const to = addressScript(req.to, wallet.network, 'recovery destination');
  const psbt = new Psbt({ network: bitcoinNetwork(wallet.network) });
  psbt.setVersion(RECOVERY_TX_VERSION);
  const weights: number[] = [];
  let older = 0;
  for (const [i, coin] of req.coins.entries()) {
    checkCoin(coin, i);
    const key = descriptorKey(wallet, addressPath(coin));
    const leaf = key.recoveryTree!.leaves[which]!;
    older = leaf.leaf.older;
    weights.push(recoveryInputWeight(leaf));
    psbt.addInput({
      hash: coin.txid,
      index: coin.vout,
      sequence: older,
      witnessUtxo: { script: p2trScript(key.outputKey), value: coin.amount },
      tapInternalKey: xOnly(key.internalKey),
      tapMerkleRoot: key.merkleRoot!,
      tapLeafScript: [
        { ...leaf.tapLeaf, controlBlock: controlBlock(key.internalKey, key.merkleRoot!, leaf.proof) },
      ],
      ...(leaf.derivation && {
        tapBip32Derivation: [
          {
            masterFingerprint: leaf.derivation.fingerprint,
            pubkey: leaf.key,
            path: formatDerivation(leaf.derivation.path, "'"),
            leafHashes: [leaf.proof.leafHash],
          },
        ],
      }),
    });
  }
  const total = req.coins.reduce((a, c) => a + c.amount, 0n);
  const fee = BigInt(Math.ceil((transactionWeight(weights, [to]) * req.feeRate) / 4));
  const amount = total - fee;
  if (amount < SWEEP_DUST)
    throw new FrostnetError(
      'INVALID_INPUT',
      `coins hold ${total} sat: after the fee of ${fee} sat less than ${SWEEP_DUST} sat would be left`,
    );
  psbt.addOutput({ script: to, value: amount });
  return { psbt, fee, amount, older };
}

/** An input's one recovery leaf, parsed, with its hash; refused when the input is no recovery spend. */
function recoveryLeafOf(psbt: Psbt, i: number) {
  const leaves = psbt.data.inputs[i]!.tapLeafScript ?? [];
  if (leaves.length !== 1)
    throw new FrostnetError('INVALID_INPUT', `input ${i}: a recovery spend names exactly one script leaf`);
  const leaf = leaves[0]!;
  const parsed = parseRecoveryLeafScript(leaf.script);
  if (!parsed) throw new FrostnetError('INVALID_INPUT', `input ${i}: its leaf is not a recovery leaf`);
  return { ...leaf, ...parsed, leafHash: tapLeafHash(leaf) };
}

function prevouts(psbt: Psbt, tx: Transaction) {
  return tx.ins.map((_, i) => {
    const utxo = psbt.data.inputs[i]!.witnessUtxo;
    if (!utxo) throw new FrostnetError('INVALID_INPUT', `input ${i} has no witnessUtxo`);
    return { script: utxo.script, value: utxo.value };
  });
}

/** Checks a script-path signature (64 bytes, or 65 with a non-default sighash byte) of input i's leaf. */
function checkScriptSignature(psbt: Psbt, i: number, signature: Uint8Array): void {
  const leaf = recoveryLeafOf(psbt, i);
  const tx = Transaction.fromBuffer(psbt.data.globalMap.unsignedTx.toBuffer());
  const type = signature.length === 65 ? signature[64]! : SIGHASH_DEFAULT;
  if (
    (signature.length !== 64 && signature.length !== 65) ||
    (signature.length === 65 && type === SIGHASH_DEFAULT)
  )
    throw new FrostnetError(
      'INVALID_SIGNATURE',
      `input ${i}: a signature is 64 bytes, or 65 with a sighash byte`,
    );
  const sighash = taprootScriptSighash(tx, i, prevouts(psbt, tx), type, leaf.leafHash);
  if (!schnorr.verify(signature.subarray(0, 64), sighash, leaf.key))
    throw new FrostnetError('INVALID_SIGNATURE', `input ${i}: the recovery key's signature does not verify`);
}

/**
 * Sets the recovery key's signature on each input (a 64-byte BIP340 signature, its sighash byte appended for
 * a non-default type), for signers that return bare signatures; wallets that sign the PSBT set it themselves.
 * Each is verified first. Returns a new PSBT.
 */
export function addRecoverySignatures(source: PsbtSource, sigs: ReadonlyMap<number, Uint8Array>): Psbt {
  const psbt = loadPsbt(source);
  for (const [i, sig] of sigs) {
    if (!Number.isInteger(i) || i < 0 || i >= psbt.inputCount)
      throw new FrostnetError('INVALID_INPUT', `signature for input ${i}, which does not exist`);
    if (!(sig instanceof Uint8Array) || sig.length !== 64)
      throw new FrostnetError('INVALID_SIGNATURE', `input ${i}: expected a 64-byte BIP340 signature`);
    const type = psbt.data.inputs[i]!.sighashType ?? SIGHASH_DEFAULT;
    const signature = type === SIGHASH_DEFAULT ? Uint8Array.from(sig) : Uint8Array.from([...sig, type]);
    checkScriptSignature(psbt, i, signature);
    const { key, leafHash } = recoveryLeafOf(psbt, i);
    psbt.data.inputs[i]!.tapScriptSig = [{ pubkey: key, signature, leafHash }];
  }
  return psbt;
}

/**
 * What the chain checks of a recovery input, before it is broadcast: the control block proves the leaf under
 * the coin's output key, the transaction's version and the input's nSequence satisfy older(N) (BIP68/BIP112:
 * version 2 or more, relative locks on, counted in blocks, at least N), and the holder's signature verifies.
 */
function checkRecoveryInput(psbt: Psbt, tx: Transaction, i: number): Uint8Array {
  const leaf = recoveryLeafOf(psbt, i);
  const script = psbt.data.inputs[i]!.witnessUtxo?.script;
  if (!isP2trScript(script))
    throw new FrostnetError('INVALID_INPUT', `input ${i} does not spend a Taproot output`);
  blameOnThrow('INVALID_INPUT', `input ${i}`, [], () =>
    verifyControlBlock(script.subarray(2), leaf.script, leaf.controlBlock),
  );
  const sequence = tx.ins[i]!.sequence;
  const why =
    tx.version < RECOVERY_TX_VERSION
      ? `the transaction version is ${tx.version}; older() needs 2 or more`
      : sequence & SEQUENCE_DISABLE_FLAG
        ? `its nSequence 0x${sequence.toString(16)} turns relative locks off`
        : sequence & SEQUENCE_TYPE_FLAG
          ? `its nSequence 0x${sequence.toString(16)} is a time-based lock; the leaf counts blocks`
          : (sequence & SEQUENCE_MASK) < leaf.older
            ? `its nSequence ${sequence & SEQUENCE_MASK} is below the leaf's ${leaf.older} blocks`
            : undefined;
  if (why)
    throw new FrostnetError('INVALID_INPUT', `input ${i}: ${why}, so the chain would refuse the spend`);
  const sig = (psbt.data.inputs[i]!.tapScriptSig ?? []).find(
    (s) => equalBytes(s.pubkey, leaf.key) && equalBytes(s.leafHash, leaf.leafHash),
  );
  if (!sig) throw new FrostnetError('INVALID_INPUT', `input ${i} is not signed by its recovery key`);
  checkScriptSignature(psbt, i, sig.signature);
  return leaf.leafHash;
}

/**
 * Finalizes every recovery input after checking it (checkRecoveryInput); the witness is the holder's
 * signature, the leaf script and its control block. Inputs finalized before are kept. Extracts the transaction.
 */
export function finalizeRecoveryPsbt(source: PsbtSource): FinalizedTransaction {
  const psbt = loadPsbt(source);
  const tx = Transaction.fromBuffer(psbt.data.globalMap.unsignedTx.toBuffer());
  psbt.data.inputs.forEach((input, i) => {
    if (input.finalScriptWitness || input.finalScriptSig) return;
    const leafHash = checkRecoveryInput(psbt, tx, i);
    blameOnThrow('INVALID_INPUT', `input ${i}: finalize`, [], () => psbt.finalizeTaprootInput(i, leafHash));
  });
  return finalizePsbt(psbt);
}
