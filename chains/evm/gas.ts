/**
 * Gas measurements on a running chain, for the benchmark: one BIP340 verification and a steady-state ETH
 * transfer through a ThresholdAccount. The gas does not depend on who signs or on the group's threshold; the
 * default signer is a throwaway single key, and the network can pass its own (the transfers then go through its
 * signTypedData when it has one).
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
import { Fn } from '../../protocol/curve.ts';
import {
  deployAccount,
  deployFactory,
  encodeSignature,
  predictAccount,
  prepareExecute,
  submitExecute,
} from './account.ts';
import { compiledContract } from './compile.ts';
import { type Bip340Signer, signAction, singleKeySigner } from './signer.ts';
import { decodeExecute } from './typed-data.ts';

export type GasReport = {
  /** One Bip340.verify as the EVM counts it inside a call (gasleft() around it): no base cost, no calldata. */
  readonly verification: bigint;
  /**
   * gasUsed of the whole transaction (base cost and calldata included) of an ETH transfer through the account
   * to an existing account, once the nonce slot is non-zero: the account's second transfer.
   */
  readonly ethTransfer: bigint;
  /** The same for the account's first transfer, which also sets the nonce slot from zero. */
  readonly firstEthTransfer: bigint;
  /** The hash of the steady-state transfer, to trace it (gas-breakdown.ts). */
  readonly ethTransferTx: string;
};

const word = (bytes: Uint8Array, i: number): bigint => BigInt(hexlify(bytes.subarray(32 * i, 32 * i + 32)));

/** Measures on the chain at `rpcUrl`, paying from its first two unlocked accounts (anvil's dev accounts). */
export async function measureGas(
  rpcUrl: string,
  signer: Bip340Signer = singleKeySigner(Fn.fromBytes(schnorr.utils.randomSecretKey())),
): Promise<GasReport> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1 });
  try {
    const payer = await provider.getSigner(0);
    const recipient = getAddress(await (await provider.getSigner(1)).getAddress());

    const factory = await deployFactory(payer);
    const account = predictAccount(factory, signer.px);
    await (await payer.sendTransaction({ to: account, value: parseEther('1') })).wait();
    await deployAccount(payer, factory, signer.px);
    // The signature of the last transfer (over its EIP-712 digest) also serves the verification measurement, so
    // a network signer is only ever asked to sign typed data.
    let signed: { digest: Uint8Array; signature: Uint8Array } | undefined;
    const transfer = async () => {
      const deadline = BigInt((await provider.getBlock('latest'))?.timestamp ?? 0) + 3600n;
      const td = await prepareExecute(provider, account, {
        to: recipient,
        value: parseEther('0.001'),
        deadline,
      });
      const signature = await signAction(signer, td);
      signed = { digest: decodeExecute(td).digest, signature };
      return submitExecute(payer, td, signature);
    };
    const firstEthTransfer = (await transfer()).gasUsed;
    const { gasUsed: ethTransfer, hash: ethTransferTx } = await transfer();

    const { abi, bytecode } = compiledContract('Bip340Harness');
    const deployed = await new ContractFactory(abi, bytecode, payer).deploy();
    await deployed.waitForDeployment();
    const harness = new Contract(await deployed.getAddress(), abi, provider);
    const encoded = getBytes(encodeSignature(signed!.signature));
    const [ok, verification] = (await harness.getFunction('measure')(
      BigInt(hexlify(signer.px)),
      signed!.digest,
      word(encoded, 0),
      word(encoded, 1),
      word(encoded, 2),
    )) as [boolean, bigint];
    if (!ok) throw new Error('gas measurement: the signer produced a signature the verifier refuses');
    return { verification, ethTransfer, firstEthTransfer, ethTransferTx };
  } finally {
    provider.destroy();
  }
}
