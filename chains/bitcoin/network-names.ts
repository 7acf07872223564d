/**
 * The Bitcoin networks a key can live on, by name. Free of bitcoinjs-lib, so that what only checks or stores a
 * network name (the key store, the control API) does not load it; network.ts maps the names to parameters.
 */
import { FrostnetError } from '../../protocol/errors.ts';

export const NETWORK_NAMES = ['mainnet', 'testnet', 'signet', 'regtest'] as const;

export type NetworkName = (typeof NETWORK_NAMES)[number];

/** BIP32 version bytes of an extended public key: xpub on mainnet, tpub on every test network. */
export const XPUB_VERSIONS: Readonly<Record<NetworkName, number>> = {
  mainnet: 0x0488b21e,
  testnet: 0x043587cf,
  signet: 0x043587cf,
  regtest: 0x043587cf,
};

/** The network of a key made before the network was a property of the key. */
export const DEFAULT_NETWORK: NetworkName = 'mainnet';

export function isNetworkName(name: unknown): name is NetworkName {
  return typeof name === 'string' && (NETWORK_NAMES as readonly string[]).includes(name);
}

/** Parses a network name as a user types it. */
export function parseNetwork(name: string): NetworkName {
  const n = typeof name === 'string' ? name.trim().toLowerCase() : name;
  if (!isNetworkName(n))
    throw new FrostnetError(
      'INVALID_INPUT',
      `unknown Bitcoin network "${name}": use one of ${NETWORK_NAMES.join(', ')}`,
    );
  return n;
}
