/**
 * Gas on anvil for the accounts of 2-of-3, 3-of-5 and 7-of-10 group keys, side by side, every signature made
 * by FROST threshold signing, never by a whole key: by the daemons signing EIP-712 typed data (the path a
 * wallet uses) when the bench has the group's key on the network, else by this project's protocol/ DKG and
 * signing run in this process. chains/evm/gas.ts measureGas does the measuring, and the steady-state transfer
 * is traced into its parts (chains/evm/gas-breakdown.ts; anvil runs with --steps-tracing for that).
 *
 * `node bench/evm.ts` runs this part alone, with in-process signers, and prints its rows (no JSON written).
 */
import { fileURLToPath } from 'node:url';
import { schnorr } from '@noble/curves/secp256k1.js';
import { Contract, getAddress, hexlify, JsonRpcProvider, parseEther, toBeHex } from 'ethers';
import { walletRoot } from '../chains/bitcoin/keys.ts';
import { deployFactory, predictAccount, prepareExecute, submitExecute } from '../chains/evm/account.ts';
import { compiledContract } from '../chains/evm/compile.ts';
import { measureGas } from '../chains/evm/gas.ts';
import { gasBreakdown } from '../chains/evm/gas-breakdown.ts';
import { evmKey } from '../chains/evm/keys.ts';
import {
  decodeVetoRecovery,
  deployRecoverableAccount,
  finalizeRecovery,
  initiateRecovery,
  predictRecoverableAccount,
  prepareVetoRecovery,
  submitVetoRecovery,
} from '../chains/evm/recovery.ts';
import { type Bip340Signer, signAction } from '../chains/evm/signer.ts';
import { decodeTypedData } from '../chains/evm/typed-data.ts';
import { hexToBytes } from '../protocol/curve.ts';
import { groupKey } from '../protocol/keys.ts';
import { startAnvil } from '../test/helpers/anvil.ts';
import { makeKey, partyNames, signWith } from '../test/helpers/keys.ts';
import { type Group, label } from './baseline.ts';
import type { Cluster } from './cluster.ts';
import type { GasReport, GroupGas, RecoveryGas } from './gas-report.ts';
import type { KeyInfo } from './network.ts';

const ACCOUNT = 0;
/** The anvil flag that makes debug_traceTransaction return the struct logs the breakdown reads. */
export const ANVIL_TRACING = ['--steps-tracing'];

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

/**
 * A Bip340Signer that is a t-of-n FROST group in this process: a fresh key from the project's DKG, and each
 * signature from its first t members (commitments, shares, aggregation) under the evmKey tweak steps, as the
 * daemons would sign it.
 */
export function inProcessSigner(g: Group): Bip340Signer {
  const shares = makeKey(g.t, g.n);
  const members = partyNames(g.n);
  const group = shares.get(members[0])!.group;
  const { px, steps } = evmKey({ key: groupKey(group), chainCode: group.chainCode }, ACCOUNT);
  const signers = members.slice(0, g.t);
  return {
    px,
    sign: async (digest) => signWith(shares, signers, { scheme: 'bip340', message: digest, steps }),
  };
}

/** Deploys each group's account (EVM account 0), sends two ETH transfers through it, measures the verifier. */
export async function measureGroupsGas(
  rpcUrl: string,
  groups: readonly Group[],
  signerOf: (g: Group) => { signer: Bip340Signer; signedBy: GroupGas['signedBy'] },
): Promise<GasReport> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1 });
  try {
    const out: GroupGas[] = [];
    for (const g of groups) {
      const { signer, signedBy } = signerOf(g);
      const gas = await measureGas(rpcUrl, signer);
      const { parts } = await gasBreakdown(provider, gas.ethTransferTx);
      out.push({
        group: label(g),
        signedBy,
        verification: Number(gas.verification),
        firstEthTransfer: Number(gas.firstEthTransfer),
        ethTransfer: Number(gas.ethTransfer),
        breakdown: [...parts],
      });
    }
    return { groups: out };
  } finally {
    provider.destroy();
  }
}

/** The gas part of the bench on its own: anvil, in-process FROST signers, the rows printed. */
async function main(): Promise<void> {
  const { gasRows } = await import('./rows.ts');
  const { table } = await import('./report.ts');
  const groups: Group[] = [
    { t: 2, n: 3 },
    { t: 3, n: 5 },
    { t: 7, n: 10 },
  ];
  const anvil = await startAnvil(ANVIL_TRACING);
  try {
    const gas = await measureGroupsGas(anvil.rpcUrl, groups, (g) => ({
      signer: inProcessSigner(g),
      signedBy: 'in-process FROST',
    }));
    process.stdout.write(`${table(gasRows(gas))}\n`);
  } finally {
    await anvil.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();

const RECOVERY_PERIOD = 180n * 86_400n;
const RECOVERY_DELAY = 14n * 86_400n;

/**
 * Gas of each step of the account recovery on anvil (its clock moved with evm_increaseTime), signed by `signer`:
 * deployment with and without it, the steady-state transfer of each, initiate, veto (signed by the group),
 * and finalize after the delay.
 */
export async function measureRecoveryGas(
  rpcUrl: string,
  g: Group,
  signer: Bip340Signer,
): Promise<RecoveryGas> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { cacheTimeout: -1 });
  try {
    const payer = await provider.getSigner(0);
    const recipient = getAddress(await (await provider.getSigner(1)).getAddress());
    const recoverer = await provider.getSigner(2);
    const successor = inProcessSigner(g);
    const now = async () => BigInt((await provider.getBlock('latest'))!.timestamp);
    const wait = async (seconds: bigint) => {
      await provider.send('evm_increaseTime', [Number(seconds)]);
      await provider.send('evm_mine', []);
    };
    const factory = await deployFactory(payer);
    const recovery = {
      recoverer: await recoverer.getAddress(),
      period: RECOVERY_PERIOD,
      delay: RECOVERY_DELAY,
    };
    const plain = predictAccount(factory, signer.px);
    const recoverable = predictRecoverableAccount(factory, signer.px, recovery);
    for (const to of [plain, recoverable])
      await (await payer.sendTransaction({ to, value: parseEther('1') })).wait();
    const factoryContract = new Contract(factory, compiledContract('AccountFactory').abi, payer);
    const deployTx = await (await factoryContract.deploy(BigInt(hexlify(signer.px)), toBeHex(0n, 32))).wait();
    const deployed = await deployRecoverableAccount(payer, factory, signer.px, recovery);
    const transfer = async (account: string) => {
      const td = await prepareExecute(provider, account, {
        to: recipient,
        value: parseEther('0.001'),
        deadline: (await now()) + 3600n,
      });
      return (await submitExecute(payer, td, await signAction(signer, td))).gasUsed;
    };
    // The second transfer of each: the nonce slot is non-zero by then.
    await transfer(plain);
    const execute = await transfer(plain);
    await transfer(recoverable);
    const executeWithRecovery = await transfer(recoverable);
    await wait(RECOVERY_PERIOD);
    const initiate = (await initiateRecovery(recoverer, recoverable, successor.px)).gasUsed;
    const vetoTd = await prepareVetoRecovery(provider, recoverable, (await now()) + 3600n);
    const veto = (
      await submitVetoRecovery(payer, vetoTd, await signer.sign(decodeVetoRecovery(vetoTd).digest))
    ).gasUsed;
    await wait(RECOVERY_PERIOD);
    await initiateRecovery(recoverer, recoverable, successor.px);
    await wait(RECOVERY_DELAY);
    const finalize = (await finalizeRecovery(payer, recoverable)).gasUsed;
    return {
      group: label(g),
      deploy: Number(deployTx.gasUsed),
      deployWithRecovery: Number(deployed.receipt.gasUsed),
      execute: Number(execute),
      executeWithRecovery: Number(executeWithRecovery),
      initiate: Number(initiate),
      veto: Number(veto),
      finalize: Number(finalize),
    };
  } finally {
    provider.destroy();
  }
}
