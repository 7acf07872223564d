/**
 * The ThresholdAccount's optional recovery on a real anvil, every group signature made by a 2-of-3 FROST key
 * in process: recovery refused before the inactivity period and possible after it, a normal execute resetting
 * the clock, the group's veto, any action of the group stopping a pending recovery, and finalization after the
 * delay handing the account to the new key. Gas of each step printed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  Contract,
  getAddress,
  hexlify,
  JsonRpcProvider,
  parseEther,
  type Signer,
  ZeroAddress,
  ZeroHash,
} from 'ethers';
import {
  deployAccount,
  deployFactory,
  predictAccount,
  prepareExecute,
  readGroupKey,
  readNonce,
  submitExecute,
  transact,
} from '../../chains/evm/account.ts';
import { compiledContract } from '../../chains/evm/compile.ts';
import {
  type AccountRecovery,
  checkAccountRecovery,
  decodeVetoRecovery,
  deployRecoverableAccount,
  factoryPredictRecoverable,
  finalizeRecovery,
  initiateRecovery,
  predictRecoverableAccount,
  prepareVetoRecovery,
  readRecoveryState,
  submitVetoRecovery,
  vetoRecoveryTypedData,
} from '../../chains/evm/recovery.ts';
import type { Bip340Signer } from '../../chains/evm/signer.ts';
import { decodeTypedData, executeTypedData } from '../../chains/evm/typed-data.ts';
import { type Anvil, startAnvil } from '../helpers/anvil.ts';
import { accountEvents, reverted } from '../helpers/evm.ts';
import { frostEvmSigner } from '../helpers/keys.ts';

const DAY = 86_400n;
const PERIOD = 180n * DAY;
const DELAY = 14n * DAY;

describe('ThresholdAccount recovery on anvil', () => {
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let relayer: Signer;
  let lawyer: Signer;
  let recipient: string;
  let factory: string;
  let account: string;
  let recovery: AccountRecovery;
  const group = frostEvmSigner(2, 3);
  const heirs = frostEvmSigner(2, 3);
  const gas: Record<string, bigint> = {};

  const now = async () => BigInt((await provider.getBlock('latest'))!.timestamp);
  /** Moves the chain's clock: the next block is `seconds` later than it would have been. */
  const wait = async (seconds: bigint) => {
    await provider.send('evm_increaseTime', [Number(seconds)]);
    await provider.send('evm_mine', []);
  };
  const transfer = async (signer: Bip340Signer = group) => {
    const td = await prepareExecute(provider, account, {
      to: recipient,
      value: parseEther('0.01'),
      deadline: (await now()) + 3600n,
    });
    return submitExecute(relayer, td, await signer.sign(decodeTypedData(td).digest));
  };
  const veto = async () => {
    const td = await prepareVetoRecovery(provider, account, (await now()) + 3600n);
    return submitVetoRecovery(relayer, td, await group.sign(decodeVetoRecovery(td).digest));
  };

  before(async () => {
    anvil = await startAnvil();
    provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
    relayer = await provider.getSigner(0);
    recipient = getAddress(await (await provider.getSigner(1)).getAddress());
    lawyer = await provider.getSigner(2);
    recovery = { recoverer: await lawyer.getAddress(), period: PERIOD, delay: DELAY };
    factory = await deployFactory(relayer);
  });

  after(async () => {
    provider?.destroy();
    await anvil?.stop();
  });

  test('an account with recovery deploys where predicted; its address commits to the setup', async () => {
    account = predictRecoverableAccount(factory, group.px, recovery);
    assert.equal(await factoryPredictRecoverable(provider, factory, group.px, recovery), account);
    assert.notEqual(account, predictAccount(factory, group.px), 'not the address without recovery');
    assert.notEqual(
      account,
      predictRecoverableAccount(factory, group.px, { ...recovery, delay: DELAY + 1n }),
    );
    await (await relayer.sendTransaction({ to: account, value: parseEther('1') })).wait();
    const deployed = await deployRecoverableAccount(relayer, factory, group.px, recovery);
    assert.equal(deployed.account, account);
    gas['deploy with recovery'] = deployed.receipt.gasUsed;
    const [configured] = accountEvents(deployed.receipt, 'RecoveryConfigured');
    assert.deepEqual(
      [configured.recoverer, configured.period, configured.delay],
      [recovery.recoverer, PERIOD, DELAY],
    );
    const state = await readRecoveryState(provider, account);
    assert.deepEqual(state.recovery, recovery);
    assert.equal(state.lastActionAt, await now());
    assert.equal(state.opensAt, state.lastActionAt + PERIOD);
    assert.equal(state.pending, undefined);
  });

  test('recovery is refused before the inactivity period, and to anyone but the recoverer', async () => {
    await assert.rejects(initiateRecovery(lawyer, account, heirs.px), reverted('TIME_LOCKED', 'StillActive'));
    await wait(PERIOD - DAY);
    await assert.rejects(initiateRecovery(lawyer, account, heirs.px), reverted('TIME_LOCKED', 'StillActive'));
    await assert.rejects(
      initiateRecovery(relayer, account, heirs.px),
      reverted('UNAUTHORIZED', 'NotRecoverer'),
    );
    await assert.rejects(finalizeRecovery(relayer, account), reverted('CONFLICT', 'NoRecoveryPending'));
  });

  test('a normal execute resets the inactivity clock', async () => {
    const before = (await readRecoveryState(provider, account)).lastActionAt;
    const receipt = await transfer();
    gas['execute (recovery account, first)'] = receipt.gasUsed;
    const state = await readRecoveryState(provider, account);
    assert.ok(state.lastActionAt > before + PERIOD - DAY - 1n);
    assert.equal(state.lastActionAt, await now());
    // A day later the old period would have run out; the new one has just begun.
    await wait(2n * DAY);
    await assert.rejects(initiateRecovery(lawyer, account, heirs.px), reverted('TIME_LOCKED', 'StillActive'));
    gas['execute (recovery account, steady)'] = (await transfer()).gasUsed;
  });

  test('after the period the recoverer initiates; the threshold key vetoes it', async () => {
    await wait(PERIOD);
    const receipt = await initiateRecovery(lawyer, account, heirs.px);
    gas['initiate recovery'] = receipt.gasUsed;
    const [initiated] = accountEvents(receipt, 'RecoveryInitiated');
    assert.equal(initiated.newKey, BigInt(hexlify(heirs.px)));
    assert.equal(initiated.completesAt, (await now()) + DELAY);
    const pending = (await readRecoveryState(provider, account)).pending!;
    assert.deepEqual(pending, { newKey: heirs.px, completesAt: (await now()) + DELAY });
    await assert.rejects(finalizeRecovery(relayer, account), reverted('TIME_LOCKED', 'RecoveryDelayRunning'));

    const nonce = await readNonce(provider, account);
    const vetoed = await veto();
    gas['veto recovery'] = vetoed.gasUsed;
    const [event] = accountEvents(vetoed, 'RecoveryVetoed');
    assert.deepEqual([event.nonce, event.newKey], [nonce, BigInt(hexlify(heirs.px))]);
    assert.equal(await readNonce(provider, account), nonce + 1n);
    assert.equal((await readRecoveryState(provider, account)).pending, undefined);
    await wait(DELAY);
    await assert.rejects(finalizeRecovery(relayer, account), reverted('CONFLICT', 'NoRecoveryPending'));
    // The veto was an action: the clock starts over.
    await assert.rejects(initiateRecovery(lawyer, account, heirs.px), reverted('TIME_LOCKED', 'StillActive'));
    // With nothing pending a veto is refused (and burns no nonce).
    await assert.rejects(veto(), reverted('CONFLICT', 'NoRecoveryPending'));
  });

  test('any action of the group during the delay stops the recovery', async () => {
    await wait(PERIOD);
    await initiateRecovery(lawyer, account, heirs.px);
    const td = await prepareVetoRecovery(provider, account, (await now()) + 3600n);
    await assert.rejects(
      submitVetoRecovery(relayer, td, await heirs.sign(decodeVetoRecovery(td).digest)),
      reverted('INVALID_SIGNATURE', 'BadSignature'),
    );
    await transfer();
    await wait(DELAY);
    await assert.rejects(
      finalizeRecovery(relayer, account),
      reverted('CONFLICT', 'ActedSinceRecoveryInitiated'),
    );
    assert.deepEqual(await readGroupKey(provider, account), group.px);
  });

  test('unvetoed, the recovery is finalized after the delay and the new key controls the account', async () => {
    await wait(PERIOD);
    // Initiating again replaces a stale pending recovery and restarts the delay.
    await initiateRecovery(lawyer, account, heirs.px);
    await wait(DELAY - 60n);
    await assert.rejects(finalizeRecovery(relayer, account), reverted('TIME_LOCKED', 'RecoveryDelayRunning'));
    await wait(60n);
    const receipt = await finalizeRecovery(relayer, account);
    gas['finalize recovery'] = receipt.gasUsed;
    const [finalized] = accountEvents(receipt, 'RecoveryFinalized');
    assert.deepEqual(
      [finalized.oldKey, finalized.newKey],
      [BigInt(hexlify(group.px)), BigInt(hexlify(heirs.px))],
    );
    assert.deepEqual(await readGroupKey(provider, account), heirs.px);
    await assert.rejects(transfer(group), reverted('INVALID_SIGNATURE', 'BadSignature'));
    const before = await provider.getBalance(recipient);
    await transfer(heirs);
    assert.equal((await provider.getBalance(recipient)) - before, parseEther('0.01'));
    // The new key has a fresh inactivity period.
    await assert.rejects(initiateRecovery(lawyer, account, group.px), reverted('TIME_LOCKED', 'StillActive'));
  });

  test('accounts without recovery refuse it; the factory refuses setups the account would', async () => {
    const plain = await deployAccount(relayer, factory, heirs.px, 7n);
    await assert.rejects(initiateRecovery(lawyer, plain, group.px), reverted('UNAUTHORIZED', 'NotRecoverer'));
    const state = await readRecoveryState(provider, plain);
    assert.deepEqual([state.recovery, state.opensAt, state.lastActionAt], [undefined, undefined, 0n]);
    // The contract refuses what checkAccountRecovery refuses before any gas is spent.
    const contract = new Contract(factory, compiledContract('AccountFactory').abi, relayer);
    const key = BigInt(hexlify(group.px));
    for (const [who, period, delay] of [
      [recovery.recoverer, 0n, DELAY],
      [recovery.recoverer, PERIOD, 2n ** 32n],
      [ZeroAddress, PERIOD, 0n],
    ] as const)
      await assert.rejects(
        transact('deploy', () => contract.deployWithRecovery(key, who, period, delay, ZeroHash)),
        reverted('INVALID_INPUT', 'InvalidRecovery'),
      );
  });

  test('gas of each step (printed, not asserted)', (t) => {
    for (const [step, used] of Object.entries(gas)) t.diagnostic(`${step}: ${used} gas`);
    assert.ok(Object.keys(gas).length >= 6);
  });
});

test('VetoRecovery typed data: validated and hashed as the account does; the network does not sign it yet', () => {
  const ref = { chainId: 31337n, address: getAddress('0x00000000000000000000000000000000000000aa') };
  const td = vetoRecoveryTypedData(ref, { nonce: 3n, deadline: 99n });
  const decoded = decodeVetoRecovery(JSON.parse(JSON.stringify(td)));
  assert.deepEqual(decoded.fields, { nonce: 3n, deadline: 99n });
  assert.equal(decoded.digest.length, 32);
  // decodeTypedData, what a signing party runs today, refuses it: the lead wires it in with its own policy.
  assert.throws(() => decodeTypedData(td), /primaryType must be Execute or RotateKey/);
  const execute = executeTypedData(ref, { to: ref.address, value: 0n, data: '0x', nonce: 3n, deadline: 99n });
  assert.throws(() => decodeVetoRecovery(execute), /primaryType must be VetoRecovery/);
  assert.throws(
    () => decodeVetoRecovery({ ...td, message: { ...td.message, extra: '1' } }),
    /unexpected: extra/,
  );
  assert.throws(
    () =>
      checkAccountRecovery({
        recoverer: '0x0000000000000000000000000000000000000000',
        period: 1n,
        delay: 1n,
      }),
    /non-zero 20-byte address/,
  );
  assert.throws(
    () => checkAccountRecovery({ recoverer: ref.address, period: 0n, delay: 1n }),
    /recovery period/,
  );
  assert.throws(
    () => checkAccountRecovery({ recoverer: ref.address, period: 1n, delay: 2n ** 32n }),
    /recovery delay/,
  );
});
