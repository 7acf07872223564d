/**
 * The on-chain size of a spend signed by the network: a wallet PSBT of the benchmark's key, signed and
 * finalized by the daemons (POST sign with finalize), its signatures checked here against the BIP341 sighash,
 * and the weight an input adds read off the real transactions.
 */
import { randomBytes } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { HDKey } from '@scure/bip32';
import { Transaction } from 'bitcoinjs-lib';
import { walletAddress } from '../chains/bitcoin/address.ts';
import { buildWalletPsbt, type WalletUtxo } from '../chains/bitcoin/build.ts';
import { descriptorKey, type Wallet, walletRoot } from '../chains/bitcoin/keys.ts';
import { applyKeySignatures, finalizePsbt, planPsbtSigning } from '../chains/bitcoin/psbt.ts';
import { parseRecoveryPolicy } from '../chains/bitcoin/recovery.ts';
import {
  addRecoverySignatures,
  buildRecoveryPsbt,
  finalizeRecoveryPsbt,
} from '../chains/bitcoin/recovery-spend.ts';
import { hexToBytes } from '../protocol/curve.ts';
import { groupKey } from '../protocol/keys.ts';
import { makeKey, partyNames, signWith } from '../test/helpers/keys.ts';
import type { Cluster } from './cluster.ts';
import type { KeyInfo } from './network.ts';

const NETWORK = 'regtest';
const SIGHASH_DEFAULT = 0x00;
/** BIP32 version bytes of tpub/tprv, for the holder's HD key on regtest. */
const TEST_BIP32 = { private: 0x04358394, public: 0x043587cf };

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
  const payTo = walletAddress(wallet.root, { change: false, index: 1000 }, wallet.network);
  const { psbt, change } = buildWalletPsbt(wallet, {
    utxos,
    payments: [{ address: payTo, amount: 50_000n }],
    changeIndex: 0,
    feeRate: 2,
  });
  if (change === 0n) throw new Error('expected a change output');
  const r = await c.must(via, `/v1/keys/${key.name}/sign`, {
    psbt: psbt.toBase64(),
    network: wallet.network,
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
  // The key's own network: its parties sign PSBTs of no other.
  const wallet: Wallet = {
    root: walletRoot(hexToBytes(key.groupKey), hexToBytes(key.chainCode)),
    network: key.network,
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

export type SizedSpend = { inputs: number; vsize: number; weight: number };
export type RecoverySizeReport = {
  /** The group that signed the key-path spends, in process. */
  group: string;
  /** Key-path spends of recovery-enabled coins (policy of one leaf), signed by FROST in process. */
  keyPath: { spends: SizedSpend[]; perInputVsize: number };
  /** Recovery-path sweeps, signed by the recovery key, for a policy of `leaves` leaves (spending the last). */
  recoveryPath: { leaves: number; older: number; spends: SizedSpend[]; perInputVsize: number }[];
};

const sized = (inputs: number, tx: { vsize: number; weight: number }): SizedSpend => ({
  inputs,
  vsize: tx.vsize,
  weight: tx.weight,
});
const perInput = (one: SizedSpend, three: SizedSpend) => (three.weight - one.weight) / 2 / 4;

/**
 * What a recovery policy costs on chain, from real signed transactions: key-path spends of recovery-enabled
 * coins signed by a t-of-n FROST key in this process (each signature checked against its BIP341 sighash and
 * output key), and recovery sweeps signed by an HD key standing in for the holder's wallet (finalized only
 * after every check the chain makes). The weight one more input adds is read off spends of one and three coins.
 */
export function recoverySpendSizes(g: { t: number; n: number }): RecoverySizeReport {
  const shares = makeKey(g.t, g.n);
  const signers = partyNames(g.n).slice(0, g.t);
  const group = shares.get(signers[0]!)!.group;
  const root = { key: groupKey(group), chainCode: group.chainCode };
  const holder = HDKey.fromMasterSeed(sha256(new TextEncoder().encode('bench recovery holder')), TEST_BIP32);
  const keyText = (i: number) =>
    `[${holder.fingerprint.toString(16).padStart(8, '0')}/86h/1h/${i}h]${holder.derive(`m/86'/1'/${i}'`).publicExtendedKey}`;
  const walletWith = (leaves: { key: string; older: number }[]): Wallet => ({
    root,
    network: NETWORK,
    recovery: parseRecoveryPolicy({ version: 1, leaves }),
  });
  const payTo = walletAddress(root, { change: false, index: 1000 }, NETWORK);

  const one = walletWith([{ key: keyText(0), older: 52_560 }]);
  const keyPathSpend = (inputs: number): SizedSpend => {
    const utxos = Array.from({ length: inputs }, (_, i) => coin(i));
    const { psbt } = buildWalletPsbt(one, {
      utxos,
      payments: [{ address: payTo, amount: 50_000n }],
      changeIndex: 0,
      feeRate: 2,
    });
    const plan = planPsbtSigning(psbt.toBase64(), one);
    const sigs = new Map(
      plan.inputs.map((i) => {
        const sig = signWith(shares, signers, { scheme: 'bip340', message: i.sighash, steps: i.steps });
        if (!schnorr.verify(sig, i.sighash, i.outputKey))
          throw new Error(`input ${i.index}: FROST signature invalid`);
        return [i.index, sig] as const;
      }),
    );
    const done = finalizePsbt(applyKeySignatures(psbt, sigs));
    for (const input of Transaction.fromHex(done.txHex).ins)
      if (input.witness.length !== 1 || input.witness[0]!.length !== 64)
        throw new Error('not a one-signature key-path witness');
    return sized(inputs, done);
  };
  const recoverySpend = (wallet: Wallet, leaf: number, inputs: number): SizedSpend => {
    const coins = Array.from({ length: inputs }, (_, i) => coin(i));
    const { psbt } = buildRecoveryPsbt(wallet, { coins, leaf, to: payTo, feeRate: 2 });
    const tx = Transaction.fromBuffer(psbt.data.globalMap.unsignedTx.toBuffer());
    const scripts = psbt.data.inputs.map((i) => i.witnessUtxo!.script);
    const values = psbt.data.inputs.map((i) => i.witnessUtxo!.value);
    const sigs = new Map(
      coins.map((c, i) => {
        const at = descriptorKey(wallet, [0, c.index]).recoveryTree!.leaves[leaf]!;
        const sighash = tx.hashForWitnessV1(i, scripts, values, SIGHASH_DEFAULT, at.proof.leafHash);
        const secret = holder.derive(`m/86'/1'/${leaf}'/0/${c.index}`).privateKey!;
        return [i, schnorr.sign(sighash, secret)] as const;
      }),
    );
    return sized(inputs, finalizeRecoveryPsbt(addRecoverySignatures(psbt, sigs)));
  };

  const keyPath = [keyPathSpend(1), keyPathSpend(3)] as [SizedSpend, SizedSpend];
  const policies = [
    { wallet: one, leaves: 1, older: 52_560 },
    {
      wallet: walletWith([
        { key: keyText(0), older: 26_280 },
        { key: keyText(1), older: 52_560 },
      ]),
      leaves: 2,
      older: 52_560,
    },
  ];
  return {
    group: `${g.t}-of-${g.n}`,
    keyPath: { spends: keyPath, perInputVsize: perInput(...keyPath) },
    recoveryPath: policies.map((p) => {
      const spends = [recoverySpend(p.wallet, p.leaves - 1, 1), recoverySpend(p.wallet, p.leaves - 1, 3)] as [
        SizedSpend,
        SizedSpend,
      ];
      return { leaves: p.leaves, older: p.older, spends, perInputVsize: perInput(...spends) };
    }),
  };
}
