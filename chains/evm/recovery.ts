/**
 * The optional recovery of a ThresholdAccount, fixed when it is deployed: after `period` seconds with no
 * executed action, `recoverer` (an address: a hardware wallet, a Safe, another group's account) may initiate
 * replacing the group key; the replacement can be finalized `delay` seconds later unless the group cancels it
 * (VetoRecovery, EIP-712, signed by the group key like any action) or executes anything in between.
 *
 * The network signs VetoRecovery like any action (chains/evm/actions.ts decodes it for the signing parties,
 * chains/evm/veto.ts holds its type), where the party's policy allows it by name.
 */
import {
  Contract,
  type ContractRunner,
  getAddress,
  getBytes,
  isAddress,
  type Provider,
  type Signer,
  type TransactionReceipt,
  toBeHex,
  ZeroAddress,
} from 'ethers';
import { FrostnetError } from '../../protocol/errors.ts';
import {
  accountContract,
  encodeSignature,
  factoryInterface,
  keyArg,
  nextAction,
  predictFromArgs,
  saltArg,
  submitAction,
  transact,
} from './account.ts';
import type { TypedData } from './typed-data.ts';
import { decodeVetoRecovery, vetoRecoveryTypedData } from './veto.ts';

export {
  type DecodedVetoRecovery,
  decodeVetoRecovery,
  VETO_RECOVERY_TYPES,
  type VetoRecoveryFields,
  vetoRecoveryTypedData,
} from './veto.ts';

/** The contract's bound on the period and the delay (about 136 years). */
export const MAX_RECOVERY_SECONDS = 2n ** 32n - 1n;

export type AccountRecovery = {
  /** Who may start a recovery. */
  readonly recoverer: string;
  /** Seconds without an executed action before a recovery may start. */
  readonly period: bigint;
  /** Seconds from a recovery's initiation to when it may be finalized: the group's time to veto it. */
  readonly delay: bigint;
};

/** Checks a recovery setup as the contract will (and says what is wrong before any gas is spent). */
export function checkAccountRecovery(r: AccountRecovery): AccountRecovery {
  if (typeof r.recoverer !== 'string' || !isAddress(r.recoverer) || getAddress(r.recoverer) === ZeroAddress)
    throw new FrostnetError('INVALID_INPUT', 'recoverer: expected a non-zero 20-byte address');
  for (const [what, v] of [
    ['recovery period', r.period],
    ['recovery delay', r.delay],
  ] as const)
    if (typeof v !== 'bigint' || v <= 0n || v > MAX_RECOVERY_SECONDS)
      throw new FrostnetError('INVALID_INPUT', `${what}: expected seconds from 1 to ${MAX_RECOVERY_SECONDS}`);
  return { recoverer: getAddress(r.recoverer), period: r.period, delay: r.delay };
}

const recoveryArgs = (px: Uint8Array, r: AccountRecovery) => {
  const c = checkAccountRecovery(r);
  return [keyArg(px), c.recoverer, c.period, c.delay] as const;
};

/** The address the factory gives the account of `px` with this recovery, computed offline (this code version). */
export function predictRecoverableAccount(
  factory: string,
  px: Uint8Array,
  r: AccountRecovery,
  salt = 0n,
): string {
  return predictFromArgs(factory, recoveryArgs(px, r), salt);
}

/** The same, asked of the factory deployed at `factory`. */
export async function factoryPredictRecoverable(
  runner: ContractRunner,
  factory: string,
  px: Uint8Array,
  r: AccountRecovery,
  salt = 0n,
): Promise<string> {
  const contract = new Contract(factory, factoryInterface(), runner);
  return getAddress(await contract.getFunction('predictWithRecovery')(...recoveryArgs(px, r), saltArg(salt)));
}

/** Deploys the account of `px` with this recovery through the factory; returns its address. */
export async function deployRecoverableAccount(
  deployer: Signer,
  factory: string,
  px: Uint8Array,
  r: AccountRecovery,
  salt = 0n,
): Promise<{ account: string; receipt: TransactionReceipt }> {
  const contract = new Contract(factory, factoryInterface(), deployer);
  const account = await factoryPredictRecoverable(deployer, factory, px, r, salt);
  const receipt = await transact(`deploying account ${account}`, () =>
    contract.getFunction('deployWithRecovery')(...recoveryArgs(px, r), saltArg(salt)),
  );
  return { account, receipt };
}

export type RecoveryState = {
  /** Undefined for an account deployed without recovery. */
  readonly recovery: AccountRecovery | undefined;
  /** Unix time of the last executed action (or of the deployment, with recovery). */
  readonly lastActionAt: bigint;
  /** When a recovery may start, unless the group acts before. */
  readonly opensAt: bigint | undefined;
  readonly pending: { readonly newKey: Uint8Array; readonly completesAt: bigint } | undefined;
};

/** The account's recovery setup and where its clock stands. */
export async function readRecoveryState(provider: Provider, account: string): Promise<RecoveryState> {
  const [recoverer, period, delay, lastActionAt, newKey, completesAt] = (await accountContract(
    account,
    provider,
  ).getFunction('recovery')()) as [string, bigint, bigint, bigint, bigint, bigint];
  const enabled = recoverer !== ZeroAddress;
  return {
    recovery: enabled ? { recoverer, period, delay } : undefined,
    lastActionAt,
    opensAt: enabled ? lastActionAt + period : undefined,
    pending: completesAt === 0n ? undefined : { newKey: getBytes(toBeHex(newKey, 32)), completesAt },
  };
}

/** The recoverer initiates replacing the account's key with `newKey` (x-only), once the period has passed. */
export async function initiateRecovery(
  recoverer: Signer,
  account: string,
  newKey: Uint8Array,
): Promise<TransactionReceipt> {
  return transact(`initiateRecovery on ${account}`, () =>
    accountContract(account, recoverer).getFunction('initiateRecovery')(keyArg(newKey)),
  );
}

/** Finalizes a pending recovery after its delay; anyone may send it. */
export async function finalizeRecovery(sender: Signer, account: string): Promise<TransactionReceipt> {
  return transact(`finalizeRecovery on ${account}`, () =>
    accountContract(account, sender).getFunction('finalizeRecovery')(),
  );
}

/** Typed data for the account's next VetoRecovery (chain id and nonce read from the chain). */
export async function prepareVetoRecovery(
  provider: Provider,
  account: string,
  deadline: bigint,
): Promise<TypedData<'VetoRecovery'>> {
  const { ref, nonce } = await nextAction(provider, account);
  return vetoRecoveryTypedData(ref, { nonce, deadline });
}

/** Submits a VetoRecovery signed by the group key from `relayer`, who pays the gas. */
export async function submitVetoRecovery(
  relayer: Signer,
  typedData: unknown,
  signature: Uint8Array,
): Promise<TransactionReceipt> {
  const { account, fields } = decodeVetoRecovery(typedData);
  return submitAction(relayer, account, 'vetoRecovery', [fields.deadline, encodeSignature(signature)]);
}
