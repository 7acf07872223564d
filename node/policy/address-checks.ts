/**
 * The chain decoders a policy file needs to check its addresses (bitcoinjs-lib for Bitcoin destinations, ethers
 * for EIP-55 checksums), loaded only when a file names such an address: a daemon whose policy names none never
 * holds either library for it (docs/performance.md, "Idle RSS").
 */
import type { NetworkName } from '../../chains/bitcoin/network-names.ts';

export type AddressChecks = {
  /** The scriptPubKey `address` pays to on `network`; throws when it is not an address there. */
  outputScript(address: string, network: NetworkName): Uint8Array;
  /** Whether a 0x address of 20 bytes in mixed case carries a correct EIP-55 checksum. */
  checksumOk(address: string): boolean;
};

let loaded: Promise<AddressChecks> | undefined;

/** The checks, their libraries imported on first use only, once. */
export function loadAddressChecks(): Promise<AddressChecks> {
  loaded ??= (async () => {
    // address.ts, not bitcoinjs-lib alone: it installs the curve backend that P2TR addresses need.
    const [{ addressScript }, { getAddress }] = await Promise.all([
      import('../../chains/bitcoin/address.ts'),
      import('ethers'),
    ]);
    return {
      outputScript: (a, network) => addressScript(a, network, 'policy destination'),
      checksumOk: (a) => {
        try {
          getAddress(a);
          return true;
        } catch {
          return false;
        }
      },
    };
  })();
  return loaded;
}
