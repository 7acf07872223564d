/**
 * The gas breakdown of ThresholdAccount transactions traced on anvil: its parts must add up to each receipt's
 * gasUsed, whatever the transaction (the first transfer, the steady state, a call into a contract, a target
 * the relayer already has warm), and the parts must be the ones the breakdown claims.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { Contract, ContractFactory, getAddress, JsonRpcProvider, parseEther, type Signer } from 'ethers';
import {
  deployAccount,
  deployFactory,
  executeAccessList,
  predictAccount,
  prepareExecute,
  submitExecute,
} from '../../chains/evm/account.ts';
import { compiledContract } from '../../chains/evm/compile.ts';
import { measureGas } from '../../chains/evm/gas.ts';
import { type GasBreakdown, gasBreakdown } from '../../chains/evm/gas-breakdown.ts';
import { singleKeySigner } from '../../chains/evm/signer.ts';
import { decodeTypedData } from '../../chains/evm/typed-data.ts';
import { Fn } from '../../protocol/curve.ts';
import { type Anvil, startAnvil } from '../helpers/anvil.ts';

const part = (b: GasBreakdown, name: string) => b.parts.find((p) => p.name === name);
const sum = (b: GasBreakdown) => b.parts.reduce((a, p) => a + p.gas, 0);

function assertAddsUp(b: GasBreakdown): void {
  assert.equal(sum(b), b.gasUsed, b.parts.map((p) => `${p.name} ${p.gas}`).join(', '));
  assert.equal(part(b, 'intrinsic')?.gas, 21_000);
  for (const name of ['calldata', 'nonce slot', 'verification', 'value call', 'event'])
    assert.ok((part(b, name)?.gas ?? 0) > 0, `${name} is in the breakdown`);
  const precompiles = part(b, 'verification')?.pieces.filter((p) => ['sha256', 'ecrecover'].includes(p.name));
  assert.deepEqual(precompiles?.map((p) => [p.name, p.count]).sort(), [
    ['ecrecover', 1],
    ['sha256', 1],
  ]);
}

describe('gas breakdown from debug_traceTransaction', () => {
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let relayer: Signer;
  let account: string;
  const signer = singleKeySigner(Fn.fromBytes(schnorr.utils.randomSecretKey()));

  const execute = async (to: string, value: bigint, data = '0x') => {
    const deadline = BigInt((await provider.getBlock('latest'))?.timestamp ?? 0) + 3600n;
    const td = await prepareExecute(provider, account, { to, value, data, deadline });
    const receipt = await submitExecute(relayer, td, await signer.sign(decodeTypedData(td).digest));
    return gasBreakdown(provider, receipt.hash);
  };

  before(async () => {
    // anvil keeps the struct logs debug_traceTransaction returns only with --steps-tracing.
    anvil = await startAnvil(['--steps-tracing']);
    provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
    relayer = await provider.getSigner(0);
    const factory = await deployFactory(relayer);
    account = predictAccount(factory, signer.px);
    await (await relayer.sendTransaction({ to: account, value: parseEther('1') })).wait();
    await deployAccount(relayer, factory, signer.px);
  });

  after(async () => {
    provider?.destroy();
    await anvil?.stop();
  });

  test('the steady-state ETH transfer that measureGas reports', async () => {
    const gas = await measureGas(anvil.rpcUrl);
    const b = await gasBreakdown(provider, gas.ethTransferTx);
    assert.equal(BigInt(b.gasUsed), gas.ethTransfer);
    assertAddsUp(b);
    // Its recipient is listed (EIP-2930), the nonce slot goes from non-zero to non-zero.
    assert.equal(part(b, 'access list')?.gas, 2_400);
    assert.equal(part(b, 'nonce slot')?.gas, 2_100 + 2_900);
  });

  test('the first transfer (nonce slot set from zero), a call into a contract, a warm target', async () => {
    const recipient = getAddress(await (await provider.getSigner(1)).getAddress());
    const first = await execute(recipient, parseEther('0.01'));
    assertAddsUp(first);
    assert.equal(part(first, 'nonce slot')?.gas, 2_100 + 20_000);

    const { abi, bytecode } = compiledContract('TestToken');
    const deployed = await new ContractFactory(abi, bytecode, relayer).deploy();
    await deployed.waitForDeployment();
    const token = new Contract(await deployed.getAddress(), abi, relayer);
    await (await token.mint(account, 1000n)).wait();
    const transfer = token.interface.encodeFunctionData('transfer', [recipient, 250n]);
    const tokenCall = await execute(await token.getAddress(), 0n, transfer);
    // The token's own steps run one level deeper and are part of the call; nothing is logged by the account
    // but its event, so the event part is the account's LOG3 alone.
    assert.equal(sum(tokenCall), tokenCall.gasUsed);
    assert.deepEqual(
      part(tokenCall, 'event')?.pieces.map((p) => [p.name, p.count]),
      [['LOG3', 1]],
    );
    assert.ok((part(tokenCall, 'value call')?.gas ?? 0) > 2 * 2_900, 'the token wrote two balances');

    // The relayer itself is warm in its own transaction: no access list, and the parts still add up.
    const relayerAddress = await relayer.getAddress();
    assert.deepEqual(executeAccessList(relayerAddress, account, relayerAddress), []);
    const toRelayer = await execute(relayerAddress, parseEther('0.01'));
    assertAddsUp(toRelayer);
    assert.equal(part(toRelayer, 'access list'), undefined);
  });

  test('a node without struct logs is reported, not read as an empty trace', async () => {
    const plain = await startAnvil();
    const p = new JsonRpcProvider(plain.rpcUrl, undefined, { cacheTimeout: -1 });
    try {
      const tx = await (await p.getSigner(0)).sendTransaction({
        to: getAddress(`0x${'11'.repeat(20)}`),
        value: 1n,
      });
      await tx.wait();
      await assert.rejects(gasBreakdown(p, tx.hash), /--steps-tracing/);
    } finally {
      p.destroy();
      await plain.stop();
    }
  });
});
