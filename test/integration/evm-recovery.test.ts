/**
 * The EVM "cancel recovery" on real daemons and anvil (issue 20): a ThresholdAccount deployed with a recovery
 * setup for a 2-of-3 key of party daemons; after the inactivity period the recoverer initiates a recovery, and
 * `frostnet evm veto-recovery` has the network sign a VetoRecovery (each party decoding the typed data itself)
 * that a relayer submits. Each party signs it only where its policy lists "VetoRecovery": a key whose policy
 * does not gets no signature, and its account's recovery goes on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getAddress, type HDNodeWallet, JsonRpcProvider, parseEther, type Signer, Wallet } from 'ethers';
import { walletRoot } from '../../chains/bitcoin/keys.ts';
import { deployFactory } from '../../chains/evm/account.ts';
import { evmKey } from '../../chains/evm/keys.ts';
import {
  type AccountRecovery,
  deployRecoverableAccount,
  finalizeRecovery,
  initiateRecovery,
  readRecoveryState,
} from '../../chains/evm/recovery.ts';
import { commands as evmCommands } from '../../cli/commands/evm.ts';
import { G, hexToBytes, pointToBytes } from '../../protocol/curve.ts';
import { type Anvil, startAnvil } from '../helpers/anvil.ts';
import { accountEvents, reverted } from '../helpers/evm.ts';
import { Network } from '../helpers/network.ts';
import { runCommand, writePolicy } from '../helpers/network-extra.ts';

// The shortest setup the CLI acts on (MIN_RECOVERY_SECONDS). Each party bounds a VetoRecovery's deadline by its
// own clock (node/policy/evaluate.ts MAX_VETO_SECONDS), so the chain starts three days behind the parties: moved
// past the period and the delay, its clock stays behind theirs, as a real chain's stays with them.
const PERIOD = 86_400n;
const DELAY = 86_400n;
const CHAIN_BEHIND_SECONDS = 3 * 86_400;
/** The key the recoverer would hand the account to. */
const HEIR_KEY = pointToBytes(G.multiply(31337n)).subarray(1);

describe('VetoRecovery signed by the network under each party policy', () => {
  let anvil: Anvil;
  let net: Network;
  let provider: JsonRpcProvider;
  let funder: Signer;
  let lawyer: Signer;
  let relayer: HDNodeWallet;
  let factory: string;
  const accounts: Record<string, string> = {};

  const veto = (name: string) =>
    runCommand(
      evmCommands,
      ['evm', 'veto-recovery', '--key', name, '--rpc', anvil.rpcUrl, '--address', accounts[name]!, '--json'],
      { FROSTNET_DATA_DIR: net.parties[1]!.dataDir, FROSTNET_RELAYER_KEY: relayer.privateKey },
    );
  const wait = async (seconds: bigint) => {
    await provider.send('evm_increaseTime', [Number(seconds)]);
    await provider.send('evm_mine', []);
  };

  before(async () => {
    const started = await Promise.allSettled([
      startAnvil(['--timestamp', String(Math.floor(Date.now() / 1000) - CHAIN_BEHIND_SECONDS)]),
      (async () => {
        const n = await Network.create(3);
        net = n;
        // "guarded" may cancel a recovery; "plain" signs Execute only, the default.
        const policy = {
          version: 1,
          default: { evm: { actions: ['Execute'] } },
          keys: { guarded: { evm: { actions: ['Execute', 'VetoRecovery'] } } },
        };
        for (const i of n.parties.keys()) await writePolicy(n, i, policy);
        await n.startAll();
      })(),
    ]);
    if (started[0].status === 'fulfilled') anvil = started[0].value;
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
    funder = await provider.getSigner(0);
    lawyer = await provider.getSigner(2);
    relayer = Wallet.createRandom().connect(provider);
    await (await funder.sendTransaction({ to: relayer.address, value: parseEther('1') })).wait();
    factory = await deployFactory(funder);
    const recovery: AccountRecovery = {
      recoverer: getAddress(await lawyer.getAddress()),
      period: PERIOD,
      delay: DELAY,
    };
    for (const name of ['guarded', 'plain']) {
      const dkg = await net.keygen(0, name, 2);
      assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
      const { px } = evmKey(walletRoot(hexToBytes(dkg.result.groupKey), hexToBytes(dkg.result.chainCode)), 0);
      accounts[name] = (await deployRecoverableAccount(funder, factory, px, recovery)).account;
    }
  });

  after(async () => {
    provider?.destroy();
    await Promise.all([net?.close(), anvil?.stop()]);
  });

  test('with no recovery pending, nothing is signed', async () => {
    const r = await veto('guarded');
    assert.equal(r.code, 1, r.stdout);
    assert.equal(JSON.parse(r.stdout).error.code, 'NOTHING_PENDING');
  });

  test('a pending recovery is cancelled by the network where the policy lists VetoRecovery, and only there', async () => {
    await wait(PERIOD + 1n);
    for (const name of ['guarded', 'plain']) await initiateRecovery(lawyer, accounts[name]!, HEIR_KEY);

    const refused = await veto('plain');
    assert.equal(refused.code, 1, refused.stdout);
    const error = JSON.parse(refused.stdout).error;
    assert.equal(error.code, 'NOT_ENOUGH_SIGNERS', JSON.stringify(error));
    assert.match(error.message, /EVM action VetoRecovery is not allowed \(allowed: Execute\)/);
    assert.notEqual((await readRecoveryState(provider, accounts.plain!)).pending, undefined);

    const done = await veto('guarded');
    assert.equal(done.code, 0, done.stderr || done.stdout);
    const { txHash, signers } = JSON.parse(done.stdout);
    assert.equal(signers.length, 2);
    const receipt = (await provider.getTransactionReceipt(txHash))!;
    assert.equal(accountEvents(receipt, 'RecoveryVetoed').length, 1);
    assert.equal((await readRecoveryState(provider, accounts.guarded!)).pending, undefined);

    await wait(DELAY + 1n);
    await assert.rejects(
      finalizeRecovery(funder, accounts.guarded!),
      reverted('CONFLICT', 'NoRecoveryPending'),
    );
    // The one the network would not cancel completes: the recoverer's key now holds that account.
    await finalizeRecovery(funder, accounts.plain!);
    assert.equal((await readRecoveryState(provider, accounts.plain!)).pending, undefined);
  });
});
