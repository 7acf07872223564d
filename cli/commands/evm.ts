/**
 * `evm`: a key's EVM account. Its key is the key's own BIP32 branch (chains/evm/keys.ts evmKey), and the account
 * is a ThresholdAccount deployed through a CREATE2 factory, so its address is known before deployment and can
 * receive funds first. Transactions reach the chain from a relayer account that only pays the gas: the account
 * acts on a threshold signature alone, which the parties make from EIP-712 typed data they decode themselves.
 *
 * The relayer's private key comes from --relayer-key-file or FROSTNET_RELAYER_KEY, never from the command line,
 * which other users of the machine can read. ethers, solc and the chain modules load only when an evm command
 * runs, so that the other commands start quickly.
 */
import type { JsonRpcProvider, Wallet } from 'ethers';
import type { AccountRecovery } from '../../chains/evm/recovery.ts';
import type { TypedData } from '../../chains/evm/typed-data.ts';
import type { Client, FollowOptions, RequestView } from '../client.ts';
import { type Command, defineCommand, integerOption } from '../command.ts';
import { confirmSigning } from '../confirm.ts';
import { formatEth, parseEth } from '../eth-units.ts';
import type { KeyView } from '../keyview.ts';
import { CliError, type Output, UsageError } from '../output.ts';
import { PartyBook } from '../parties.ts';
import { WAIT_OPTION, YES_OPTION } from '../request-options.ts';
import { readSecret } from '../secret-input.ts';
import { fetchKey } from '../signing.ts';

const MAX_ACCOUNT = 2 ** 31 - 1;
const DEFAULT_DEADLINE_SECONDS = 3600;
/**
 * The shortest recovery period and veto delay the CLI deploys, or acts on: with less, a recoverer (perhaps one
 * member) could take the account before the group has a chance to veto.
 */
export const MIN_RECOVERY_SECONDS = 86_400n;
/** How long a JSON-RPC endpoint has to say which chain it serves before the command gives up. */
const RPC_TIMEOUT_MS = 10_000;
export const RELAYER_KEY_ENV = 'FROSTNET_RELAYER_KEY';

const OPTIONS = {
  key: { type: 'string', arg: 'NAME', required: true, help: 'the key whose EVM account this is' },
  account: {
    type: 'string',
    arg: 'N',
    help: "which of the key's EVM accounts (default 0); each has a key of its own",
  },
  factory: {
    type: 'string',
    arg: 'ADDRESS',
    env: 'FROSTNET_EVM_FACTORY',
    help: "the account factory's address",
  },
  rpc: { type: 'string', arg: 'URL', help: "the chain's JSON-RPC URL (http:// or https://)" },
  'relayer-key-file': {
    type: 'string',
    arg: 'FILE',
    help: `file holding the private key (hex) of the relayer, who pays the gas (default: $${RELAYER_KEY_ENV})`,
  },
} as const;

const RPC_REQUIRED = { ...OPTIONS.rpc, required: true } as const;

/** EVM account number `account` of a key: its x-only key as bytes and 0x-hex, and its derivation path. */
export type AccountKey = {
  readonly account: number;
  readonly px: Uint8Array;
  readonly hex: string;
  readonly path: string;
};

async function accountKey(key: KeyView, account: number): Promise<AccountKey> {
  const [{ walletRoot }, { evmKey, evmKeyPath }, { bytesToHex, hexToBytes }] = await Promise.all([
    import('../../chains/bitcoin/keys.ts'),
    import('../../chains/evm/keys.ts'),
    import('../../protocol/curve.ts'),
  ]);
  const { px } = evmKey(walletRoot(hexToBytes(key.groupKey), hexToBytes(key.chainCode)), account);
  return { account, px, hex: `0x${bytesToHex(px)}`, path: `m/${evmKeyPath(account).join('/')}` };
}

const accountOption = (cmd: string, v: string | undefined): number =>
  integerOption(cmd, 'account', v ?? '0', 0, MAX_ACCOUNT);

/** A checksummed address from option --`name`; a mixed-case address with a wrong checksum is a typo. */
async function addressOption(cmd: string, name: string, value: string): Promise<string> {
  if (!/^0x[0-9a-fA-F]{40}$/.test(value))
    throw new UsageError(cmd, `--${name} ${value}: expected a 0x-prefixed 20-byte address`);
  const { getAddress } = await import('ethers');
  try {
    return getAddress(value);
  } catch {
    throw new UsageError(cmd, `--${name} ${value}: wrong checksum (mixed case); check the address`);
  }
}

/** A provider for `url`, once the endpoint has said which chain it serves (so ethers never retries forever). */
async function connect(cmd: string, url: string): Promise<{ provider: JsonRpcProvider; chainId: bigint }> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(cmd, `--rpc ${JSON.stringify(url)} is not a URL (like http://127.0.0.1:8545)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UsageError(cmd, `--rpc must be an http:// or https:// URL, not ${url}`);
  let chainId: bigint;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(RPC_TIMEOUT_MS),
    });
    chainId = BigInt(((await res.json()) as { result: string }).result);
  } catch (e) {
    const why = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    throw new CliError(
      'CHAIN_UNREACHABLE',
      `the chain at ${url} does not answer eth_chainId (${why})`,
      'check --rpc and that the chain node runs',
    );
  }
  const { JsonRpcProvider, Network } = await import('ethers');
  const provider = new JsonRpcProvider(url, Network.from(chainId), { staticNetwork: true, cacheTimeout: -1 });
  return { provider, chainId };
}

/** The relayer's wallet, from --relayer-key-file or the environment; the key itself is never printed. */
async function relayerWallet(
  cmd: string,
  file: string | undefined,
  env: NodeJS.ProcessEnv,
  provider: JsonRpcProvider,
): Promise<Wallet> {
  const { text, source } = await readSecret({
    cmd,
    option: 'relayer-key-file',
    file,
    envVar: RELAYER_KEY_ENV,
    env,
    purpose: 'a relayer pays the gas',
  });
  const hex = text.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex))
    throw new CliError('BAD_RELAYER_KEY', `${source} holds no private key`, 'it must be 32 bytes of hex');
  const { Wallet } = await import('ethers');
  try {
    return new Wallet(`0x${hex}`, provider);
  } catch {
    throw new CliError('BAD_RELAYER_KEY', `${source} holds no valid secp256k1 private key`, 'check the key');
  }
}

/**
 * Runs a chain call; ethers errors become one actionable line. Contract reverts already arrive as FrostnetErrors
 * from chains/evm/account.ts, naming the contract error.
 */
async function onChain<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const { isError } = await import('ethers');
    if (isError(e, 'INSUFFICIENT_FUNDS'))
      throw new CliError(
        'INSUFFICIENT_FUNDS',
        `${what}: the relayer cannot pay for the gas`,
        'fund the relayer account, or give another one',
      );
    if (isError(e, 'NETWORK_ERROR') || isError(e, 'TIMEOUT') || isError(e, 'SERVER_ERROR'))
      throw new CliError('CHAIN_UNREACHABLE', `${what}: ${e.shortMessage}`, 'check --rpc and the chain node');
    const short = (e as { shortMessage?: unknown }).shortMessage;
    if (typeof short === 'string')
      throw new CliError('CHAIN_ERROR', `${what}: ${short}`, 'check --rpc and the relayer account');
    throw e;
  }
}

/** Gas the call itself takes from the account, estimated by the chain; a call that reverts is refused here. */
async function estimateCall(
  provider: JsonRpcProvider,
  from: string,
  to: string,
  value: bigint,
  data: string,
): Promise<bigint> {
  try {
    return await provider.estimateGas({ from, to, value, data });
  } catch (e) {
    const why = (e as { shortMessage?: string }).shortMessage ?? (e as Error).message;
    throw new CliError(
      'CALL_WOULD_FAIL',
      `the call from ${from} to ${to} would fail on chain (${why.slice(0, 200)}); nothing was signed`,
      'check --to, --value and --data, and the account balance',
    );
  }
}

/**
 * Which account a command acts on: --address, else the key's counterfactual account at --factory: asked of the
 * factory when a chain is at hand (a factory built from other account code deploys elsewhere), else computed.
 */
async function accountAddress(
  cmd: string,
  v: { address?: string; factory?: string },
  key: AccountKey,
  provider?: JsonRpcProvider,
): Promise<{ address: string; factory?: string }> {
  if (v.address !== undefined) return { address: await addressOption(cmd, 'address', v.address) };
  if (v.factory === undefined)
    throw new UsageError(
      cmd,
      'which account? give --factory ADDRESS (or set FROSTNET_EVM_FACTORY), or --address ADDRESS',
    );
  const factory = await addressOption(cmd, 'factory', v.factory);
  const { factoryPredict, predictAccount } = await import('../../chains/evm/account.ts');
  if (!provider) return { address: predictAccount(factory, key.px), factory };
  if ((await onChain('reading the factory', () => provider.getCode(factory))) === '0x')
    throw new CliError(
      'NO_FACTORY',
      `there is no contract at ${factory} on this chain`,
      'check --factory and --rpc (or FROSTNET_EVM_FACTORY)',
    );
  const address = await onChain('asking the factory', () => factoryPredict(provider, factory, key.px));
  return { address, factory };
}

/**
 * Refuses, before anything is signed, an account that is not there, that another key controls, or whose
 * recovery setup leaves the group less than MIN_RECOVERY_SECONDS to see and veto a recovery (an account
 * anyone could have deployed for this key, with themselves as recoverer); gives the setup, if any.
 */
async function checkAccount(
  provider: JsonRpcProvider,
  chainId: bigint,
  address: string,
  key: AccountKey,
  keyName: string,
): Promise<AccountRecovery | undefined> {
  const [{ readGroupKey }, { bytesToHex }] = await Promise.all([
    import('../../chains/evm/account.ts'),
    import('../../protocol/curve.ts'),
  ]);
  if ((await onChain('reading the account', () => provider.getCode(address))) === '0x')
    throw new CliError(
      'NOT_DEPLOYED',
      `there is no account at ${address} on chain ${chainId}`,
      'deploy it first with "frostnet evm deploy", or check --address/--factory and --rpc',
    );
  const onChainKey = `0x${bytesToHex(await onChain('reading the account key', () => readGroupKey(provider, address)))}`;
  if (onChainKey !== key.hex)
    throw new CliError(
      'WRONG_KEY',
      `account ${address} is controlled by key ${onChainKey}, not by EVM account ${key.account} of ${keyName} (${key.hex})`,
      "name the key and --account the account has now, or give the address of this key's account",
    );
  const { readRecoveryState } = await import('../../chains/evm/recovery.ts');
  const { recovery } = await onChain('reading the recovery setup', () =>
    readRecoveryState(provider, address),
  );
  if (recovery && (recovery.period < MIN_RECOVERY_SECONDS || recovery.delay < MIN_RECOVERY_SECONDS))
    throw new CliError(
      'UNSAFE_ACCOUNT',
      `account ${address} can be taken over by ${recovery.recoverer} after ${recovery.period} s without an ` +
        `action and ${recovery.delay} s more: too soon for the group to veto; nothing was signed`,
      `use an account without recovery, or one with a period and delay of at least ${MIN_RECOVERY_SECONDS} s`,
    );
  return recovery;
}

export type TypedDataSignature = {
  /** 64-byte BIP340 signature, hex. */
  signature: string;
  /** The 96-byte signature argument of ThresholdAccount (rx || s || ry), 0x-hex. */
  encoded: string;
  /** The EIP-712 digest the parties signed, 0x-hex. */
  digest: string;
  signers: string[];
  excluded: { party: string; code: string; reason: string }[];
  attempts: number;
};

/**
 * Has the network sign `typedData` under EVM account key `key`. The typed data is checked here first (a typo
 * costs no ceremony) and the signature is verified here after: the CLI does not take the daemon's word for it.
 */
export async function signTypedData(
  client: Client,
  keyName: string,
  key: AccountKey,
  typedData: unknown,
  onProgress?: (line: string) => void,
  follow: FollowOptions = {},
): Promise<TypedDataSignature> {
  const [{ decodeSignableAction }, { encodeSignature }, { schnorr }, { bytesToHex, hexToBytes }] =
    await Promise.all([
      import('../../chains/evm/actions.ts'),
      import('../../chains/evm/account.ts'),
      import('@noble/curves/secp256k1.js'),
      import('../../protocol/curve.ts'),
    ]);
  const { digest } = decodeSignableAction(typedData);
  const r = await client.run<Partial<TypedDataSignature> & { signatures?: unknown }>(
    `/v1/keys/${encodeURIComponent(keyName)}/sign`,
    { typedData, account: key.account },
    onProgress,
    follow,
  );
  const signatures = r?.signatures;
  if (
    !Array.isArray(signatures) ||
    signatures.length !== 1 ||
    typeof signatures[0] !== 'string' ||
    !/^[0-9a-f]{128}$/i.test(signatures[0]) ||
    !Array.isArray(r.signers)
  )
    throw new CliError(
      'BAD_RESPONSE',
      'the daemon sent a malformed signing result',
      'check the daemon version',
    );
  const signature = hexToBytes(signatures[0]);
  if (!schnorr.verify(signature, digest, key.px))
    throw new CliError(
      'INVALID_SIGNATURE',
      `the signature the daemon returned does not verify under ${key.hex}`,
      'do not use it; check the daemon and its peers, and report this',
    );
  return {
    signature: bytesToHex(signature),
    encoded: encodeSignature(signature),
    digest: `0x${bytesToHex(digest)}`,
    signers: r.signers,
    excluded: r.excluded ?? [],
    attempts: r.attempts ?? 1,
  };
}

const rows = (pairs: readonly (readonly [string, string])[]): string => {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 2;
  return pairs.map(([k, v]) => `${k.padEnd(width)}${v}`).join('\n');
};

/**
 * signTypedData as the commands show it: each progress line with parties by name, the request asked again
 * if it was asked before; the party book comes back for naming the signers.
 */
async function signShown(
  c: Client,
  keyName: string,
  key: AccountKey,
  typedData: unknown,
  out: Output,
  wait: boolean,
): Promise<{ sig: TypedDataSignature; book: PartyBook }> {
  const book = await PartyBook.load(c);
  const sig = await signTypedData(c, keyName, key, typedData, (line) => out.note(`  ${book.named(line)}`), {
    wait,
    label: (p) => book.short(p),
    again: true,
  });
  return { sig, book };
}

/** One line for people: who may recover the account, and when. */
const describeRecovery = (r: AccountRecovery): string =>
  `by ${r.recoverer} after ${r.period} s without an action, then ${r.delay} s for a veto`;

/** The deadline option of a signed action: seconds after the chain's latest block. */
const deadlineOption = (cmd: string, given: string | undefined): number =>
  integerOption(cmd, 'deadline', given ?? String(DEFAULT_DEADLINE_SECONDS), 1, 10 * 365 * 86400);

/** What an action the threshold key signs for its account works with, each part checked by openAccount. */
type AccountAction = {
  c: Client;
  key: AccountKey;
  keyName: string;
  provider: JsonRpcProvider;
  chainId: bigint;
  /** The account's address. */
  at: string;
  relayer: Wallet;
  /** The account's recovery setup, if it has one (shown to the operator before anything is signed). */
  recovery: AccountRecovery | undefined;
};

/**
 * Runs `act` on the account of the key: resolves the key, connects to the chain, finds the account, loads the
 * relayer and checks the account is this key's; the connection is closed however `act` ends.
 */
async function withAccount<T>(
  cmd: string,
  client: () => Promise<Client>,
  values: { key: string; account?: string; address?: string; factory?: string; rpc: string } & {
    'relayer-key-file'?: string;
  },
  env: NodeJS.ProcessEnv,
  out: Output,
  act: (a: AccountAction) => Promise<T>,
): Promise<T> {
  const { c, key, keyName } = await resolveKey(cmd, client, values);
  const { provider, chainId } = await connect(cmd, values.rpc);
  try {
    const { address: at } = await accountAddress(cmd, values, key, provider);
    const relayer = await relayerWallet(cmd, values['relayer-key-file'], env, provider);
    const recovery = await checkAccount(provider, chainId, at, key, keyName);
    if (recovery) out.note(`account ${at} can be recovered ${describeRecovery(recovery)}`);
    return await act({ c, key, keyName, provider, chainId, at, relayer, recovery });
  } finally {
    provider.destroy();
  }
}

/** The key and the account of the command's options: what every evm command starts from. */
async function resolveKey(
  cmd: string,
  client: () => Promise<Client>,
  v: { key: string; account?: string },
): Promise<{ c: Client; key: AccountKey; keyName: string }> {
  const account = accountOption(cmd, v.account);
  const c = await client();
  const view = await fetchKey(c, v.key);
  return { c, key: await accountKey(view, account), keyName: view.name };
}

const address = defineCommand({
  name: 'evm address',
  summary: "Shows a key's EVM account key and the account's address, known before it is deployed.",
  usage: '--key NAME [--account N] [--factory ADDRESS | --address ADDRESS] [--rpc URL]',
  details: [
    'The address needs the factory (--factory or FROSTNET_EVM_FACTORY); funds sent there before the',
    'deployment are kept. With --rpc it also shows whether the account is deployed, its balance and nonce,',
    'and its recovery setup, if any. --address shows an account given by its address (one you were told of,',
    'one deployed with a recovery setup): check who may recover it before sending it anything.',
  ].join('\n'),
  daemon: 'read',
  options: {
    key: OPTIONS.key,
    account: OPTIONS.account,
    factory: OPTIONS.factory,
    rpc: OPTIONS.rpc,
    address: {
      type: 'string',
      arg: 'ADDRESS',
      help: 'an account given by its address; it wins over --factory',
    },
  },
  async run({ values, out, client }) {
    if (values.rpc !== undefined && values.factory === undefined && values.address === undefined)
      throw new UsageError(
        'evm address',
        '--rpc needs --factory (or FROSTNET_EVM_FACTORY) or --address to find the account',
      );
    const { key, keyName } = await resolveKey('evm address', client, values);
    const data: Record<string, unknown> = {
      key: keyName,
      account: key.account,
      path: key.path,
      evmKey: key.hex,
    };
    const lines: [string, string][] = [
      ['key', `${keyName}, EVM account ${key.account} (${key.path})`],
      ['EVM key (x)', key.hex],
    ];
    if (values.factory !== undefined || values.address !== undefined) {
      const chain = values.rpc === undefined ? undefined : await connect('evm address', values.rpc);
      try {
        const { address: at, factory } = await accountAddress('evm address', values, key, chain?.provider);
        Object.assign(data, { factory, address: at });
        lines.push(['factory', factory ?? ''], ['address', at]);
        if (chain) await describeOnChain(chain, at, key, data, lines);
      } finally {
        chain?.provider.destroy();
      }
    } else lines.push(['address', 'give --factory (or FROSTNET_EVM_FACTORY) to compute it']);
    out.result(data, () => rows(lines));
    return 0;
  },
});

/** Adds the account's chain state (deployed, balance, nonce, current key) to the output. */
async function describeOnChain(
  { provider, chainId }: { provider: JsonRpcProvider; chainId: bigint },
  at: string,
  key: AccountKey,
  data: Record<string, unknown>,
  lines: [string, string][],
): Promise<void> {
  const [{ readGroupKey, readNonce }, { bytesToHex }] = await Promise.all([
    import('../../chains/evm/account.ts'),
    import('../../protocol/curve.ts'),
  ]);
  const [code, balance] = await onChain('reading the account', () =>
    Promise.all([provider.getCode(at), provider.getBalance(at)]),
  );
  const deployed = code !== '0x';
  Object.assign(data, { chainId: chainId.toString(), deployed, balance: balance.toString() });
  lines.push(
    ['chain', chainId.toString()],
    ['deployed', deployed ? 'yes' : 'no'],
    ['balance', `${balance} wei`],
  );
  if (!deployed) return;
  const [nonce, current] = await onChain('reading the account', () =>
    Promise.all([readNonce(provider, at), readGroupKey(provider, at)]),
  );
  const currentKey = `0x${bytesToHex(current)}`;
  Object.assign(data, { nonce: nonce.toString(), currentKey });
  lines.push(['nonce', nonce.toString()]);
  if (currentKey !== key.hex) lines.push(['current key', `${currentKey} (rotated away from this key)`]);
  const { readRecoveryState } = await import('../../chains/evm/recovery.ts');
  const { recovery, opensAt } = await onChain('reading the recovery setup', () =>
    readRecoveryState(provider, at),
  );
  if (!recovery) return;
  Object.assign(data, {
    recovery: {
      recoverer: recovery.recoverer,
      period: recovery.period.toString(),
      delay: recovery.delay.toString(),
      ...(opensAt !== undefined && { opensAt: new Date(Number(opensAt) * 1000).toISOString() }),
    },
  });
  lines.push(['recovery', describeRecovery(recovery)]);
  if (opensAt !== undefined)
    lines.push(['recovery opens', `${new Date(Number(opensAt) * 1000).toISOString()} unless the group acts`]);
}

const deploy = defineCommand({
  name: 'evm deploy',
  summary: "Deploys a key's EVM account (and a factory, unless one is given); prints the addresses.",
  usage:
    '--key NAME --rpc URL [--account N] [--factory ADDRESS] [--relayer-key-file FILE] ' +
    '[--recoverer ADDRESS --recovery-period SECONDS --recovery-delay SECONDS]',
  details: [
    `The relayer (--relayer-key-file or ${RELAYER_KEY_ENV}) pays for the deployment and has no other power`,
    'over the account. An account that is already deployed is reported, not deployed again.',
    'With --recoverer, --recovery-period and --recovery-delay (all three), the account can be recovered: after',
    'the period without an executed action, the recoverer may start a key rotation that completes after the',
    'delay unless the group vetoes it (evm veto-recovery; docs/recovery.md). The setup is part of the address:',
    'give that address (--address) to the commands that act on this account.',
  ].join('\n'),
  daemon: 'read',
  options: {
    ...OPTIONS,
    rpc: RPC_REQUIRED,
    recoverer: { type: 'string', arg: 'ADDRESS', help: 'who may start a recovery of the account' },
    'recovery-period': {
      type: 'string',
      arg: 'SECONDS',
      help: 'seconds without an executed action before a recovery may start',
    },
    'recovery-delay': {
      type: 'string',
      arg: 'SECONDS',
      help: "seconds from a recovery's start to its completion: the group's time to veto it",
    },
  },
  async run({ values, out, client, env }) {
    const cmd = 'evm deploy';
    const given =
      values.factory === undefined ? undefined : await addressOption(cmd, 'factory', values.factory);
    const recovery = await recoveryOptions(cmd, values);
    const { key, keyName } = await resolveKey(cmd, client, values);
    const { provider, chainId } = await connect(cmd, values.rpc);
    try {
      const relayer = await relayerWallet(cmd, values['relayer-key-file'], env, provider);
      const { deployFactory, deployAccount, factoryPredict } = await import('../../chains/evm/account.ts');
      const { deployRecoverableAccount, factoryPredictRecoverable } = await import(
        '../../chains/evm/recovery.ts'
      );
      let factory = given;
      if (factory === undefined) {
        out.note(`deploying an account factory on chain ${chainId} from ${relayer.address}`);
        factory = await onChain('deploying the factory', () => deployFactory(relayer));
      } else if ((await onChain('reading the factory', () => provider.getCode(factory!))) === '0x')
        throw new CliError(
          'NO_FACTORY',
          `there is no contract at ${factory} on chain ${chainId}`,
          'check --factory and --rpc, or leave --factory out to deploy one',
        );
      const at = await onChain('asking the factory', () =>
        recovery
          ? factoryPredictRecoverable(provider, factory!, key.px, recovery)
          : factoryPredict(provider, factory!, key.px),
      );
      const already = (await onChain('reading the account', () => provider.getCode(at))) !== '0x';
      if (!already) {
        out.note(`deploying the account of ${keyName} (EVM account ${key.account}) at ${at}`);
        await onChain('deploying the account', async () => {
          if (recovery) await deployRecoverableAccount(relayer, factory!, key.px, recovery);
          else await deployAccount(relayer, factory!, key.px);
        });
      }
      const data = {
        key: keyName,
        account: key.account,
        evmKey: key.hex,
        chainId: chainId.toString(),
        factory,
        factoryDeployed: given === undefined,
        address: at,
        alreadyDeployed: already,
        ...(recovery && {
          recovery: {
            recoverer: recovery.recoverer,
            period: recovery.period.toString(),
            delay: recovery.delay.toString(),
          },
        }),
      };
      out.result(data, () =>
        rows([
          ['factory', `${factory}${given === undefined ? ' (deployed now)' : ''}`],
          ['account', `${at}${already ? ' (was already deployed)' : ' (deployed now)'}`],
          ['EVM key (x)', `${key.hex} (${keyName}, EVM account ${key.account})`],
          ['chain', chainId.toString()],
          ...(recovery ? ([['recovery', describeRecovery(recovery)]] as [string, string][]) : []),
        ]),
      );
      if (given === undefined)
        out.note(`use this factory from now on: export FROSTNET_EVM_FACTORY=${factory}`);
      if (recovery) out.note(`this account's address depends on its recovery setup: give --address ${at}`);
      return 0;
    } finally {
      provider.destroy();
    }
  },
});

/**
 * --recoverer, --recovery-period and --recovery-delay: all three or none; checked as the contract will, so a
 * setup it refuses costs no gas.
 */
async function recoveryOptions(
  cmd: string,
  v: { recoverer?: string; 'recovery-period'?: string; 'recovery-delay'?: string },
): Promise<AccountRecovery | undefined> {
  const given = [v.recoverer, v['recovery-period'], v['recovery-delay']];
  if (given.every((x) => x === undefined)) return undefined;
  if (given.some((x) => x === undefined))
    throw new UsageError(
      cmd,
      '--recoverer, --recovery-period and --recovery-delay go together: give all three',
    );
  const recoverer = await addressOption(cmd, 'recoverer', v.recoverer!);
  const seconds = (name: string, value: string) => {
    if (!/^[0-9]+$/.test(value)) throw new UsageError(cmd, `--${name} ${value}: expected whole seconds`);
    return BigInt(value);
  };
  const { checkAccountRecovery } = await import('../../chains/evm/recovery.ts');
  let r: AccountRecovery;
  try {
    r = checkAccountRecovery({
      recoverer,
      period: seconds('recovery-period', v['recovery-period']!),
      delay: seconds('recovery-delay', v['recovery-delay']!),
    });
  } catch (e) {
    throw new UsageError(cmd, (e as Error).message);
  }
  if (r.period < MIN_RECOVERY_SECONDS || r.delay < MIN_RECOVERY_SECONDS)
    throw new UsageError(
      cmd,
      `--recovery-period and --recovery-delay must be at least ${MIN_RECOVERY_SECONDS} s (a day): with less, ` +
        'the recoverer could take the account before the group can veto',
    );
  return r;
}

/** --value: whole wei. */
function weiOption(cmd: string, value: string): bigint {
  const wei = parseEth(value);
  if (wei === undefined)
    throw new UsageError(
      cmd,
      /^\s*-/.test(value)
        ? `--value ${value}: must be ≥ 0`
        : `--value ${value}: expected an amount like 0.5eth, 20gwei or a whole number of wei`,
    );
  return wei;
}

/**
 * The typed data of an Execute this daemon was asked for before, with the same account, chain, target, value
 * and call data, that can still be executed (its nonce is the account's next one and its deadline has not
 * passed): asking again with it is the same request at every party, so approvals given to it count.
 */
async function earlierExecute(
  c: Client,
  keyName: string,
  want: {
    account: string;
    chainId: bigint;
    to: string;
    value: bigint;
    data: string;
    nonce: bigint;
    now: bigint;
  },
): Promise<TypedData | undefined> {
  const { decodeTypedData } = await import('../../chains/evm/typed-data.ts');
  const asked = await c.get<RequestView[]>(`/v1/requests?key=${encodeURIComponent(keyName)}`);
  for (const r of asked) {
    if (r.state === 'failed' || !r.asked?.typedData) continue;
    let parsed: TypedData;
    try {
      parsed = JSON.parse(r.asked.typedData) as TypedData;
      const d = decodeTypedData(parsed);
      if (
        d.kind === 'Execute' &&
        d.account.address.toLowerCase() === want.account.toLowerCase() &&
        d.account.chainId === want.chainId &&
        d.fields.to.toLowerCase() === want.to.toLowerCase() &&
        d.fields.value === want.value &&
        d.fields.data.toLowerCase() === want.data &&
        d.fields.nonce === want.nonce &&
        d.fields.deadline > want.now
      )
        return parsed;
    } catch {}
  }
  return undefined;
}

/** --data: 0x-prefixed hex bytes. */
function dataOption(cmd: string, value: string | undefined): string {
  if (value === undefined) return '0x';
  if (!/^0x([0-9a-fA-F]{2})*$/.test(value))
    throw new UsageError(cmd, '--data must be 0x-prefixed hex bytes (call data)');
  return value.toLowerCase();
}

const send = defineCommand({
  name: 'evm send',
  summary: "Sends a call from a key's EVM account: the network signs it, a relayer submits it.",
  usage:
    '--key NAME --to ADDRESS --value AMOUNT [--data HEX] [--deadline SECONDS] --rpc URL [--account N] [--factory ADDRESS | --address ADDRESS] [--relayer-key-file FILE] [--yes] [--wait]',
  details: [
    'Builds the EIP-712 Execute typed data (chain id and nonce read from the chain), has the parties sign it',
    'through the daemon, verifies the signature, and submits it from the relayer (--relayer-key-file or',
    `${RELAYER_KEY_ENV}), who pays the gas. --deadline is how long the signature stays valid, in seconds`,
    `after the chain's latest block (default ${DEFAULT_DEADLINE_SECONDS}). --address names an account whose key was`,
    'rotated to this key; otherwise the account is the one the factory gives this key. It shows the target, the',
    'value in ETH and the decoded call, and refuses before signing when the account holds less than the value',
    'or the call would revert (a gas estimate). When parties hold the action for approval it stops with exit',
    'code 3; the same command asked again (even blocks later) is the same request, with the first deadline',
    'and nonce, and completes once approved; --wait waits for the approvals instead.',
  ].join('\n'),
  daemon: 'request',
  options: {
    ...OPTIONS,
    rpc: RPC_REQUIRED,
    to: { type: 'string', arg: 'ADDRESS', required: true, help: 'the recipient or the contract to call' },
    value: {
      type: 'string',
      arg: 'AMOUNT',
      required: true,
      help: 'how much ETH to send: 0.5eth, 20gwei, or a whole number of wei',
    },
    data: { type: 'string', arg: 'HEX', help: 'call data, 0x-prefixed hex (default none)' },
    deadline: { type: 'string', arg: 'SECONDS', help: 'validity of the signature in seconds (default 3600)' },
    address: {
      type: 'string',
      arg: 'ADDRESS',
      help: 'the account (default: the one --factory gives this key); it wins over --factory',
    },
    yes: YES_OPTION,
    wait: WAIT_OPTION,
  },
  async run({ values, out, client, env }) {
    const cmd = 'evm send';
    const to = await addressOption(cmd, 'to', values.to);
    const value = weiOption(cmd, values.value);
    const data = dataOption(cmd, values.data);
    const seconds = deadlineOption(cmd, values.deadline);
    return withAccount(
      cmd,
      client,
      values,
      env,
      out,
      async ({ c, key, keyName, provider, chainId, at, relayer }) => {
        // An empty relayer could not submit; better to know before the parties sign.
        if ((await onChain('reading the relayer', () => provider.getBalance(relayer.address))) === 0n)
          throw new CliError(
            'INSUFFICIENT_FUNDS',
            `the relayer ${relayer.address} has no ETH on chain ${chainId} to pay for the gas`,
            'fund the relayer account, or give another one',
          );
        const { prepareExecute, submitExecute, readNonce } = await import('../../chains/evm/account.ts');
        const { decodeCall } = await import('../../node/policy/calls.ts');
        const [latest, accountNonce, balance] = await onChain('reading the account', () =>
          Promise.all([provider.getBlock('latest'), readNonce(provider, at), provider.getBalance(at)]),
        );
        const now = BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000));
        // Asked before (and perhaps approved meanwhile)? Then the same typed data: same deadline, same nonce.
        const earlier = await earlierExecute(c, keyName, {
          account: at,
          chainId,
          to,
          value,
          data,
          nonce: accountNonce,
          now,
        });
        const typedData: TypedData =
          earlier ??
          (await onChain('preparing the call', () =>
            prepareExecute(provider, at, { to, value, data, deadline: now + BigInt(seconds) }),
          ));
        const nonce = typedData.message.nonce;
        const call =
          data === '0x'
            ? 'no call data'
            : (decodeCall(data) ?? `call data ${data.slice(0, 74)}${data.length > 74 ? '…' : ''}`);
        out.note(`Execute #${nonce} of account ${at} on chain ${chainId}`);
        out.note(`  to        ${to}`);
        out.note(`  value     ${formatEth(value)} (${value} wei)`);
        out.note(`  call      ${call}`);
        out.note(`  deadline  ${new Date(Number(typedData.message.deadline) * 1000).toISOString()}`);
        if (earlier) out.note('  asked before: the same request, with its first deadline and nonce');
        // Refused here, before anything is signed: an action the account cannot pay for, or a call that reverts.
        if (balance < value)
          throw new CliError(
            'INSUFFICIENT_FUNDS',
            `account ${at} holds ${formatEth(balance)}, less than the ${formatEth(value)} to send; nothing was signed`,
            'fund the account, or send less',
          );
        const gas = await estimateCall(provider, at, to, value, data);
        out.note(`  gas       about ${gas} for the call (the relayer pays)`);
        await confirmSigning(`Execute #${nonce} with key ${keyName}`, [], {
          yes: values.yes === true,
          json: out.json,
        });
        const { sig, book } = await signShown(c, keyName, key, typedData, out, values.wait === true);
        out.note(`submitting from relayer ${relayer.address}`);
        const { hexToBytes } = await import('../../protocol/curve.ts');
        const receipt = await onChain(`execute on ${at}`, () =>
          submitExecute(relayer, typedData, hexToBytes(sig.signature)),
        );
        const result = {
          key: keyName,
          account: at,
          chainId: chainId.toString(),
          nonce,
          to,
          value: value.toString(),
          data,
          deadline: typedData.message.deadline,
          txHash: receipt.hash,
          block: receipt.blockNumber,
          gasUsed: receipt.gasUsed.toString(),
          signature: sig.signature,
          signers: sig.signers,
        };
        out.result(result, () =>
          rows([
            ['tx', receipt.hash],
            ['gas used', receipt.gasUsed.toString()],
            ['block', String(receipt.blockNumber)],
            ['account', `${at} (nonce ${nonce})`],
            [
              'sent',
              `${formatEth(value)} to ${to}${data === '0x' ? '' : ` with ${(data.length - 2) / 2} bytes of call data`}`,
            ],
            ['signed by', sig.signers.map((p) => book.short(p)).join(', ')],
          ]),
        );
        return 0;
      },
    );
  },
});

/** The typed data of --file or --typed-data (exactly one), parsed. */
async function typedDataInput(cmd: string, v: { file?: string; 'typed-data'?: string }): Promise<unknown> {
  if ((v.file === undefined) === (v['typed-data'] === undefined))
    throw new UsageError(cmd, 'give exactly one of --file FILE or --typed-data JSON');
  let text: string;
  let source: string;
  if (v.file !== undefined) {
    const { readFile } = await import('node:fs/promises');
    source = v.file;
    try {
      text = await readFile(v.file, 'utf8');
    } catch (e) {
      throw new CliError(
        'NO_FILE',
        `cannot read ${v.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        'check the --file path',
      );
    }
  } else {
    source = '--typed-data';
    text = v['typed-data']!;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(cmd, `${source} is not JSON (EIP-712 typed data, as eth_signTypedData_v4 takes it)`);
  }
}

const signTyped = defineCommand({
  name: 'evm sign-typed-data',
  summary: "Signs EIP-712 typed data of a ThresholdAccount action with a key's EVM account key.",
  usage: '--key NAME (--file FILE | --typed-data JSON) [--account N] [--wait]',
  details: [
    'The typed data is an Execute, RotateKey or VetoRecovery of a ThresholdAccount, as eth_signTypedData_v4 takes it; each',
    'party decodes it and recomputes the digest before signing. Prints the 64-byte BIP340 signature and the',
    '96-byte encoding the account contract takes (rx || s || ry). When parties hold it for their operators, the',
    'command stops with exit code 3 (asked again it is the same request); --wait waits for their approvals.',
  ].join('\n'),
  daemon: 'request',
  options: {
    key: OPTIONS.key,
    account: OPTIONS.account,
    file: { type: 'string', arg: 'FILE', help: 'a file holding the typed data (JSON)' },
    // Not --json: that is every command's switch for JSON output.
    'typed-data': { type: 'string', arg: 'JSON', help: 'the typed data itself' },
    wait: WAIT_OPTION,
  },
  async run({ values, out, client }) {
    const cmd = 'evm sign-typed-data';
    const typedData = await typedDataInput(cmd, values);
    const { decodeSignableAction } = await import('../../chains/evm/actions.ts');
    // Malformed typed data is refused here, before a daemon is asked.
    const { kind, account } = decodeSignableAction(typedData);
    const { c, key, keyName } = await resolveKey(cmd, client, values);
    const { sig, book } = await signShown(c, keyName, key, typedData, out, values.wait === true);
    out.result(
      {
        key: keyName,
        account: key.account,
        evmKey: key.hex,
        primaryType: kind,
        chainId: account.chainId.toString(),
        verifyingContract: account.address,
        ...sig,
      },
      () =>
        rows([
          ['signature', sig.signature],
          ['encoded (96 B)', sig.encoded],
          ['digest', sig.digest],
          ['action', `${kind} for ${account.address} on chain ${account.chainId}`],
          ['verifies under', `${key.hex} (${keyName}, EVM account ${key.account})`],
          ['signed by', sig.signers.map((p) => book.short(p)).join(', ')],
        ]),
    );
    return 0;
  },
});

const veto = defineCommand({
  name: 'evm veto-recovery',
  summary:
    "Cancels a pending recovery of a key's EVM account: the network signs a VetoRecovery, a relayer submits it.",
  usage:
    '--key NAME --rpc URL (--address ADDRESS | --factory ADDRESS) [--account N] [--deadline SECONDS] [--relayer-key-file FILE] [--wait]',
  details: [
    'For an account deployed with a recovery setup (docs/recovery.md): once the recoverer initiated a recovery,',
    'the group cancels it with a VetoRecovery signed by the group key before the delay ends. Each party signs it',
    'only where its policy lists "VetoRecovery" in evm.actions. Refused before anything is signed when no',
    'recovery is pending.',
  ].join('\n'),
  daemon: 'request',
  options: {
    ...OPTIONS,
    rpc: RPC_REQUIRED,
    deadline: { type: 'string', arg: 'SECONDS', help: 'validity of the signature in seconds (default 3600)' },
    address: {
      type: 'string',
      arg: 'ADDRESS',
      help: 'the account (default: the one --factory gives this key)',
    },
    wait: WAIT_OPTION,
  },
  async run({ values, out, client, env }) {
    const cmd = 'evm veto-recovery';
    const seconds = deadlineOption(cmd, values.deadline);
    return withAccount(
      cmd,
      client,
      values,
      env,
      out,
      async ({ c, key, keyName, provider, chainId, at, relayer }) => {
        const { prepareVetoRecovery, readRecoveryState, submitVetoRecovery } = await import(
          '../../chains/evm/recovery.ts'
        );
        const state = await onChain('reading the recovery', () => readRecoveryState(provider, at));
        if (state.pending === undefined)
          throw new CliError(
            'NOTHING_PENDING',
            `account ${at} on chain ${chainId} has no pending recovery; nothing was signed`,
            'a veto cancels a recovery the recoverer initiated; run it once one is pending',
          );
        const latest = await onChain('reading the chain', () => provider.getBlock('latest'));
        const now = BigInt(latest?.timestamp ?? Math.floor(Date.now() / 1000));
        const typedData = await onChain('preparing the veto', () =>
          prepareVetoRecovery(provider, at, now + BigInt(seconds)),
        );
        out.note(`VetoRecovery #${typedData.message.nonce} of account ${at} on chain ${chainId}`);
        out.note(
          `  cancels the recovery to key 0x${Buffer.from(state.pending.newKey).toString('hex')}, which would complete at ${new Date(Number(state.pending.completesAt) * 1000).toISOString()}`,
        );
        const { sig, book } = await signShown(c, keyName, key, typedData, out, values.wait === true);
        const { hexToBytes } = await import('../../protocol/curve.ts');
        const receipt = await onChain(`vetoRecovery on ${at}`, () =>
          submitVetoRecovery(relayer, typedData, hexToBytes(sig.signature)),
        );
        out.result(
          {
            key: keyName,
            account: at,
            chainId: chainId.toString(),
            txHash: receipt.hash,
            block: receipt.blockNumber,
            gasUsed: receipt.gasUsed.toString(),
            signature: sig.signature,
            signers: sig.signers,
          },
          () =>
            rows([
              ['tx', receipt.hash],
              ['gas used', receipt.gasUsed.toString()],
              ['account', `${at}: its pending recovery is cancelled`],
              ['signed by', sig.signers.map((p) => book.short(p)).join(', ')],
            ]),
        );
        return 0;
      },
    );
  },
});

export const commands: readonly Command[] = [address, deploy, send, signTyped, veto];
