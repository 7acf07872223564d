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
import { estimateWeight } from './weight.ts';

export {
  estimateVsize,
  estimateWeight,
  KEY_PATH_INPUT_VSIZE,
  KEY_PATH_INPUT_WEIGHT,
  transactionWeight,
  varintSize,
} from './weight.ts';

/** Below this a P2TR change output costs more to spend than it holds (Bitcoin Core's dust limit). */
export const P2TR_DUST = 330n;
/** Opt in to replace-by-fee (BIP125) so that a stuck spend can be bumped. */
export const RBF_SEQUENCE = 0xfffffffd;

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
