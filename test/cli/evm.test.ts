/**
 * `frostnet evm ...` against real daemons (a 2-of-3 key) and anvil: address, deploy, send (ETH and ERC-20),
 * sign-typed-data, and the failures a user meets, each as one line and an exit code.
 * Each command runs as `node cli/frostnet.ts evm ...`, a process of its own.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { Contract, ContractFactory, getAddress, JsonRpcProvider, type Signer, Wallet } from 'ethers';
import { walletRoot } from '../../chains/bitcoin/keys.ts';
import {
  deployFactory,
  encodeSignature,
  predictAccount,
  prepareExecute,
  readGroupKey,
  readNonce,
  submitExecute,
} from '../../chains/evm/account.ts';
import { compiledContract } from '../../chains/evm/compile.ts';
import { evmKey } from '../../chains/evm/keys.ts';
import {
  deployRecoverableAccount,
  predictRecoverableAccount,
  readRecoveryState,
} from '../../chains/evm/recovery.ts';
import { decodeTypedData } from '../../chains/evm/typed-data.ts';
import { bytesToHex, hexToBytes } from '../../protocol/curve.ts';
import { type Anvil, startAnvil } from '../helpers/anvil.ts';
import { Network } from '../helpers/network.ts';
import { type Run, frostnet as runFrostnet } from './helpers.ts';

describe('frostnet evm against a 2-of-3 daemon network and anvil', () => {
  let anvil: Anvil;
  let net: Network;
  let provider: JsonRpcProvider;
  let funder: Signer;
  let recipient: string;
  let factory: string;
  let account: string;
  let px: Uint8Array;
  let dir: string;
  let relayerFile: string;
  let relayer: Wallet;

  /** `frostnet evm <args>` for party 1, in an environment without FROSTNET_* settings but those of `env`. */
  const frostnet = (args: readonly string[], env: Record<string, string> = {}): Promise<Run> =>
    runFrostnet(['evm', ...args, '--data-dir', net.parties[0].dataDir], env);

  /** A successful --json run's result. */
  // biome-ignore lint/suspicious/noExplicitAny: the commands' JSON output, checked field by field
  async function json(args: readonly string[], env?: Record<string, string>): Promise<any> {
    const r = await frostnet([...args, '--json'], env);
    assert.equal(r.code, 0, `frostnet evm ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout);
  }

  /** A failing run: its exit code, and its one error line (after any progress notes), last on stderr. */
  async function fails(args: readonly string[], code: number, message: RegExp, env?: Record<string, string>) {
    const r = await frostnet(args, env);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}${r.stdout}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('error: ')).length, 1, r.stderr);
    assert.match(lines[lines.length - 1], /^error: /);
    assert.match(lines[lines.length - 1], message);
    return r;
  }

  const deadline = async () => BigInt((await provider.getBlock('latest'))?.timestamp ?? 0) + 3600n;

  before(async () => {
    const started = await Promise.allSettled([
      startAnvil(),
      (async () => {
        net = await Network.create(3);
        await net.startAll();
      })(),
    ]);
    if (started[0].status === 'fulfilled') anvil = started[0].value;
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const dkg = await net.keygen(0, 'vault', 2);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    px = evmKey(walletRoot(hexToBytes(dkg.result.groupKey), hexToBytes(dkg.result.chainCode)), 0).px;

    provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
    funder = await provider.getSigner(0);
    recipient = getAddress(await (await provider.getSigner(1)).getAddress());
    // A fresh relayer key, kept in a file as an operator would; it holds only gas money.
    relayer = new Wallet(Wallet.createRandom().privateKey);
    await (await funder.sendTransaction({ to: relayer.address, value: 10n ** 19n })).wait();
    dir = await mkdtemp(join(tmpdir(), 'frostnet-evm-cli-'));
    relayerFile = join(dir, 'relayer.key');
    await writeFile(relayerFile, `${relayer.privateKey}\n`, { mode: 0o600 });
    factory = await deployFactory(funder);
    account = predictAccount(factory, px);
  });

  after(async () => {
    provider?.destroy();
    await Promise.all([net?.close(), anvil?.stop(), dir && rm(dir, { recursive: true, force: true })]);
  });

  test('address: the EVM key, and the account address before it exists', async () => {
    const bare = await json(['address', '--key', 'vault']);
    assert.equal(bare.evmKey, `0x${bytesToHex(px)}`);
    assert.equal(bare.address, undefined);
    const r = await json(['address', '--key', 'vault', '--factory', factory, '--rpc', anvil.rpcUrl]);
    assert.equal(r.address, account);
    assert.equal(r.deployed, false);
  });

  test('address and deploy ask a factory where it deploys, when it was built from other account code', async () => {
    const { abi, bytecode } = compiledContract('ShiftedAccountFactory');
    const shifted = await (await new ContractFactory(abi, bytecode, funder).deploy()).getAddress();
    const offline = await json(['address', '--key', 'vault', '--factory', shifted]);
    const asked = await json(['address', '--key', 'vault', '--factory', shifted, '--rpc', anvil.rpcUrl]);
    assert.equal(offline.address, predictAccount(shifted, px), "without a chain: this version's prediction");
    assert.notEqual(asked.address, offline.address, "with one: the factory's own answer");
    const r = await json(['deploy', '--key', 'vault', '--rpc', anvil.rpcUrl, '--factory', shifted], {
      FROSTNET_RELAYER_KEY: relayer.privateKey,
    });
    assert.equal(r.address, asked.address);
    assert.deepEqual(
      await readGroupKey(provider, asked.address),
      px,
      'the account is where it was said to be',
    );
    assert.equal(await provider.getCode(offline.address), '0x');
  });

  test('deploy: the account at the predicted address keeps the funds sent there first', async () => {
    await (await funder.sendTransaction({ to: account, value: 10n ** 18n })).wait();
    const r = await json(['deploy', '--key', 'vault', '--rpc', anvil.rpcUrl, '--factory', factory], {
      FROSTNET_RELAYER_KEY: relayer.privateKey,
    });
    assert.deepEqual([r.address, r.factory, r.alreadyDeployed], [account, factory, false]);
    assert.deepEqual(await readGroupKey(provider, account), px);
    assert.equal(await provider.getBalance(account), 10n ** 18n);
    const shown = await json(['address', '--key', 'vault', '--factory', factory, '--rpc', anvil.rpcUrl]);
    assert.deepEqual([shown.deployed, shown.balance, shown.nonce], [true, String(10n ** 18n), '0']);
  });

  test('deploy without --factory deploys a factory too', async () => {
    const r = await json([
      'deploy',
      '--key',
      'vault',
      '--account',
      '1',
      '--rpc',
      anvil.rpcUrl,
      '--relayer-key-file',
      relayerFile,
    ]);
    assert.equal(r.factoryDeployed, true);
    assert.notEqual(r.factory, factory);
    assert.notEqual(await provider.getCode(r.factory), '0x');
    assert.equal(r.address, predictAccount(r.factory, hexToBytes(r.evmKey.slice(2))));
    assert.equal(bytesToHex(await readGroupKey(provider, r.address)), r.evmKey.slice(2));
  });

  test('deploy with a recovery setup: the account the factory predicts for it, with that setup on chain', async () => {
    const recoverer = getAddress(await (await provider.getSigner(2)).getAddress());
    const setup = ['--recoverer', recoverer, '--recovery-period', '172800', '--recovery-delay', '86400'];
    const args = ['deploy', '--key', 'vault', '--account', '2', '--rpc', anvil.rpcUrl, '--factory', factory];
    const r = await json([...args, ...setup], { FROSTNET_RELAYER_KEY: relayer.privateKey });
    const expected = { recoverer, period: 172800n, delay: 86400n };
    const key = hexToBytes(r.evmKey.slice(2));
    assert.equal(r.address, predictRecoverableAccount(factory, key, expected));
    assert.notEqual(r.address, predictAccount(factory, key), 'the setup is part of the address');
    assert.deepEqual(r.recovery, { recoverer, period: '172800', delay: '86400' });
    assert.equal(bytesToHex(await readGroupKey(provider, r.address)), r.evmKey.slice(2));
    assert.deepEqual((await readRecoveryState(provider, r.address)).recovery, expected);
    // Deployed already: reported, not deployed again.
    const again = await json([...args, ...setup], { FROSTNET_RELAYER_KEY: relayer.privateKey });
    assert.deepEqual([again.address, again.alreadyDeployed], [r.address, true]);
    // A partial or impossible setup is a usage error, before any chain is asked.
    await fails([...args, '--recoverer', recoverer], 2, /go together: give all three/);
    await fails(
      [...args, ...setup.slice(0, 4), '--recovery-delay', '0'],
      2,
      /recovery delay: expected seconds/,
    );
    await fails([...args, ...setup.slice(2), '--recoverer', '0x12'], 2, /--recoverer/);
    await fails([...args, ...setup.slice(0, 4), '--recovery-delay', '3600'], 2, /at least 86400 s/);
    // Shown by its address, with the setup.
    const shown = await json([
      'address',
      '--key',
      'vault',
      '--account',
      '2',
      '--address',
      r.address,
      '--rpc',
      anvil.rpcUrl,
    ]);
    assert.equal(shown.recovery.recoverer, recoverer);
    assert.deepEqual([shown.recovery.period, shown.recovery.delay], ['172800', '86400']);
    assert.ok(Date.parse(shown.recovery.opensAt) > Date.now(), shown.recovery.opensAt);
  });

  test('an account of this key that anyone deployed with a short recovery is refused before signing', async () => {
    // A member deploys, outside the CLI, the key's account with itself as recoverer and a one-second delay.
    const trapper = getAddress(await (await provider.getSigner(3)).getAddress());
    const { account: trap } = await deployRecoverableAccount(funder, factory, px, {
      recoverer: trapper,
      period: 1n,
      delay: 1n,
    });
    await (await funder.sendTransaction({ to: trap, value: 10n ** 17n })).wait();
    const before = await readNonce(provider, trap);
    await fails(
      [
        'send',
        '--key',
        'vault',
        '--address',
        trap,
        '--to',
        recipient,
        '--value',
        '1000',
        '--rpc',
        anvil.rpcUrl,
        '--yes',
      ],
      1,
      /can be taken over by .* too soon for the group to veto; nothing was signed/,
      { FROSTNET_RELAYER_KEY: relayer.privateKey },
    );
    assert.equal(await readNonce(provider, trap), before, 'nothing was executed');
    const shown = await json(['address', '--key', 'vault', '--address', trap, '--rpc', anvil.rpcUrl]);
    assert.deepEqual([shown.recovery.recoverer, shown.recovery.delay], [trapper, '1']);
  });

  test('send: an ETH transfer signed by the network, submitted by the relayer', async () => {
    const before = await provider.getBalance(recipient);
    const r = await frostnet([
      'send',
      '--key',
      'vault',
      '--to',
      recipient,
      '--value',
      '250000000000000000',
      '--rpc',
      anvil.rpcUrl,
      '--factory',
      factory,
      '--relayer-key-file',
      relayerFile,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const hash = /^tx\s+(0x[0-9a-f]{64})$/m.exec(r.stdout)?.[1];
    assert.ok(hash, r.stdout);
    const receipt = await provider.getTransactionReceipt(hash);
    assert.equal(receipt?.status, 1);
    assert.equal(receipt?.from, relayer.address);
    assert.match(r.stdout, new RegExp(`^gas used\\s+${receipt?.gasUsed}$`, 'm'));
    assert.equal((await provider.getBalance(recipient)) - before, 250000000000000000n);
    assert.equal(await readNonce(provider, account), 1n);
  });

  test('send --data: an ERC-20 transfer', async () => {
    const { abi, bytecode } = compiledContract('TestToken');
    const deployed = await new ContractFactory(abi, bytecode, funder).deploy();
    await deployed.waitForDeployment();
    const token = new Contract(await deployed.getAddress(), abi, funder);
    await (await token.mint(account, 1000n)).wait();
    const r = await json(
      [
        'send',
        '--key',
        'vault',
        '--to',
        await token.getAddress(),
        '--value',
        '0',
        '--data',
        token.interface.encodeFunctionData('transfer', [recipient, 400n]),
        '--deadline',
        '600',
        '--rpc',
        anvil.rpcUrl,
        '--factory',
        factory,
      ],
      { FROSTNET_RELAYER_KEY: relayer.privateKey },
    );
    assert.equal(r.nonce, '1');
    assert.ok(Number(r.gasUsed) > 21_000);
    assert.equal(await token.balanceOf(account), 600n);
    assert.equal(await token.balanceOf(recipient), 400n);
  });

  test('sign-typed-data: the signature and the 96-byte encoding the account takes', async () => {
    const td = await prepareExecute(provider, account, {
      to: recipient,
      value: 1000n,
      deadline: await deadline(),
    });
    const file = join(dir, 'execute.json');
    await writeFile(file, JSON.stringify(td));
    const r = await json(['sign-typed-data', '--key', 'vault', '--file', file]);
    const signature = hexToBytes(r.signature);
    assert.equal(r.digest, `0x${bytesToHex(decodeTypedData(td).digest)}`);
    assert.ok(schnorr.verify(signature, decodeTypedData(td).digest, px));
    assert.equal(r.encoded, encodeSignature(signature));
    assert.equal(r.encoded.length, 2 + 96 * 2);
    // It is the signature the account wants.
    const receipt = await submitExecute(funder, td, signature);
    assert.equal(receipt.status, 1);

    const inline = await json([
      'sign-typed-data',
      '--key',
      'vault',
      '--account',
      '1',
      '--typed-data',
      JSON.stringify(td),
    ]);
    assert.notEqual(inline.evmKey, r.evmKey);
    assert.ok(
      schnorr.verify(
        hexToBytes(inline.signature),
        decodeTypedData(td).digest,
        hexToBytes(inline.evmKey.slice(2)),
      ),
    );
  });

  test('failures are one line with what to do, and the relayer key never comes from argv', async () => {
    const key = relayer.privateKey;
    const send = ['send', '--key', 'vault', '--to', recipient, '--value', '1', '--rpc', anvil.rpcUrl];
    const r = await fails([...send, '--factory', factory, '--relayer-key', key], 2, /relayer-key/);
    assert.ok(!r.stderr.includes(key.slice(2)) && !r.stdout.includes(key.slice(2)));
    await fails([...send, '--factory', factory], 2, /FROSTNET_RELAYER_KEY/);
    const poor = Wallet.createRandom().privateKey;
    await fails([...send, '--factory', factory], 1, /relayer 0x[0-9a-fA-F]{40} has no ETH/, {
      FROSTNET_RELAYER_KEY: poor,
    });
    await fails(
      [...send, '--factory', factory, '--account', '2'],
      1,
      /there is no account at 0x[0-9a-fA-F]{40} on chain/,
      { FROSTNET_RELAYER_KEY: key },
    );
    await fails([...send, '--address', account, '--account', '1'], 1, /is controlled by key 0x/, {
      FROSTNET_RELAYER_KEY: key,
    });
    await fails(
      ['address', '--key', 'vault', '--factory', factory, '--rpc', 'http://127.0.0.1:9'],
      1,
      /does not answer/,
    );
    await fails(
      ['sign-typed-data', '--key', 'vault', '--typed-data', '{"types":{}}'],
      1,
      /EIP-712 request: typed data fields differ/,
    );
    await fails(['sign-typed-data', '--key', 'vault', '--typed-data', '{'], 2, /not JSON/);
    await fails(['address', '--key', 'nope'], 1, /no key named "?nope/);
    assert.equal(await readNonce(provider, account), 3n, 'no failure reached the account');
  });
});
