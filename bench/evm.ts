/**
 * Gas on anvil with the network as the signer: every signature comes from the daemons signing EIP-712 typed
 * data (the path a wallet uses), never from a whole key; chains/evm/gas.ts measureGas does the measuring.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { walletRoot } from '../chains/bitcoin/keys.ts';
import { measureGas } from '../chains/evm/gas.ts';
import { evmKey } from '../chains/evm/keys.ts';
import type { Bip340Signer } from '../chains/evm/signer.ts';
import { decodeTypedData } from '../chains/evm/typed-data.ts';
import { hexToBytes } from '../protocol/curve.ts';
import type { Cluster } from './cluster.ts';
import type { KeyInfo } from './network.ts';

const ACCOUNT = 0;

/** A Bip340Signer backed by the daemons: a party signs typed data it can decode, never a bare hash. */
export function networkSigner(c: Cluster, via: number, key: KeyInfo): Bip340Signer {
  const px = evmKey(walletRoot(hexToBytes(key.groupKey), hexToBytes(key.chainCode)), ACCOUNT).px;
  return {
    px,
    async sign() {
      throw new Error('network signer: an EVM account key signs typed data only');
    },
    async signTypedData(td) {
      const r = await c.must(via, `/v1/keys/${key.name}/sign`, { typedData: td, account: ACCOUNT });
      const sig = hexToBytes(r.signatures[0]);
      if (!schnorr.verify(sig, decodeTypedData(td).digest, px))
        throw new Error('network signer: signature does not verify');
      return sig;
    },
  };
}

export type GasReport = { verification: number; firstEthTransfer: number; ethTransfer: number };

/** Deploys the account of the key's EVM account 0, sends two ETH transfers through it, measures the verifier. */
export async function measureNetworkGas(
  rpcUrl: string,
  c: Cluster,
  via: number,
  key: KeyInfo,
): Promise<GasReport> {
  const g = await measureGas(rpcUrl, networkSigner(c, via, key));
  return {
    verification: Number(g.verification),
    firstEthTransfer: Number(g.firstEthTransfer),
    ethTransfer: Number(g.ethTransfer),
  };
}
