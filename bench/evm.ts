/**
 * Gas on anvil with the network as the signer: every signature comes from the daemons signing EIP-712 typed
 * data (the path a wallet uses), never from a whole key. Mirrors chains/evm/gas.ts measureGas, whose own
 * signer signs a bare random digest, which the daemons rightly will not do for an account key.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import {
  Contract,
  ContractFactory,
  getAddress,
  getBytes,
  hexlify,
  JsonRpcProvider,
  parseEther,
} from 'ethers';
import { walletRoot } from '../chains/bitcoin/keys.ts';
import {
  deployAccount,
  deployFactory,
  encodeSignature,
  predictAccount,
  prepareExecute,
  submitExecute,
} from '../chains/evm/account.ts';
import { compiledContract } from '../chains/evm/compile.ts';
import { evmKey } from '../chains/evm/keys.ts';
import type { Bip340Signer } from '../chains/evm/signer.ts';
import { decodeTypedData, type TypedData } from '../chains/evm/typed-data.ts';
import { bytesToHex, hexToBytes } from '../protocol/curve.ts';
import type { Cluster } from './cluster.ts';
import type { KeyInfo } from './network.ts';

const ACCOUNT = 0;

/**
 * A Bip340Signer backed by the daemons. A party signs typed data it can decode, not a bare hash, so the caller
 * first hands over the typed data (`expect`); sign(digest) then asks the network to sign exactly that typed
 * data and refuses any digest it was not given the typed data of.
 */
export function networkSigner(c: Cluster, via: number, key: KeyInfo) {
  const px = evmKey(walletRoot(hexToBytes(key.groupKey), hexToBytes(key.chainCode)), ACCOUNT).px;
  const expected = new Map<string, TypedData>();
  const signer: Bip340Signer & { expect(td: TypedData): Uint8Array } = {
    px,
    expect(td) {
      const digest = decodeTypedData(td).digest;
      expected.set(bytesToHex(digest), td);
      return digest;
    },
    async sign(digest) {
      const td = expected.get(bytesToHex(digest));
      if (!td) throw new Error('network signer: no typed data for this digest');
      expected.delete(bytesToHex(digest));
      const r = await c.must(via, `/v1/keys/${key.name}/sign`, { typedData: td, account: ACCOUNT });
      const sig = hexToBytes(r.signatures[0]);
      if (!schnorr.verify(sig, digest, px)) throw new Error('network signer: signature does not verify');
      return sig;
    },
  };
  return signer;
}

export type GasReport = { verification: number; firstEthTransfer: number; ethTransfer: number };

const word = (bytes: Uint8Array, i: number): bigint => BigInt(hexlify(bytes.subarray(32 * i, 32 * i + 32)));

/** Deploys the account of the key's EVM account 0, sends two ETH transfers through it, measures the verifier. */
export async function measureNetworkGas(
  rpcUrl: string,
  c: Cluster,
  via: number,
  key: KeyInfo,
): Promise<GasReport> {
  const signer = networkSigner(c, via, key);
  const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1 });
  try {
    const payer = await provider.getSigner(0);
    const recipient = getAddress(await (await provider.getSigner(1)).getAddress());
    const factory = await deployFactory(payer);
    const account = predictAccount(factory, signer.px);
    await (await payer.sendTransaction({ to: account, value: parseEther('1') })).wait();
    await deployAccount(payer, factory, signer.px);
    let last: { digest: Uint8Array; signature: Uint8Array } | undefined;
    const transfer = async () => {
      const deadline = BigInt((await provider.getBlock('latest'))?.timestamp ?? 0) + 3600n;
      const td = await prepareExecute(provider, account, {
        to: recipient,
        value: parseEther('0.001'),
        deadline,
      });
      const digest = signer.expect(td);
      const signature = await signer.sign(digest);
      last = { digest, signature };
      return Number((await submitExecute(payer, td, signature)).gasUsed);
    };
    // The first transfer also sets the account's nonce slot from zero; the second is the steady state.
    const firstEthTransfer = await transfer();
    const ethTransfer = await transfer();

    // One verification as the EVM counts it inside a call, on the network's last signature.
    const { abi, bytecode } = compiledContract('Bip340Harness');
    const deployed = await new ContractFactory(abi, bytecode, payer).deploy();
    await deployed.waitForDeployment();
    const harness = new Contract(await deployed.getAddress(), abi, provider);
    const encoded = getBytes(encodeSignature(last!.signature));
    const [ok, verification] = (await harness.measure(
      BigInt(hexlify(signer.px)),
      last!.digest,
      word(encoded, 0),
      word(encoded, 1),
      word(encoded, 2),
    )) as [boolean, bigint];
    if (!ok) throw new Error('the verifier refuses the network signature');
    return { verification: Number(verification), firstEthTransfer, ethTransfer };
  } finally {
    provider.destroy();
  }
}
