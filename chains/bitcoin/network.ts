/** The Bitcoin networks a wallet can live on, mapped to bitcoinjs-lib parameters. */
import { type Network, networks } from 'bitcoinjs-lib';
import { FrostnetError } from '../../protocol/errors.ts';

export type NetworkName = 'mainnet' | 'testnet' | 'signet' | 'regtest';

// Signet shares testnet's address prefixes and extended key versions.
const PARAMS: Readonly<Record<NetworkName, Network>> = {
  mainnet: networks.bitcoin,
  testnet: networks.testnet,
  signet: networks.testnet,
  regtest: networks.regtest,
};

export const NETWORK_NAMES = Object.keys(PARAMS) as readonly NetworkName[];

export function isNetworkName(name: unknown): name is NetworkName {
  return typeof name === 'string' && Object.hasOwn(PARAMS, name);
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

export function bitcoinNetwork(name: NetworkName): Network {
  if (!isNetworkName(name)) parseNetwork(name);
  return PARAMS[name];
}
