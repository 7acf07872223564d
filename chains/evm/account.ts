/**
 * ethers v6 helpers around AccountFactory and ThresholdAccount: deploy, predict, read state, and submit signed
 * actions. Submitting takes the typed data that was signed, so the call always carries what was signed.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import {
  AbiCoder,
  type AccessList,
  Contract,
  ContractFactory,
  type ContractRunner,
  concat,
  getAddress,
  getBytes,
  getCreate2Address,
  hexlify,
  Interface,
  isCallException,
  keccak256,
  type Provider,
  type Signer,
  type TransactionReceipt,
  toBeHex,
  ZeroAddress,
} from 'ethers';
import { type ErrorCode, FrostnetError } from '../../protocol/errors.ts';
import { compiledContract } from './compile.ts';
import {
  type AccountRef,
  decodeExecute,
  decodeRotateKey,
  executeTypedData,
  rotateKeyTypedData,
  type TypedData,
} from './typed-data.ts';

const ERC1271_MAGIC = '0x1626ba7e';
/** ThresholdAccount's constructor: key, recoverer, recovery period, recovery delay (zeros: no recovery). */
export const ACCOUNT_CONSTRUCTOR = ['uint256', 'address', 'uint256', 'uint256'];

/** How each contract error reaches a caller. */
const REVERT_CODES: Record<string, ErrorCode> = {
  BadSignature: 'INVALID_SIGNATURE',
  Expired: 'BAD_REQUEST',
  InvalidKey: 'INVALID_INPUT',
  CallFailed: 'BAD_REQUEST',
  AlreadyDeployed: 'CONFLICT',
  InvalidRecovery: 'INVALID_INPUT',
  NotRecoverer: 'UNAUTHORIZED',
  StillActive: 'TIME_LOCKED',
  RecoveryDelayRunning: 'TIME_LOCKED',
  NoRecoveryPending: 'CONFLICT',
  ActedSinceRecoveryInitiated: 'CONFLICT',
};

const accountInterface = () => new Interface(compiledContract('ThresholdAccount').abi);
export const factoryInterface = () => new Interface(compiledContract('AccountFactory').abi);
// The factory bubbles up the account constructor's errors, so reverts are parsed against both.
const errorsInterface = () =>
  new Interface(
    [...compiledContract('AccountFactory').abi, ...compiledContract('ThresholdAccount').abi].filter(
      (f) => f.type === 'error',
    ),
  );

/** Runs a transaction and waits for it; a contract revert becomes a FrostnetError naming the contract error. */
export async function transact(what: string, send: () => Promise<unknown>): Promise<TransactionReceipt> {
  try {
    const tx = (await send()) as { wait(): Promise<TransactionReceipt | null> };
    const receipt = await tx.wait();
    if (!receipt) throw new FrostnetError('INTERNAL', `${what}: no receipt`);
    return receipt;
  } catch (e) {
    if (!isCallException(e) || !e.data) throw e;
    const parsed = errorsInterface().parseError(e.data);
    if (!parsed) throw new FrostnetError('BAD_REQUEST', `${what} reverted (${e.data})`);
    const args = parsed.args
      .map((a: unknown) => (typeof a === 'bigint' ? a.toString() : String(a)))
      .join(', ');
    throw new FrostnetError(
      REVERT_CODES[parsed.name] ?? 'BAD_REQUEST',
      `${what} reverted: ${parsed.name}(${args})`,
    );
  }
}

/** An x-only key as the contracts take it. */
export function keyArg(px: Uint8Array): bigint {
  if (!(px instanceof Uint8Array) || px.length !== 32)
    throw new FrostnetError('INVALID_INPUT', 'an account key is a 32-byte x-only key');
  return BigInt(hexlify(px));
}

/** A CREATE2 salt as the factory takes it. */
export function saltArg(salt: bigint): string {
  if (typeof salt !== 'bigint' || salt < 0n || salt >= 1n << 256n)
    throw new FrostnetError('INVALID_INPUT', 'an account salt is an integer in [0, 2^256)');
  return toBeHex(salt, 32);
}

/** Deploys the factory and returns its address. */
export async function deployFactory(deployer: Signer): Promise<string> {
  const { abi, bytecode } = compiledContract('AccountFactory');
  const factory = await new ContractFactory(abi, bytecode, deployer).deploy();
  await factory.waitForDeployment();
  return factory.getAddress();
}

/**
 * The address the factory gives the account of x-only key `px` and `salt`, computed offline from this version's
 * account code: right for a factory built from the same code. factoryPredict asks a deployed factory.
 */
export function predictAccount(factory: string, px: Uint8Array, salt = 0n): string {
  return predictFromArgs(factory, [keyArg(px), ZeroAddress, 0n, 0n], salt);
}

/** The CREATE2 address of the account with these constructor arguments (ACCOUNT_CONSTRUCTOR). */
export function predictFromArgs(factory: string, args: readonly unknown[], salt: bigint): string {
  const initCode = concat([
    compiledContract('ThresholdAccount').bytecode,
    AbiCoder.defaultAbiCoder().encode(ACCOUNT_CONSTRUCTOR, args),
  ]);
  return getCreate2Address(getAddress(factory), saltArg(salt), keccak256(initCode));
}

/**
 * The address the factory deployed at `factory` gives the account of `px` and `salt`, asked of the factory: what
 * it deploys, whichever version of the account code it was built from.
 */
export async function factoryPredict(
  runner: ContractRunner,
  factory: string,
  px: Uint8Array,
  salt = 0n,
): Promise<string> {
  const contract = new Contract(factory, factoryInterface(), runner);
  return getAddress(await contract.getFunction('predict')(keyArg(px), saltArg(salt)));
}

/** Deploys the account of `px` and `salt` through the factory and returns its address. */
export async function deployAccount(
  deployer: Signer,
  factory: string,
  px: Uint8Array,
  salt = 0n,
): Promise<string> {
  const contract = new Contract(factory, factoryInterface(), deployer);
  const account = await factoryPredict(deployer, factory, px, salt);
  await transact(`deploying account ${account}`, () =>
    contract.getFunction('deploy')(keyArg(px), saltArg(salt)),
  );
  return account;
}

/** ThresholdAccount at `address`, for reads (a provider) or calls (a signer). */
export function accountContract(address: string, runner: ContractRunner): Contract {
  return new Contract(address, accountInterface(), runner);
}

/** The nonce the account's next action must carry. */
export async function readNonce(provider: Provider, account: string): Promise<bigint> {
  return accountContract(account, provider).getFunction('nonce')() as Promise<bigint>;
}

/** The account's current x-only key. */
export async function readGroupKey(provider: Provider, account: string): Promise<Uint8Array> {
  const key = (await accountContract(account, provider).getFunction('groupKey')()) as bigint;
  return getBytes(toBeHex(key, 32));
}

async function accountRef(provider: Provider, account: string): Promise<AccountRef> {
  return { chainId: (await provider.getNetwork()).chainId, address: getAddress(account) };
}

/** The chain and address the account's next action names, and the nonce it must carry (read from the chain). */
export async function nextAction(
  provider: Provider,
  account: string,
): Promise<{ ref: AccountRef; nonce: bigint }> {
  const [ref, nonce] = await Promise.all([accountRef(provider, account), readNonce(provider, account)]);
  return { ref, nonce };
}

/** Typed data for the account's next Execute (chain id and nonce read from the chain). */
export async function prepareExecute(
  provider: Provider,
  account: string,
  call: { to: string; value: bigint; data?: string; deadline: bigint },
): Promise<TypedData> {
  const { ref, nonce } = await nextAction(provider, account);
  return executeTypedData(ref, {
    to: call.to,
    value: call.value,
    data: call.data ?? '0x',
    nonce,
    deadline: call.deadline,
  });
}

/** Typed data for the account's next RotateKey (chain id and nonce read from the chain). */
export async function prepareRotateKey(
  provider: Provider,
  account: string,
  rotation: { newKey: Uint8Array; deadline: bigint },
): Promise<TypedData> {
  const { ref, nonce } = await nextAction(provider, account);
  return rotateKeyTypedData(ref, { newKey: rotation.newKey, nonce, deadline: rotation.deadline });
}

/**
 * The contract's signature argument: the 64-byte BIP340 signature followed by R's even y coordinate, the hint
 * that lets the contract verify with one ecrecover (96 bytes: rx || s || ry).
 */
export function encodeSignature(signature: Uint8Array): string {
  if (!(signature instanceof Uint8Array) || signature.length !== 64)
    throw new FrostnetError('INVALID_INPUT', 'a BIP340 signature is 64 bytes');
  let ry: bigint;
  try {
    ry = schnorr.utils.lift_x(BigInt(hexlify(signature.subarray(0, 32)))).y;
  } catch {
    throw new FrostnetError('INVALID_INPUT', 'signature R is not a curve point');
  }
  return concat([signature, toBeHex(ry, 32)]);
}

/** The account a signed action is for, reached through `relayer`, which must be on the action's chain. */
async function actionTarget(relayer: Signer, account: AccountRef): Promise<Contract> {
  const network = await relayer.provider?.getNetwork();
  if (network && network.chainId !== account.chainId)
    throw new FrostnetError(
      'WRONG_CONTEXT',
      `the action is for chain ${account.chainId}, the relayer is on chain ${network.chainId}`,
    );
  return accountContract(account.address, relayer);
}

/** Sends `method(...args)` of a signed action to the account it is for, from `relayer`, and waits for it. */
export async function submitAction(
  relayer: Signer,
  account: AccountRef,
  method: string,
  args: readonly unknown[],
): Promise<TransactionReceipt> {
  const contract = await actionTarget(relayer, account);
  return transact(`${method} on ${account.address}`, () => contract.getFunction(method)(...args));
}

/**
 * Addresses below this are left out of access lists: the precompiles (0x01-0x11, P256VERIFY at 0x100) are warm
 * in every transaction, and the few non-precompile addresses in the range are not worth the 100 gas.
 */
const PRECOMPILES_END = 0x200n;

/**
 * The EIP-2930 access list of an Execute: its target, which the account's call would otherwise reach cold
 * (EIP-2929: 2,600 gas at the call; listed, 2,400 up front and 100 at the call). Addresses every transaction
 * has warm anyway (the relayer, the account, precompiles) are left out: listing them would cost 2,400 for
 * nothing. Only the target: the account's nonce slot is cold too, but the account is the transaction's `to`,
 * and listing its slot means listing it as well (2,400 + 1,900 to save 100).
 */
export function executeAccessList(to: string, account: string, relayer: string): AccessList {
  const target = getAddress(to);
  if ([getAddress(account), getAddress(relayer)].includes(target) || BigInt(target) < PRECOMPILES_END)
    return [];
  return [{ address: target, storageKeys: [] }];
}

/** Submits a signed Execute from `relayer`, who pays the gas. */
export async function submitExecute(
  relayer: Signer,
  typedData: unknown,
  signature: Uint8Array,
): Promise<TransactionReceipt> {
  const { account, fields } = decodeExecute(typedData);
  const accessList = executeAccessList(fields.to, account.address, await relayer.getAddress());
  // A chain without EIP-1559 fees (no base fee, or a zero one) gets a legacy transaction, which cannot carry
  // an access list: it goes without, 100 gas dearer.
  const eip1559 = (await relayer.provider?.getFeeData())?.maxFeePerGas != null;
  const overrides = accessList.length > 0 && eip1559 ? { accessList } : {};
  return submitAction(relayer, account, 'execute', [
    fields.to,
    fields.value,
    fields.data,
    fields.deadline,
    encodeSignature(signature),
    overrides,
  ]);
}

/** Submits a signed RotateKey from `relayer`, who pays the gas. */
export async function submitRotateKey(
  relayer: Signer,
  typedData: unknown,
  signature: Uint8Array,
): Promise<TransactionReceipt> {
  const { account, fields } = decodeRotateKey(typedData);
  return submitAction(relayer, account, 'rotateKey', [
    keyArg(fields.newKey),
    fields.deadline,
    encodeSignature(signature),
  ]);
}

/**
 * ERC-1271 check as a wallet or dapp would run it: true when the account returns the magic value for `hash`
 * and the 64-byte BIP340 `signature` (false without asking when R is not even a curve point).
 */
export async function isValidSignature(
  provider: Provider,
  account: string,
  hash: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  let encoded: string;
  try {
    encoded = encodeSignature(signature);
  } catch (e) {
    if (e instanceof FrostnetError && signature.length === 64) return false;
    throw e;
  }
  const result = (await accountContract(account, provider).getFunction('isValidSignature')(
    hash,
    encoded,
  )) as string;
  return result === ERC1271_MAGIC;
}
