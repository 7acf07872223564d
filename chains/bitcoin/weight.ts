/**
 * The weight of a spend, from its input kinds and output scripts alone. Free of bitcoinjs-lib, so that the
 * daemon's policy can size a PSBT's fee rate without holding the library before a request needs it.
 */
// Outpoint 36 + empty scriptSig 1 + sequence 4, times 4; witness: item count 1 + length 1 + signature 64.
export const KEY_PATH_INPUT_WEIGHT = 41 * 4 + 66;
export const KEY_PATH_INPUT_VSIZE = KEY_PATH_INPUT_WEIGHT / 4;

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
