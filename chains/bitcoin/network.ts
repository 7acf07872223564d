/** The Bitcoin networks a wallet can live on, mapped to bitcoinjs-lib parameters. */
import { type Network, networks } from 'bitcoinjs-lib';
import { isNetworkName, type NetworkName, parseNetwork } from './network-names.ts';

export {
  DEFAULT_NETWORK,
  isNetworkName,
  NETWORK_NAMES,
  type NetworkName,
  parseNetwork,
} from './network-names.ts';

// Signet shares testnet's address prefixes and extended key versions.
const PARAMS: Readonly<Record<NetworkName, Network>> = {
  mainnet: networks.bitcoin,
  testnet: networks.testnet,
  signet: networks.testnet,
  regtest: networks.regtest,
};

export function bitcoinNetwork(name: NetworkName): Network {
  if (!isNetworkName(name)) parseNetwork(name);
  return PARAMS[name];
}
