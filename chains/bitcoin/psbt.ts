/**
 * PSBT signing for a key group (BIP174 with the BIP371 Taproot fields). Every signing party runs the plan on
 * the PSBT itself: it finds the inputs that carry a derivation of this wallet, checks that each one really
 * pays to the derived output key, and recomputes the BIP341 sighash from the PSBT's prevouts. Nothing here
 * trusts a sighash, a key or a script tree handed over by someone else: a recovery-enabled key's tree comes
 * from its own policy (Wallet.recovery), and a PSBT that names another tree is refused.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { address, Psbt, Transaction } from 'bitcoinjs-lib';
import { bytesToHex, equalBytes, type Point, xOnly } from '../../protocol/curve.ts';
import { parsePath } from '../../protocol/derive.ts';
import { blameOnThrow, FrostnetError } from '../../protocol/errors.ts';
import { at } from '../../protocol/indexing.ts';
import type { TweakStep } from '../../protocol/tweak.ts';
import { assertInDomain } from '../domains.ts';
import { isP2trScript, p2trScript } from './address.ts';
import { descriptorKey, formatPath, masterFingerprint, type Wallet, type WalletKey } from './keys.ts';
import { bitcoinNetwork, type NetworkName } from './network.ts';
import { type Prevout, SIGHASH_DEFAULT, sighashName, taprootKeySighash } from './sighash.ts';
import { controlBlock } from './taptree.ts';

export type PsbtSource = Psbt | string | Uint8Array;

type PsbtInput = Psbt['data']['inputs'][number];
type TapBip32Derivation = NonNullable<PsbtInput['tapBip32Derivation']>[number];

/** A guard against absurd inputs before parsing; real PSBTs are far smaller. */
export const MAX_PSBT_BYTES = 4_000_000;
const PSBT_MAGIC_HEX = '70736274ff';

/** Parses a PSBT given as base64, hex, raw bytes or an object (which is copied, never changed). */
export function loadPsbt(source: PsbtSource): Psbt {
  if (source instanceof Psbt) return source.clone();
  let bytes: Uint8Array;
  if (source instanceof Uint8Array) bytes = source;
  else if (typeof source === 'string') {
    // Files and terminals wrap long base64; whitespace is never part of it.
    const text = source.replace(/\s+/g, '');
    if (text.toLowerCase().startsWith(PSBT_MAGIC_HEX) && /^[0-9a-fA-F]*$/.test(text) && text.length % 2 === 0)
      bytes = Buffer.from(text, 'hex');
    else if (/^[A-Za-z0-9+/]+={0,2}$/.test(text)) bytes = Buffer.from(text, 'base64');
    else throw new FrostnetError('INVALID_INPUT', 'malformed PSBT: neither base64 nor hex');
  } else throw new FrostnetError('INVALID_INPUT', 'malformed PSBT: expected base64, hex or bytes');
  if (bytes.length > MAX_PSBT_BYTES)
    throw new FrostnetError(
      'INVALID_INPUT',
      `malformed PSBT: ${bytes.length} bytes is more than ${MAX_PSBT_BYTES}`,
    );
  return blameOnThrow('INVALID_INPUT', 'malformed PSBT', [], () => Psbt.fromBuffer(bytes));
}

/** The unsigned transaction and every input's prevout, as the BIP341 sighash needs them. */
type Parsed = { readonly psbt: Psbt; readonly tx: Transaction; readonly prevouts: readonly Prevout[] };

function parse(source: PsbtSource): Parsed {
  const psbt = loadPsbt(source);
  const tx = Transaction.fromBuffer(psbt.data.globalMap.unsignedTx.toBuffer());
  if (psbt.data.inputs.length !== tx.ins.length || psbt.data.outputs.length !== tx.outs.length)
    throw new FrostnetError(
      'INVALID_INPUT',
      `the PSBT has ${psbt.data.inputs.length} input and ${psbt.data.outputs.length} output maps for a transaction of ${tx.ins.length} inputs and ${tx.outs.length} outputs`,
    );
  return { psbt, tx, prevouts: tx.ins.map((_, i) => prevoutOf(psbt, tx, i)) };
}

function prevoutOf(psbt: Psbt, tx: Transaction, i: number): Prevout {
  const input = at(psbt.data.inputs, i, 'PSBT inputs');
  const txIn = at(tx.ins, i, 'transaction inputs');
  if (input.witnessUtxo) return { script: input.witnessUtxo.script, value: input.witnessUtxo.value };
  const { nonWitnessUtxo } = input;
  if (nonWitnessUtxo) {
    const prev = blameOnThrow('INVALID_INPUT', `input ${i}: previous transaction`, [], () =>
      Transaction.fromBuffer(nonWitnessUtxo),
    );
    const out = prev.outs[txIn.index];
    if (!equalBytes(prev.getHash(), txIn.hash) || !out)
      throw new FrostnetError(
        'INVALID_INPUT',
        `input ${i}: its previous transaction is not the one it spends`,
      );
    return { script: out.script, value: out.value };
  }
  throw new FrostnetError(
    'INVALID_INPUT',
    `input ${i} has no previous output (witnessUtxo): a Taproot sighash commits to every input's amount and script`,
  );
}

/**
 * The wallet key an input or output claims through a BIP371 derivation with our master fingerprint, checked
 * against its script. Undefined when it claims none (it belongs to someone else); an error when the claim is
 * false, since a wrong derivation is either a broken wallet or an attempt to make us sign or count what is not
 * ours.
 */
function claimedKey(
  what: string,
  wallet: Wallet,
  fingerprint: Uint8Array,
  derivations: readonly TapBip32Derivation[] | undefined,
  script: Uint8Array,
  tapInternalKey: Uint8Array | undefined,
): WalletKey | undefined {
  const ours = (derivations ?? []).filter((d) => equalBytes(d.masterFingerprint, fingerprint));
  if (ours.length === 0) return undefined;
  const keyPath = ours.filter((d) => d.leafHashes.length === 0);
  if (keyPath.length !== 1)
    throw new FrostnetError(
      'WRONG_CONTEXT',
      keyPath.length === 0
        ? `${what} names this wallet only for a script path; its keys have no script path`
        : `${what} carries ${keyPath.length} key-path derivations of this wallet; expected one`,
    );
  const { path: pathText, pubkey } = at(keyPath, 0, 'key-path derivations');
  const path = blameOnThrow('INVALID_INPUT', `${what}: derivation ${pathText}`, [], () =>
    parsePath(pathText),
  );
  // Before anything is derived: an input of the wallet, and a change output, are receive or change keys only.
  // A "change" output elsewhere (the raw-message branch, the EVM branch, any other path) would leave the
  // wallet while counting as kept; a long path would cost a derivation step per index.
  assertInDomain('bitcoin', path, what);
  const key = descriptorKey(wallet, path);
  const internal = xOnly(key.internalKey);
  if (!equalBytes(pubkey, internal) || (tapInternalKey && !equalBytes(tapInternalKey, internal)))
    throw new FrostnetError(
      'WRONG_CONTEXT',
      `${what}: derivation ${pathText} of this wallet gives internal key ${bytesToHex(internal)}, not the one the PSBT names`,
    );
  if (!equalBytes(script, p2trScript(key.outputKey)))
    throw new FrostnetError(
      'WRONG_CONTEXT',
      `${what} does not belong to this key: its script is not the P2TR output of ${formatPath(key.path)}` +
        (wallet.recovery ? ' under the recovery policy this key holds' : ''),
    );
  return key;
}

const treeName = (key: WalletKey) =>
  key.merkleRoot ? `the agreed recovery tree (merkle root ${bytesToHex(key.merkleRoot)})` : 'no script tree';

/**
 * The script-tree fields of an input of ours must describe the tree its key commits to: a tap_merkle_root
 * equal to the agreed one, and tap_leaf_script entries that are leaves of that tree with their control blocks.
 * Anything else is a PSBT made for another tree, which no party signs for.
 */
function checkInputTree(what: string, key: WalletKey, input: PsbtInput): void {
  if (input.tapMerkleRoot && !(key.merkleRoot && equalBytes(input.tapMerkleRoot, key.merkleRoot)))
    throw new FrostnetError(
      'WRONG_CONTEXT',
      `${what} names the script tree with merkle root ${bytesToHex(input.tapMerkleRoot)}, but ${formatPath(key.path)} ` +
        `of this key commits to ${treeName(key)}; the network signs only for the tree in the key's own policy`,
    );
  for (const leaf of input.tapLeafScript ?? []) {
    const ours = key.recoveryTree?.leaves.find(
      (l) => equalBytes(l.tapLeaf.script, leaf.script) && l.tapLeaf.leafVersion === leaf.leafVersion,
    );
    if (!ours || !equalBytes(controlBlock(key.internalKey, key.merkleRoot!, ours.proof), leaf.controlBlock))
      throw new FrostnetError(
        'WRONG_CONTEXT',
        `${what} names a script leaf ${bytesToHex(leaf.script).slice(0, 24)}... that is not in ${treeName(key)} of ${formatPath(key.path)}`,
      );
  }
}

export type SummaryInput = {
  readonly index: number;
  readonly txid: string;
  readonly vout: number;
  readonly amount: bigint;
  /** Undefined for scripts that have no address. */
  readonly address: string | undefined;
  /** True when the input is one of this wallet's keys (then `path` is set). */
  readonly ours: boolean;
  readonly path?: readonly number[];
};

export type SummaryOutput = {
  readonly index: number;
  readonly amount: bigint;
  readonly script: Uint8Array;
  readonly address: string | undefined;
  /** True when the output pays back to this wallet (checked against its derivation, not just claimed). */
  readonly change: boolean;
  readonly path?: readonly number[];
};

/** What a policy checks before the network signs. */
export type PsbtSummary = {
  readonly network: NetworkName;
  readonly inputs: readonly SummaryInput[];
  readonly outputs: readonly SummaryOutput[];
  readonly totalIn: bigint;
  readonly totalOut: bigint;
  /** Paid to outputs that are not our change. */
  readonly sent: bigint;
  readonly fee: bigint;
};

export type SigningInput = {
  readonly index: number;
  readonly path: readonly number[];
  /** Tweaks from the group key to this input's output key, for the signing ceremony. */
  readonly steps: readonly TweakStep[];
  readonly internalKey: Point;
  /** The merkle root of the agreed recovery tree the output key commits to; undefined for none. */
  readonly merkleRoot?: Uint8Array;
  /** x-only key the signature must verify under. */
  readonly outputKey: Uint8Array;
  readonly amount: bigint;
  readonly sighashType: number;
  /** The 32-byte BIP341 key-path message to sign. */
  readonly sighash: Uint8Array;
};

export type SigningPlan = { readonly inputs: readonly SigningInput[]; readonly summary: PsbtSummary };

export type PlanOptions = {
  /** Sighash types an input may request; SIGHASH_DEFAULT only unless the requester asked for more. */
  readonly sighashTypes?: readonly number[];
  /** Leave inputs with no derivation of this wallet to other signers instead of refusing the PSBT. */
  readonly skipForeignInputs?: boolean;
};

type Analysis = Parsed & {
  readonly inputKeys: readonly (WalletKey | undefined)[];
  readonly outputKeys: readonly (WalletKey | undefined)[];
};

function analyse(source: PsbtSource, wallet: Wallet): Analysis {
  const parsed = parse(source);
  const { psbt, tx, prevouts } = parsed;
  const fp = masterFingerprint(wallet.root);
  const inputKeys = psbt.data.inputs.map((input, i) => {
    const key = claimedKey(
      `input ${i}`,
      wallet,
      fp,
      input.tapBip32Derivation,
      at(prevouts, i, 'prevouts').script,
      input.tapInternalKey,
    );
    if (key) checkInputTree(`input ${i}`, key, input);
    return key;
  });
  const outputKeys = psbt.data.outputs.map((output, j) =>
    claimedKey(
      `output ${j}`,
      wallet,
      fp,
      output.tapBip32Derivation,
      at(tx.outs, j, 'transaction outputs').script,
      output.tapInternalKey,
    ),
  );
  return { ...parsed, inputKeys, outputKeys };
}

function addressOf(script: Uint8Array, network: NetworkName): string | undefined {
  try {
    return address.fromOutputScript(script, bitcoinNetwork(network));
  } catch {
    return undefined;
  }
}

const sum = (values: readonly bigint[]): bigint => values.reduce((a, b) => a + b, 0n);

function summarise(a: Analysis, network: NetworkName): PsbtSummary {
  const inputs = a.tx.ins.map((input, index) => {
    const prevout = at(a.prevouts, index, 'prevouts');
    const key = a.inputKeys[index];
    return {
      index,
      txid: bytesToHex(Uint8Array.from(input.hash).reverse()),
      vout: input.index,
      amount: prevout.value,
      address: addressOf(prevout.script, network),
      ours: key !== undefined,
      ...(key && { path: key.path }),
    };
  });
  const outputs = a.tx.outs.map((output, index) => ({
    index,
    amount: output.value,
    script: output.script,
    address: addressOf(output.script, network),
    change: a.outputKeys[index] !== undefined,
    ...(a.outputKeys[index] && { path: a.outputKeys[index].path }),
  }));
  const totalIn = sum(inputs.map((i) => i.amount));
  const totalOut = sum(outputs.map((o) => o.amount));
  if (totalOut > totalIn)
    throw new FrostnetError(
      'INVALID_INPUT',
      `PSBT spends ${totalOut} sat but its inputs hold only ${totalIn} sat`,
    );
  const sent = sum(outputs.filter((o) => !o.change).map((o) => o.amount));
  return { network, inputs, outputs, totalIn, totalOut, sent, fee: totalIn - totalOut };
}

/** Inputs, outputs, our change and the fee of a PSBT, with every claim of ours checked. */
export function summarizePsbt(source: PsbtSource, wallet: Wallet): PsbtSummary {
  return summarise(analyse(source, wallet), wallet.network);
}

/**
 * What the network must sign for this PSBT: one BIP341 key-path sighash per input of ours, with the tweaks
 * that take the group key to that input's output key (through the agreed recovery tree's merkle root when the
 * wallet has a policy). Refuses inputs that name this wallet falsely, inputs naming another script tree,
 * inputs of other keys (unless `skipForeignInputs`), sighash types not allowed, and PSBTs with nothing to sign.
 */
export function planPsbtSigning(source: PsbtSource, wallet: Wallet, opts: PlanOptions = {}): SigningPlan {
  const a = analyse(source, wallet);
  const allowed = opts.sighashTypes ?? [SIGHASH_DEFAULT];
  const inputs: SigningInput[] = [];
  a.inputKeys.forEach((key, index) => {
    const input = at(a.psbt.data.inputs, index, 'PSBT inputs');
    if (!key) {
      if (opts.skipForeignInputs) return;
      throw new FrostnetError(
        'WRONG_CONTEXT',
        `input ${index} does not belong to this key: it carries no Taproot derivation of this wallet`,
      );
    }
    if (input.finalScriptWitness || input.finalScriptSig)
      throw new FrostnetError('CONFLICT', `input ${index} is already finalized`);
    if (!input.witnessUtxo)
      throw new FrostnetError(
        'INVALID_INPUT',
        `input ${index}: a Taproot input needs its witnessUtxo (BIP371)`,
      );
    const sighashType = input.sighashType ?? SIGHASH_DEFAULT;
    if (!allowed.includes(sighashType))
      throw new FrostnetError(
        'POLICY_DENIED',
        `input ${index} requests sighash type ${sighashName(sighashType)}, which was not allowed for this request`,
      );
    inputs.push({
      index,
      path: key.path,
      steps: key.steps,
      internalKey: key.internalKey,
      ...(key.merkleRoot && { merkleRoot: key.merkleRoot }),
      outputKey: key.outputKey,
      amount: at(a.prevouts, index, 'prevouts').value,
      sighashType,
      sighash: taprootKeySighash(a.tx, index, a.prevouts, sighashType),
    });
  });
  if (inputs.length === 0)
    throw new FrostnetError('WRONG_CONTEXT', 'the PSBT has no input of this wallet to sign');
  return { inputs, summary: summarise(a, wallet.network) };
}

/** Verifies a serialized key-path signature (64 bytes, or 65 with a non-default sighash byte) on input i. */
function checkKeySignature(p: Parsed, i: number, tapKeySig: Uint8Array): void {
  const script = at(p.prevouts, i, 'prevouts').script;
  if (!isP2trScript(script))
    throw new FrostnetError(
      'INVALID_INPUT',
      `input ${i} is not a Taproot output; it has no key-path signature`,
    );
  const type = tapKeySig.length === 65 ? at(tapKeySig, 64, 'the signature') : SIGHASH_DEFAULT;
  if (
    (tapKeySig.length !== 64 && tapKeySig.length !== 65) ||
    (tapKeySig.length === 65 && type === SIGHASH_DEFAULT)
  )
    throw new FrostnetError(
      'INVALID_SIGNATURE',
      `input ${i}: a key-path signature is 64 bytes, or 65 with a sighash byte`,
    );
  const sighash = taprootKeySighash(p.tx, i, p.prevouts, type);
  if (!schnorr.verify(tapKeySig.subarray(0, 64), sighash, script.subarray(2)))
    throw new FrostnetError(
      'INVALID_SIGNATURE',
      `input ${i}: the signature does not verify for this transaction`,
    );
}

/**
 * Sets tapKeySig on each input from a 64-byte BIP340 signature, appending the sighash byte the input requested
 * (none for SIGHASH_DEFAULT), replacing any earlier one. Each signature is verified against the PSBT first.
 * Returns a new PSBT.
 */
export function applyKeySignatures(source: PsbtSource, sigs: ReadonlyMap<number, Uint8Array>): Psbt {
  const p = parse(source);
  for (const [i, sig] of sigs) {
    if (!Number.isInteger(i) || i < 0 || i >= p.tx.ins.length)
      throw new FrostnetError('INVALID_INPUT', `signature for input ${i}, which does not exist`);
    if (!(sig instanceof Uint8Array) || sig.length !== 64)
      throw new FrostnetError('INVALID_SIGNATURE', `input ${i}: expected a 64-byte BIP340 signature`);
    const input = at(p.psbt.data.inputs, i, 'PSBT inputs');
    const type = input.sighashType ?? SIGHASH_DEFAULT;
    const tapKeySig = type === SIGHASH_DEFAULT ? Uint8Array.from(sig) : Uint8Array.from([...sig, type]);
    checkKeySignature(p, i, tapKeySig);
    // A fresh valid signature replaces an earlier one (BIP340 signatures differ with every nonce).
    delete input.tapKeySig;
    blameOnThrow('INVALID_INPUT', `input ${i}: set signature`, [], () =>
      p.psbt.updateInput(i, { tapKeySig }),
    );
  }
  return p.psbt;
}

export type FinalizedTransaction = {
  readonly psbt: Psbt;
  readonly txHex: string;
  readonly txid: string;
  readonly weight: number;
  readonly vsize: number;
  readonly fee: bigint;
};

/**
 * Finalizes every Taproot key-path input (its witness becomes the one signature) after verifying it, and
 * extracts the transaction. Inputs other signers already finalized are kept as they are.
 */
export function finalizePsbt(source: PsbtSource): FinalizedTransaction {
  const p = parse(source);
  p.psbt.data.inputs.forEach((input, i) => {
    if (input.finalScriptWitness || input.finalScriptSig) return;
    if (!input.tapKeySig) throw new FrostnetError('INVALID_INPUT', `input ${i} is not signed`);
    checkKeySignature(p, i, input.tapKeySig);
    blameOnThrow('INVALID_INPUT', `input ${i}: finalize`, [], () => p.psbt.finalizeInput(i));
  });
  const tx = blameOnThrow('INVALID_INPUT', 'extract transaction', [], () => p.psbt.extractTransaction());
  const fee = sum(p.prevouts.map((o) => o.value)) - sum(tx.outs.map((o) => o.value));
  return {
    psbt: p.psbt,
    txHex: tx.toHex(),
    txid: tx.getId(),
    weight: tx.weight(),
    vsize: tx.virtualSize(),
    fee,
  };
}
