/**
 * BIP341 signature hashes: the key-path one the network signs for a Taproot input, and the script-path one a
 * recovery key signs.
 */
import type { Transaction } from 'bitcoinjs-lib';
import { blameOnThrow, FrostnetError } from '../../protocol/errors.ts';

export const SIGHASH_DEFAULT = 0x00;
export const SIGHASH_ALL = 0x01;
export const SIGHASH_NONE = 0x02;
export const SIGHASH_SINGLE = 0x03;
export const SIGHASH_ANYONECANPAY = 0x80;

/** The hash types BIP341 defines; any other byte makes a signature invalid. */
export const TAPROOT_SIGHASH_TYPES: readonly number[] = [0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83];

/** What an input spends: its previous output's script and amount in satoshis. */
export type Prevout = { readonly script: Uint8Array; readonly value: bigint };

export const sighashName = (type: number): string => `0x${type.toString(16).padStart(2, '0')}`;

/** Validates what both kinds of BIP341 sighash need; bitcoinjs would hash some of these cases silently. */
function checkSighashRequest(
  tx: Transaction,
  index: number,
  prevouts: readonly Prevout[],
  sighashType: number,
): void {
  if (!Number.isInteger(index) || index < 0 || index >= tx.ins.length)
    throw new FrostnetError(
      'INVALID_INPUT',
      `input ${index} does not exist (the transaction has ${tx.ins.length})`,
    );
  if (prevouts.length !== tx.ins.length)
    throw new FrostnetError('INVALID_INPUT', `${prevouts.length} prevouts given for ${tx.ins.length} inputs`);
  if (!TAPROOT_SIGHASH_TYPES.includes(sighashType))
    throw new FrostnetError(
      'INVALID_INPUT',
      `input ${index}: sighash type ${sighashName(sighashType)} is not a Taproot type`,
    );
  // BIP341 defines no hash for SINGLE without a matching output; bitcoinjs would hash an empty one instead.
  if ((sighashType & 0x03) === SIGHASH_SINGLE && index >= tx.outs.length)
    throw new FrostnetError(
      'INVALID_INPUT',
      `input ${index}: SIGHASH_SINGLE needs an output at the same index`,
    );
}

function witnessV1Sighash(
  tx: Transaction,
  index: number,
  prevouts: readonly Prevout[],
  sighashType: number,
  leafHash?: Uint8Array,
): Uint8Array {
  checkSighashRequest(tx, index, prevouts, sighashType);
  return blameOnThrow('INVALID_INPUT', `input ${index}: sighash`, [], () =>
    tx.hashForWitnessV1(
      index,
      prevouts.map((p) => p.script),
      prevouts.map((p) => p.value),
      sighashType,
      leafHash,
    ),
  );
}

/**
 * The BIP341 key-path sighash (no annex, no leaf) of input `index`. It commits to every input's amount and
 * script, so a PSBT that lies about any prevout yields a signature the chain rejects.
 */
export const taprootKeySighash = (
  tx: Transaction,
  index: number,
  prevouts: readonly Prevout[],
  sighashType: number,
): Uint8Array => witnessV1Sighash(tx, index, prevouts, sighashType);

/**
 * The BIP342 script-path sighash of input `index` spending the leaf with hash `leafHash` (no annex, no
 * OP_CODESEPARATOR): what a recovery key signs.
 */
export function taprootScriptSighash(
  tx: Transaction,
  index: number,
  prevouts: readonly Prevout[],
  sighashType: number,
  leafHash: Uint8Array,
): Uint8Array {
  if (!(leafHash instanceof Uint8Array) || leafHash.length !== 32)
    throw new FrostnetError('INVALID_INPUT', `input ${index}: a leaf hash is 32 bytes`);
  return witnessV1Sighash(tx, index, prevouts, sighashType, leafHash);
}
