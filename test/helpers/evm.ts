/** Assertions shared by the EVM account tests: contract reverts as FrostnetErrors, and the account's events. */
import { Interface, type TransactionReceipt } from 'ethers';
import { compiledContract } from '../../chains/evm/compile.ts';
import { type ErrorCode, FrostnetError } from '../../protocol/errors.ts';

/** For assert.rejects: a FrostnetError with `code` that names the contract error `name`. */
export const reverted = (code: ErrorCode, name: string) => (e: unknown) =>
  e instanceof FrostnetError && e.code === code && e.message.includes(`reverted: ${name}(`);

/** The arguments of every ThresholdAccount event `name` a transaction emitted. */
export function accountEvents(receipt: TransactionReceipt, name: string) {
  const abi = new Interface(compiledContract('ThresholdAccount').abi);
  return receipt.logs.flatMap((log) => {
    const parsed = abi.parseLog(log);
    return parsed?.name === name ? [parsed.args] : [];
  });
}
