/**
 * The Bitcoin network of a key, and its recovery policy, are properties its members agree on: chosen at keygen,
 * carried by every invite, and bound into each ceremony's context, so that a party told another network (or
 * another recovery tree) than the rest runs another ceremony than theirs and fails instead of storing it. A key
 * made before the network was stored has none (undefined here, "" on the wire) until its members make a new
 * one; a key without a recovery policy has none ("" on the wire, which is also what older peers send).
 */
import { DEFAULT_NETWORK, type NetworkName, parseNetwork } from '../../chains/bitcoin/network-names.ts';
import {
  parseRecoveryPolicy,
  type RecoveryPolicyJson,
  recoveryPolicyJson,
} from '../../chains/bitcoin/recovery.ts';
import { errorMessage, FrostnetError } from '../../protocol/errors.ts';

/** The network an invite or answer names; "" or absent: none stored (a key or party from before it was). */
export function wireNetwork(v: string | undefined, from: string): NetworkName | undefined {
  if (v === undefined || v === '') return undefined;
  try {
    return parseNetwork(v);
  } catch {
    throw new FrostnetError(
      'INVALID_INPUT',
      `${from} names an unknown Bitcoin network ${JSON.stringify(v)}`,
      [from],
    );
  }
}

/** A recovery policy (its JSON, or JSON text) checked and in the one canonical form every member stores. */
export function canonicalRecovery(v: unknown): RecoveryPolicyJson {
  return recoveryPolicyJson(parseRecoveryPolicy(typeof v === 'string' ? JSON.parse(v) : v));
}

/** The recovery policy an invite or answer names as JSON text; "" or absent: none. */
export function wireRecovery(v: string | undefined, from: string): RecoveryPolicyJson | undefined {
  if (v === undefined || v === '') return undefined;
  try {
    return canonicalRecovery(v);
  } catch (e) {
    throw new FrostnetError(
      'INVALID_INPUT',
      `${from} names an invalid recovery policy (${errorMessage(e)})`,
      [from],
    );
  }
}

/**
 * A policy the key store read back: it must parse, and be in the canonical form a party writes (what its
 * ceremonies bind), or the store is corrupt. Run on every stored key when the daemon starts.
 */
export function checkStoredRecovery(keyName: string, stored: RecoveryPolicyJson): void {
  let canonical: string;
  try {
    canonical = recoveryText(canonicalRecovery(stored));
  } catch (e) {
    throw new FrostnetError('STORE_CORRUPT', `key ${keyName}: bad recovery policy (${errorMessage(e)})`);
  }
  if (canonical !== recoveryText(stored))
    throw new FrostnetError('STORE_CORRUPT', `key ${keyName}: its recovery policy is not in canonical form`);
}

/** The wire form of a key's recovery policy: its canonical JSON text, "" for none. */
export const recoveryText = (recovery: RecoveryPolicyJson | undefined): string =>
  recovery === undefined ? '' : JSON.stringify(recovery);

/**
 * The key attributes a ceremony context binds (protocol/context.ts). None for mainnet (or no network stored)
 * without a recovery policy, so that the context of such a key is the one parties from before these fields
 * compute: they can still take part. A recovery policy is bound in its canonical JSON, last (a network name has
 * no space in it), so that a member told another tree, or none, computes another context.
 */
export function keyAttributes(
  network: NetworkName | undefined,
  recovery?: RecoveryPolicyJson,
): Uint8Array | undefined {
  const parts = [
    ...(network === undefined || network === DEFAULT_NETWORK ? [] : [`network=${network}`]),
    ...(recovery === undefined ? [] : [`recovery=${recoveryText(recovery)}`]),
  ];
  return parts.length === 0
    ? undefined
    : new TextEncoder().encode(`frostnet/key-attributes/v1 ${parts.join(' ')}`);
}
