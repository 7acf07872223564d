/**
 * A key's recovery policy on the command line: `--recovery KEY,older=N` (repeatable, one leaf each) or
 * `--recovery-file FILE` (the policy's JSON, as chains/bitcoin/recovery.ts stores it), checked here before any
 * ceremony; and the wallet of a key as its daemon reports it, recovery policy included. The chain modules load
 * only when a command needs them.
 */
import { readFile } from 'node:fs/promises';
import type { RecoveryPolicyJson } from '../chains/bitcoin/recovery.ts';
import { CliError, UsageError } from './output.ts';

/** What the wallet of a key needs of the daemon's key view (cli/keyview.ts KeyView has it all). */
export type KeyWalletData = {
  readonly name: string;
  /** 33-byte compressed group key, hex. */
  readonly groupKey: string;
  /** 32-byte chain code, hex. */
  readonly chainCode: string;
  readonly recovery?: RecoveryPolicyJson;
};

export const RECOVERY_OPTIONS = {
  recovery: {
    type: 'string',
    multiple: true,
    arg: 'KEY,older=N',
    help: 'a recovery leaf: after N blocks without moving, KEY ([fingerprint/path]xpub, or an x-only key) can spend',
  },
  'recovery-file': {
    type: 'string',
    arg: 'FILE',
    help: 'the recovery policy as JSON: {"version":1,"leaves":[{"key":"[fp/path]xpub...","older":N}]}',
  },
} as const;

/** One `--recovery` value: the key expression, then older=N after the last comma. */
function leafSpec(cmd: string, spec: string): { key: string; older: number } {
  const m = /^(.+),\s*older=(\d+)\s*$/.exec(spec.trim());
  if (!m) throw new UsageError(cmd, `--recovery ${spec}: expected KEY,older=N (N in blocks)`);
  return { key: m[1]!.trim(), older: Number(m[2]) };
}

/** The policy the options give, checked and canonical, or undefined when neither is given. */
export async function recoveryOption(
  cmd: string,
  v: { recovery?: string[]; 'recovery-file'?: string },
): Promise<RecoveryPolicyJson | undefined> {
  const specs = v.recovery ?? [];
  const file = v['recovery-file'];
  if (specs.length === 0 && file === undefined) return undefined;
  if (specs.length > 0 && file !== undefined)
    throw new UsageError(
      cmd,
      'give the recovery policy as --recovery leaves or as --recovery-file, not both',
    );
  let json: unknown;
  if (file !== undefined) {
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new UsageError(cmd, `--recovery-file ${file}: ${(e as Error).message}`);
    }
  } else json = { version: 1, leaves: specs.map((s) => leafSpec(cmd, s)) };
  const { parseRecoveryPolicy, recoveryPolicyJson } = await import('../chains/bitcoin/recovery.ts');
  try {
    return recoveryPolicyJson(parseRecoveryPolicy(json));
  } catch (e) {
    throw new UsageError(cmd, (e as Error).message);
  }
}

/** The key's wallet on `network` (already the key's own): its root and the recovery policy it holds. */
export async function keyWallet(key: KeyWalletData, network: string) {
  const [{ walletRoot }, { parseNetwork }, { parseRecoveryPolicy }, { hexToBytes }] = await Promise.all([
    import('../chains/bitcoin/keys.ts'),
    import('../chains/bitcoin/network.ts'),
    import('../chains/bitcoin/recovery.ts'),
    import('../protocol/curve.ts'),
  ]);
  const root = walletRoot(hexToBytes(key.groupKey), hexToBytes(key.chainCode));
  let recovery: ReturnType<typeof parseRecoveryPolicy> | undefined;
  try {
    recovery = key.recovery === undefined ? undefined : parseRecoveryPolicy(key.recovery);
  } catch (e) {
    throw new CliError(
      'BAD_RESPONSE',
      `the daemon sent key ${key.name} with a bad recovery policy: ${(e as Error).message}`,
      'check the daemon version',
    );
  }
  return { root, network: parseNetwork(network), ...(recovery && { recovery }) };
}

/** The recovery path of a key for people, one line per leaf (none for a key without one). */
export async function recoveryLines(key: KeyWalletData, network: string): Promise<string[]> {
  if (key.recovery === undefined) return [];
  const { describeRecovery } = await import('../chains/bitcoin/recovery.ts');
  const wallet = await keyWallet(key, network);
  return describeRecovery(wallet.recovery!, wallet.network);
}
