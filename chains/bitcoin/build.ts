/**
 * Building spends of a wallet's own coins (for the CLI and tests) and sizing them. A key-path input weighs the
 * same whatever the threshold, and whether or not its key has a recovery tree: one 64-byte signature in the
 * witness.
 */
import { Psbt } from 'bitcoinjs-lib';
import { xOnly } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { at } from '../../protocol/indexing.ts';
import { addressScript, p2trScript } from './address.ts';
import {
  addressPath,
  descriptorKey,
  formatPath,
  masterFingerprint,
  type Wallet,
  type WalletKey,
} from './keys.ts';
import { bitcoinNetwork } from './network.ts';

// Outpoint 36 + empty scriptSig 1 + sequence 4, times 4; witness: item count 1 + length 1 + signature 64.
export const KEY_PATH_INPUT_WEIGHT = 41 * 4 + 66;
export const KEY_PATH_INPUT_VSIZE = KEY_PATH_INPUT_WEIGHT / 4;
/** Below this a P2TR change output costs more to spend than it holds (Bitcoin Core's dust limit). */
export const P2TR_DUST = 330n;
/** Opt in to replace-by-fee (BIP125) so that a stuck spend can be bumped. */
export const RBF_SEQUENCE = 0xfffffffd;

export const varintSize = (n: number): number => (n < 0xfd ? 1 : n <= 0xffff ? 3 : 5);

/**
 * Weight of a segwit transaction with inputs of these weights (each its outpoint, scriptSig, sequence and
 * witness) and these output scripts: version and locktime, the counts, the marker and flag, inputs and outputs.
 */
export function transactionWeight(
  inputWeights: readonly number[],
  outputScripts: readonly Uint8Array[],
): number {
  const base = 8 + varintSize(inputWeights.length) + varintSize(outputScripts.length);
  const outputs = outputScripts.reduce((w, s) => w + 8 + varintSize(s.length) + s.length, 0);
  return (base + outputs) * 4 + 2 + inputWeights.reduce((a, w) => a + w, 0);
}

/** Weight of a transaction that spends `inputCount` key-path inputs (SIGHASH_DEFAULT) to these output scripts. */
export const estimateWeight = (inputCount: number, outputScripts: readonly Uint8Array[]): number =>
  transactionWeight(new Array<number>(inputCount).fill(KEY_PATH_INPUT_WEIGHT), outputScripts);

export const estimateVsize = (inputCount: number, outputScripts: readonly Uint8Array[]): number =>
  estimateWeight(inputCount, outputScripts) / 4;

/** A coin of this wallet: the outpoint, its amount, and the key it pays to. */
export type WalletUtxo = {
  readonly txid: string;
  readonly vout: number;
  readonly amount: bigint;
  readonly change: boolean;
  readonly index: number;
};

export type PaymentRequest = { readonly address: string; readonly amount: bigint };

export type BuildRequest = {
  readonly utxos: readonly WalletUtxo[];
  readonly payments: readonly PaymentRequest[];
  /** Change goes to change key [1, changeIndex]. */
  readonly changeIndex: number;
  /** Satoshis per virtual byte. */
  readonly feeRate: number;
};

export type BuiltPsbt = {
  readonly psbt: Psbt;
  readonly fee: bigint;
  /** Zero when the change would have been dust and went to the fee instead. */
  readonly change: bigint;
};

/** BIP371 fields that let any signer (and Core or Sparrow) find the key behind an input or output. */
function taprootFields(wallet: Wallet, key: WalletKey) {
  const pubkey = xOnly(key.internalKey);
  return {
    tapInternalKey: pubkey,
    tapBip32Derivation: [
      {
        masterFingerprint: masterFingerprint(wallet.root),
        pubkey,
        path: formatPath(key.path),
        leafHashes: [],
      },
    ],
  };
}

/** PSBT_OUT_TAP_TREE of a recovery key: its leaves depth first (bitcoinjs checks them against the script). */
function outputTree(key: WalletKey) {
  const leaves = key.recoveryTree?.leaves;
  if (!leaves) return {};
  return {
    tapTree: {
      leaves: leaves.map((l) => ({ depth: l.proof.path.length, ...l.tapLeaf })),
    },
  };
}

function checkAmount(amount: bigint, what: string): void {
  if (typeof amount !== 'bigint' || amount <= 0n)
    throw new FrostnetError('INVALID_INPUT', `${what}: amount must be a positive number of satoshis`);
}

/** A coin's outpoint and amount as they must be to spend it. */
export function checkCoin(utxo: WalletUtxo, i: number): void {
  if (!/^[0-9a-fA-F]{64}$/.test(utxo.txid)) throw new FrostnetError('INVALID_INPUT', `coin ${i}: bad txid`);
  if (!Number.isInteger(utxo.vout) || utxo.vout < 0 || utxo.vout > 0xffffffff)
    throw new FrostnetError('INVALID_INPUT', `coin ${i}: bad output index`);
  checkAmount(utxo.amount, `coin ${i}`);
}

/** A positive fee rate in sat/vB. */
export function checkFeeRate(feeRate: number): void {
  if (!Number.isFinite(feeRate) || feeRate <= 0)
    throw new FrostnetError('INVALID_INPUT', `fee rate ${feeRate}: expected a positive number of sat/vB`);
}

/**
 * A PSBT spending these coins of ours to the payments, with the rest (less the fee) to our change key, every key
 * as the wallet's descriptor gives it (with the recovery tree, if it has a policy).
 */
export function buildWalletPsbt(wallet: Wallet, req: BuildRequest): BuiltPsbt {
  if (req.utxos.length === 0) throw new FrostnetError('INVALID_INPUT', 'no coins to spend');
  checkFeeRate(req.feeRate);
  const network = bitcoinNetwork(wallet.network);
  const psbt = new Psbt({ network });
  for (const [i, utxo] of req.utxos.entries()) {
    checkCoin(utxo, i);
    const key = descriptorKey(wallet, addressPath(utxo));
    psbt.addInput({
      hash: utxo.txid,
      index: utxo.vout,
      sequence: RBF_SEQUENCE,
      witnessUtxo: { script: p2trScript(key.outputKey), value: utxo.amount },
      ...taprootFields(wallet, key),
      ...(key.merkleRoot && { tapMerkleRoot: key.merkleRoot }),
    });
  }
  const scripts = req.payments.map((p, i) => {
    checkAmount(p.amount, `payment ${i}`);
    return addressScript(p.address, wallet.network, `payment ${i}`);
  });
  const changeKey = descriptorKey(wallet, addressPath({ change: true, index: req.changeIndex }));
  const changeScript = p2trScript(changeKey.outputKey);
  const feeFor = (outs: readonly Uint8Array[]) =>
    BigInt(Math.ceil((estimateWeight(req.utxos.length, outs) * req.feeRate) / 4));
  const totalIn = req.utxos.reduce((a, u) => a + u.amount, 0n);
  const paid = req.payments.reduce((a, p) => a + p.amount, 0n);
  const withChange = totalIn - paid - feeFor([...scripts, changeScript]);
  const keepChange = withChange >= P2TR_DUST;
  const fee = keepChange ? feeFor([...scripts, changeScript]) : totalIn - paid;
  if (fee < feeFor(scripts))
    throw new FrostnetError(
      'INVALID_INPUT',
      `coins hold ${totalIn} sat, not enough for ${paid} sat and the fee`,
    );
  req.payments.forEach((p, i) => {
    psbt.addOutput({ script: at(scripts, i, 'payment scripts'), value: p.amount });
  });
  if (keepChange)
    psbt.addOutput({
      script: changeScript,
      value: withChange,
      ...taprootFields(wallet, changeKey),
      ...outputTree(changeKey),
    });
  return { psbt, fee, change: keepChange ? withChange : 0n };
}
