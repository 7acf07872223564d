/**
 * The EVM account key of a group: its own unhardened BIP32 branch of the group key, so that on chain nothing
 * links it to the group's Bitcoin keys, while the network can still sign for it by tweaking its shares.
 */
import { bytesToNumberBE } from '@noble/curves/utils.js';
import { Fn, xOnly } from '../../protocol/curve.ts';
import { derivePath, type ExtendedKey } from '../../protocol/derive.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import type { TweakStep } from '../../protocol/tweak.ts';

/** "EVM" in ASCII (0x45564d), an unhardened index. */
export const EVM_BRANCH = 4544077;

export type EvmKey = { readonly px: Uint8Array; readonly steps: TweakStep[] };

/** The derivation path of EVM account number `account`. */
export function evmKeyPath(account: number): number[] {
  return [EVM_BRANCH, account];
}

/**
 * The x-only key of EVM account `account` and the tweak steps that take the group's shares to it. The last
 * step normalises to even y, so tweakPoint(root.key, steps) is exactly lift_x(px), the key the contract checks.
 */
export function evmKey(root: ExtendedKey, account = 0): EvmKey {
  const derived = derivePath(root, evmKeyPath(account));
  const px = xOnly(derived.key);
  // The on-chain verifier takes keys below the group order only (ecrecover's r); a random key misses that
  // with probability ~2^-128.
  if (bytesToNumberBE(px) >= Fn.ORDER)
    throw new FrostnetError(
      'INVALID_INPUT',
      `EVM account ${account}: key not usable on chain, use another account`,
    );
  return { px, steps: [...derived.steps, { evenY: true, add: 0n }] };
}
