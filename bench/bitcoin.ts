/**
 * The on-chain size of a spend signed by the network: a wallet PSBT of the benchmark's key, signed and
 * finalized by the daemons (POST sign with finalize), its signatures checked here against the BIP341 sighash,
 * and the weight an input adds read off the real transactions.
 */
import { randomBytes } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import { Transaction } from 'bitcoinjs-lib';
import { walletAddress } from '../chains/bitcoin/address.ts';
import { buildWalletPsbt, type WalletUtxo } from '../chains/bitcoin/build.ts';
import { type Wallet, walletRoot } from '../chains/bitcoin/keys.ts';
import { hexToBytes } from '../protocol/curve.ts';
import type { Cluster } from './cluster.ts';
import type { KeyInfo } from './network.ts';

const NETWORK = 'regtest';
const SIGHASH_DEFAULT = 0x00;

export type TaprootSpend = { inputs: number; vsize: number; weight: number; txid: string };
export type TaprootReport = {
  spends: TaprootSpend[];
  /** Virtual bytes one more key-path input adds: the difference between the spends, per input. */
  perInputVsize: number;
};

/** One coin at receive address i, with a made-up outpoint: signing needs the prevout, not a chain. */
const coin = (index: number): WalletUtxo => ({
  txid: randomBytes(32).toString('hex'),
  vout: 0,
  amount: 100_000n,
  change: false,
  index,
});

async function spend(c: Cluster, via: number, key: KeyInfo, wallet: Wallet, inputs: number) {
  const utxos = Array.from({ length: inputs }, (_, i) => coin(i));
  // One payment and change: two outputs whatever the number of inputs (amounts are 8 bytes however large),
  // so the difference between two spends is their inputs alone.
  const payTo = walletAddress(wallet.root, { change: false, index: 1000 }, NETWORK);
  const { psbt, change } = buildWalletPsbt(wallet, {
    utxos,
    payments: [{ address: payTo, amount: 50_000n }],
    changeIndex: 0,
    feeRate: 2,
  });
  if (change === 0n) throw new Error('expected a change output');
  const r = await c.must(via, `/v1/keys/${key.name}/sign`, {
    psbt: psbt.toBase64(),
    network: NETWORK,
    finalize: true,
  });
  const tx = Transaction.fromHex(r.txHex);
  const scripts = utxos.map((_, i) => psbt.data.inputs[i].witnessUtxo!.script);
  const values = utxos.map((u) => u.amount);
  tx.ins.forEach((input, i) => {
    if (input.witness.length !== 1 || input.witness[0].length !== 64)
      throw new Error(`input ${i}: not a one-signature key-path witness`);
    const sighash = tx.hashForWitnessV1(i, scripts, values, SIGHASH_DEFAULT);
    // The output key is the witness program: bytes 2..34 of OP_1 <32 bytes>.
    if (!schnorr.verify(input.witness[0], sighash, scripts[i].subarray(2)))
      throw new Error(`input ${i}: the network's signature does not verify`);
  });
  if (tx.virtualSize() !== r.vsize) throw new Error('daemon and bitcoinjs disagree on the vsize');
  return { inputs, vsize: tx.virtualSize(), weight: tx.weight(), txid: tx.getId() };
}

/** Spends of one and of three inputs through daemon `via` with `key`. */
export async function taprootSpends(c: Cluster, via: number, key: KeyInfo): Promise<TaprootReport> {
  const wallet: Wallet = {
    root: walletRoot(hexToBytes(key.groupKey), hexToBytes(key.chainCode)),
    network: NETWORK,
  };
  const one = await spend(c, via, key, wallet, 1);
  const three = await spend(c, via, key, wallet, 3);
  return { spends: [one, three], perInputVsize: (three.weight - one.weight) / 2 / 4 };
}

/**
 * vsize of one P2WSH m-of-n CHECKMULTISIG input, the classic multisig this is compared with: 41 bytes outside
 * the witness (outpoint, empty scriptSig, sequence) at full weight, plus the witness at a quarter: item count,
 * the empty item CHECKMULTISIG pops, m signatures of 72 bytes (a 71-byte low-R DER signature and its sighash
 * byte) with their length bytes, and the script (OP_m, n 33-byte keys, OP_n, OP_CHECKMULTISIG).
 */
export function p2wshMultisigInputVsize(m: number, n: number): number {
  const script = 1 + n * 34 + 1 + 1;
  const witness = 1 + 1 + m * (1 + 72) + 1 + script;
  return (41 * 4 + witness) / 4;
}
