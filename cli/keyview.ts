/**
 * A key as the control API shows it, checked on arrival, and what the CLI derives from it with the pure chain
 * code (no secret is involved): the Taproot address of the first receive key, the EVM account key, and the key a
 * signature must verify under. The chain modules are loaded only when needed, to keep the CLI quick to start.
 */
import type { RecoveryPolicyJson } from '../chains/bitcoin/recovery.ts';
import type { Point } from '../protocol/curve.ts';
import type { Scheme } from '../protocol/sign.ts';
import { CliError } from './output.ts';

export type KeyView = {
  name: string;
  createdAt: string;
  /** The key's Bitcoin network, agreed at keygen (absent for keys, or from daemons, that predate it). */
  network?: string;
  /** The key's recovery policy, agreed at keygen; absent for a key without one. */
  recovery?: RecoveryPolicyJson;
  state: 'active' | 'pending';
  /** 33-byte compressed group key, hex. */
  groupKey: string;
  /** 32-byte BIP32 chain code agreed in the DKG, hex. */
  chainCode: string;
  threshold: number;
  members: string[];
  epoch: number;
  pendingEpoch?: number;
};

const isHex = (v: unknown, bytes: number): v is string =>
  typeof v === 'string' && v.length === bytes * 2 && /^[0-9a-f]*$/i.test(v);

/** Checks the daemon's answer before anything is derived from it. */
export function asKeyView(v: unknown): KeyView {
  const k = v as Partial<KeyView> | null;
  const ok =
    k !== null &&
    typeof k === 'object' &&
    typeof k.name === 'string' &&
    (k.state === 'active' || k.state === 'pending') &&
    isHex(k.groupKey, 33) &&
    isHex(k.chainCode, 32) &&
    Number.isSafeInteger(k.threshold) &&
    Array.isArray(k.members) &&
    k.members.every((m) => typeof m === 'string') &&
    Number.isSafeInteger(k.epoch) &&
    (k.network === undefined || typeof k.network === 'string') &&
    (k.recovery === undefined || (typeof k.recovery === 'object' && k.recovery !== null));
  if (!ok) throw new CliError('BAD_RESPONSE', 'the daemon sent a malformed key', 'check the daemon version');
  return k as KeyView;
}

/**
 * The network a command works on for key `k`: the key's own. A --network that names another is refused: the
 * parties sign only for the key's network, and addresses of another would not be the key's. A key with no
 * network stored (made before it was) takes --network, mainnet by default, as it always did.
 */
export function keyNetwork(k: KeyView, given: string | undefined, cmd: string): string {
  if (k.network === undefined) return given?.trim().toLowerCase() ?? 'mainnet';
  const own = k.network;
  if (given !== undefined && given.trim().toLowerCase() !== own)
    throw new CliError(
      'INVALID_INPUT',
      `${cmd}: key ${k.name} is a ${own} key, not ${given}`,
      `leave out --network; every command uses the key's own network (${own})`,
    );
  return own;
}

export type WalletInfo = {
  network: string;
  /** P2TR address of receive key 0 (path m/0/0), committing to the key's recovery tree if it has one. */
  address: string;
  /** The key's recovery path, one line per leaf; absent for a key without one. */
  recovery?: string[];
  /** The BIP32 extended public key of the wallet root. */
  xpub: string;
  /** x-only key of EVM account 0, hex. */
  evmKey?: string;
  /** The counterfactual account address, when a factory address is known. */
  evmAccount?: string;
  evmFactory?: string;
};

/** Bitcoin wallet data of a key and, when the EVM key is usable, its EVM account key. */
export async function walletInfo(k: KeyView, network: string, factory?: string): Promise<WalletInfo> {
  const [{ xpub }, { descriptorAddress }, { evmKey }, { bytesToHex }, { keyWallet, recoveryLines }] =
    await Promise.all([
      import('../chains/bitcoin/keys.ts'),
      import('../chains/bitcoin/address.ts'),
      import('../chains/evm/keys.ts'),
      import('../protocol/curve.ts'),
      import('./recovery.ts'),
    ]);
  const wallet = await keyWallet(k, network);
  const { root, network: net } = wallet;
  const recovery = await recoveryLines(k, net);
  const info: WalletInfo = {
    network: net,
    address: descriptorAddress(wallet, { change: false, index: 0 }),
    xpub: xpub(root, net),
    ...(recovery.length > 0 && { recovery }),
  };
  let px: Uint8Array | undefined;
  try {
    px = evmKey(root, 0).px;
  } catch {
    // About 2^-128 of keys are not usable on chain; such a key simply has no EVM account 0.
  }
  if (px !== undefined) {
    info.evmKey = bytesToHex(px);
    if (factory !== undefined) {
      const { predictAccount } = await import('../chains/evm/account.ts');
      info.evmFactory = factory;
      info.evmAccount = predictAccount(factory, px);
    }
  }
  return info;
}

/**
 * The key a signature verifies under, as the parties derive it: a raw message's below the raw-message branch
 * (`path`, unhardened steps, tweaked for Taproot when asked), a drill's the drill key (chains/domains.ts); hex
 * is x-only for bip340 and compressed for rfc9591.
 */
export async function verifyingKey(
  k: KeyView,
  scheme: Scheme,
  domain: 'raw' | 'drill',
  path: readonly number[],
  taproot: boolean,
): Promise<{ point: Point; hex: string }> {
  const [
    { hexToBytes, bytesToHex, parsePoint, xOnly },
    { derivePath },
    { taprootStep, tweakPoint },
    { DRILL_PATH, rawMessagePath },
  ] = await Promise.all([
    import('../protocol/curve.ts'),
    import('../protocol/derive.ts'),
    import('../protocol/tweak.ts'),
    import('../chains/domains.ts'),
  ]);
  const root = { key: parsePoint(hexToBytes(k.groupKey), 'group key'), chainCode: hexToBytes(k.chainCode) };
  const derived = derivePath(root, domain === 'drill' ? DRILL_PATH : rawMessagePath(path));
  const steps = taproot ? [...derived.steps, taprootStep(derived.key)] : derived.steps;
  const point = tweakPoint(root.key, steps);
  return { point, hex: bytesToHex(scheme === 'bip340' ? xOnly(point) : point.toBytes(true)) };
}

/** Whether `signature` (hex) on `message` (hex) verifies under `key` with `scheme`. */
export async function verifies(
  scheme: Scheme,
  key: Point,
  message: string,
  signature: string,
): Promise<boolean> {
  const [{ verifySignature }, { hexToBytes }] = await Promise.all([
    import('../protocol/sign.ts'),
    import('../protocol/curve.ts'),
  ]);
  if (!/^([0-9a-f]{2})*$/i.test(signature)) return false;
  return verifySignature(scheme, key, hexToBytes(message), hexToBytes(signature));
}
