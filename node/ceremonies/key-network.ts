/**
 * The Bitcoin network of a key is a property its members agree on: chosen at keygen, carried by every invite,
 * and bound into each ceremony's context, so that a party told another network than the rest runs another
 * ceremony than theirs and fails instead of storing it. A key made before the network was stored has none
 * (undefined here, "" on the wire) until its members make a new one.
 */
import { DEFAULT_NETWORK, type NetworkName, parseNetwork } from '../../chains/bitcoin/network-names.ts';
import { FrostnetError } from '../../protocol/errors.ts';

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

/**
 * The key attributes a ceremony context binds (protocol/context.ts). None for mainnet or no network stored, so
 * that the context of such a key is the one parties from before this field compute: they can still take part.
 */
export const keyAttributes = (network: NetworkName | undefined): Uint8Array | undefined =>
  network === undefined || network === DEFAULT_NETWORK
    ? undefined
    : new TextEncoder().encode(`frostnet/key-attributes/v1 network=${network}`);
