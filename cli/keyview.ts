/**
 * A key as the control API shows it, checked on arrival, and what the CLI derives from it with the pure chain
 * code (no secret is involved): the Taproot address of the first receive key, the EVM account key, and the key a
 * signature must verify under. The chain modules are loaded only when needed, to keep the CLI quick to start.
 */
import type { Point } from '../protocol/curve.ts';
import type { Scheme } from '../protocol/sign.ts';
import { CliError } from './output.ts';

export type KeyView = {
  name: string;
  createdAt: string;
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
    Number.isSafeInteger(k.epoch);
  if (!ok) throw new CliError('BAD_RESPONSE', 'the daemon sent a malformed key', 'check the daemon version');
  return k as KeyView;
}

export type WalletInfo = {
  network: string;
  /** P2TR address of receive key 0 (path m/0/0). */
  address: string;
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
  const [{ walletRoot, xpub }, { walletAddress }, { parseNetwork }, { evmKey }, { bytesToHex, hexToBytes }] =
    await Promise.all([
      import('../chains/bitcoin/keys.ts'),
      import('../chains/bitcoin/address.ts'),
      import('../chains/bitcoin/network.ts'),
      import('../chains/evm/keys.ts'),
      import('../protocol/curve.ts'),
    ]);
  const net = parseNetwork(network);
  const root = walletRoot(hexToBytes(k.groupKey), hexToBytes(k.chainCode));
  const info: WalletInfo = {
    network: net,
    address: walletAddress(root, { change: false, index: 0 }, net),
    xpub: xpub(root, net),
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
 * The key a signature for `path` (unhardened BIP32 steps) verifies under, tweaked for Taproot when asked, as
 * the parties derive it; hex is x-only for bip340 and compressed for rfc9591.
 */
export async function verifyingKey(
  k: KeyView,
  scheme: Scheme,
  path: readonly number[],
  taproot: boolean,
): Promise<{ point: Point; hex: string }> {
  const [{ hexToBytes, bytesToHex, parsePoint, xOnly }, { derivePath }, { taprootStep, tweakPoint }] =
    await Promise.all([
      import('../protocol/curve.ts'),
      import('../protocol/derive.ts'),
      import('../protocol/tweak.ts'),
    ]);
  const root = { key: parsePoint(hexToBytes(k.groupKey), 'group key'), chainCode: hexToBytes(k.chainCode) };
  const derived = derivePath(root, path);
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
