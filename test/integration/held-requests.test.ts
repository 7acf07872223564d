/**
 * Held is a state, not an error (issue 16), on real daemons: three parties, a 2-of-3 key; parties 2 and 3 run
 * a policy that holds every request for their operators, party 1 none. A PSBT, a raw message and an EVM action
 * asked through `frostnet` stop with exit code 3 and `AWAITING_APPROVAL`, naming the holders and "1 of 2
 * approvals"; a request the holders reject fails naming them by name (culprits stay peer ids); `--wait`
 * completes them once one holder's operator ran `frostnet approvals approve`; and an EVM action asked again
 * after the chain moved on (anvil `evm_mine`) is the same request at every party: same deadline, same nonce,
 * same approval id, so the approval given to the first ask lets it through.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { getAddress, JsonRpcProvider, type Signer, Wallet } from 'ethers';
import { walletRoot } from '../../chains/bitcoin/keys.ts';
import { deployAccount, deployFactory } from '../../chains/evm/account.ts';
import { evmKey } from '../../chains/evm/keys.ts';
import { loadConfig, saveConfig } from '../../node/config.ts';
import { hexToBytes } from '../../protocol/curve.ts';
import { testWallet } from '../bitcoin/helpers.ts';
import { type Anvil, startAnvil } from '../helpers/anvil.ts';
import { CLI, Network, NODE } from '../helpers/network.ts';
import { coin, executeData, NET, outsideAddress, spendPsbt } from '../node/policy/helpers.ts';

type Run = { code: number | null; stdout: string; stderr: string };

const env = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FROSTNET_')));

function cli(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(NODE, [CLI, ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += String(d)));
    proc.stderr.on('data', (d) => (stderr += String(d)));
    proc.once('error', reject);
    proc.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The `waiting` document of a --json run that stopped with exit code 3. */
function waiting(r: Run) {
  assert.equal(r.code, 3, `exit code 3 (waiting), got ${r.code}: ${r.stderr}`);
  const w = JSON.parse(r.stdout.trim().split('\n').pop()!).waiting;
  assert.equal(w.code, 'AWAITING_APPROVAL');
  return w as {
    code: string;
    message: string;
    request: string;
    hint: string;
    held: {
      id: string;
      kind: string;
      holders: { party: string; code: string }[];
      approvals: string[];
      needed: number;
    };
  };
}

describe('held signing requests on real daemons', () => {
  let net: Network;
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let dir: string;
  let relayerFile: string;
  let groupKey: string;
  let chainCode: string;
  let notified: string;

  before(async () => {
    const [a] = await Promise.all([
      startAnvil(),
      (async () => {
        net = await Network.create(3, { processes: true });
        // Parties 2 and 3 hold every request of every key for their operators; raw messages are on everywhere.
        await writeFile(
          join(net.parties[0].dataDir, 'policy.json'),
          JSON.stringify({ default: { rawMessages: true } }),
        );
        for (const p of net.parties.slice(1))
          await writeFile(
            join(p.dataDir, 'policy.json'),
            JSON.stringify({ default: { requireApproval: true, rawMessages: true } }),
          );
        // Party 2 tells its operator through a notify hook: here a shell line that keeps the JSON it is given.
        notified = join(net.parties[1].dataDir, 'notified.json');
        const cfg = await loadConfig(net.parties[1].configPath);
        await saveConfig(net.parties[1].configPath, {
          ...cfg,
          notify: { command: ['sh', '-c', 'cat >> "$0"', notified] },
        });
        await net.startAll();
      })(),
    ]);
    anvil = a;
    const dkg = await net.keygen(0, 'vault', 2, net.ids, NET);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    ({ groupKey, chainCode } = dkg.result);
    provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
    dir = await mkdtemp(join(tmpdir(), 'frostnet-held-'));
    const relayer = new Wallet(Wallet.createRandom().privateKey);
    relayerFile = join(dir, 'relayer.key');
    await writeFile(relayerFile, `${relayer.privateKey}\n`, { mode: 0o600 });
    const funder: Signer = await provider.getSigner(0);
    await (await funder.sendTransaction({ to: relayer.address, value: 10n ** 19n })).wait();
  });

  after(async () => {
    provider?.destroy();
    await Promise.all([net?.close(), anvil?.stop(), dir && rm(dir, { recursive: true, force: true })]);
  });

  const at = (i: number) => ['--data-dir', net.parties[i].dataDir];
  const names = (i: number) => `party-${i + 1}`;

  /** The one "waiting:" line of a run that stopped with exit 3: "1 of 2 approvals (self)", holders by name. */
  function waitingLine(r: Run, id: string): string {
    assert.equal(r.code, 3, r.stderr);
    const line = r.stderr.split('\n').find((l) => l.startsWith('waiting: '));
    assert.ok(line, r.stderr);
    assert.match(line, new RegExp(`request ${id} awaits approval: 1 of 2 approvals \\(self\\)`));
    assert.match(line, new RegExp(`held by (${names(1)}|${names(2)}) \\(approval`));
    assert.doesNotMatch(r.stderr, /NOT_ENOUGH_SIGNERS|^error:/m, 'a hold is no error');
    assert.doesNotMatch(line, /12D3KooW/, 'parties are named, not given by peer id');
    return line;
  }

  test('a held PSBT reports AWAITING_APPROVAL with its holders, exit 3; --wait completes it after one approval', async () => {
    const wallet = { root: walletRoot(hexToBytes(groupKey), hexToBytes(chainCode)), network: NET } as const;
    const payee = outsideAddress(testWallet(NET, 'payee').wallet, 0);
    const psbt = spendPsbt(wallet, {
      payments: [{ address: payee, amount: 60_000n }],
      utxos: [coin('held psbt', 500_000n)],
    }).toBase64();
    const args = ['btc', 'sign-psbt', '--key', 'vault', '--psbt', psbt, '--network', NET, ...at(0)];

    const first = waiting(await cli([...args, '--json']));
    assert.equal(first.held.kind, 'sign');
    assert.deepEqual(first.held.holders.map((h) => h.party).sort(), [net.ids[1], net.ids[2]].sort());
    assert.ok(first.held.holders.every((h) => h.code === 'APPROVAL_REQUIRED'));
    assert.deepEqual(first.held.approvals, [net.ids[0]]);
    assert.equal(first.held.needed, 2);
    assert.match(first.hint, new RegExp(`approvals approve ${first.held.id}`));

    // For people: one "waiting:" line, with names, "1 of 2 approvals", and no error wording.
    const text = await cli(args);
    waitingLine(text, first.held.id);
    // Shown before anything is asked: the outputs as this party decoded them.
    assert.match(text.stderr, new RegExp(`out #0 {2}60000 sat {2}${payee} {2}PAYMENT`));
    assert.match(text.stderr, /out #1 {2}\d+ sat {2}\S+ {2}change back to this key m\/1\/0/);

    // Party 2's hook was told, once, with the request as its queue shows it.
    let told: string | undefined;
    while (!told?.includes('\n')) told = await readFile(notified, 'utf8').catch(() => undefined);
    const hook = JSON.parse(told.trim().split('\n')[0]);
    assert.deepEqual([hook.shortId, hook.status, hook.key], [first.held.id, 'awaiting approval', 'vault']);
    assert.equal(told.trim().split('\n').length, 1, 'asked twice, told once');

    // The holder's queue shows the same id; --wait completes once party 2's operator approves.
    const queued = JSON.parse((await cli(['approvals', 'list', '--json', ...at(1)])).stdout);
    assert.ok(
      queued.some((e: { shortId: string }) => e.shortId === first.held.id),
      JSON.stringify(queued),
    );
    const waited = cli([...args, '--wait', '--json']);
    const ok = await cli(['approvals', 'approve', first.held.id, ...at(1)]);
    assert.equal(ok.code, 0, ok.stderr);
    const done = await waited;
    assert.equal(done.code, 0, done.stderr);
    const signed = JSON.parse(done.stdout);
    assert.deepEqual([...signed.signers].sort(), [net.ids[0], net.ids[1]].sort());
    assert.deepEqual(signed.inputs, [0]);
    const shown = JSON.parse((await cli(['approvals', 'show', first.held.id, '--json', ...at(1)])).stdout);
    assert.equal(shown.status, 'signed');
  });

  test('a held raw message: sign stops with exit 3 naming the holders, and sign --wait completes it after one approval', async () => {
    const args = ['sign', '--key', 'vault', '--message', 'c0ffee01', ...at(0)];
    const first = waiting(await cli([...args, '--json']));
    assert.deepEqual(first.held.holders.map((h) => h.party).sort(), [net.ids[1], net.ids[2]].sort());
    assert.deepEqual(first.held.approvals, [net.ids[0]]);
    const text = await cli(args);
    assert.match(waitingLine(text, first.held.id), /run the same command again .* or add --wait/);
    assert.doesNotMatch(text.stderr, /12D3KooW/, 'parties are named everywhere');

    // The holder's operator sees who asked, by name.
    const shown = await cli(['approvals', 'show', first.held.id, ...at(2)]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`requested  by ${names(0)} at `));
    assert.match(shown.stdout, /raw message, bip340/);
    assert.doesNotMatch(shown.stdout, /12D3KooW/);

    const waited = cli([...args, '--wait', '--json']);
    const ok = await cli(['approvals', 'approve', first.held.id, ...at(2)]);
    assert.equal(ok.code, 0, ok.stderr);
    const done = await waited;
    assert.equal(done.code, 0, done.stderr);
    const signed = JSON.parse(done.stdout);
    assert.equal(signed.verified, true);
    assert.deepEqual([...signed.signers].sort(), [net.ids[0], net.ids[2]].sort());
  });

  test('held typed data: evm sign-typed-data stops with exit 3, and --wait completes it after one approval', async () => {
    const typedData = JSON.stringify(executeData({ value: 7n, nonce: 41n }));
    const args = ['evm', 'sign-typed-data', '--key', 'vault', '--typed-data', typedData, ...at(0)];
    const first = waiting(await cli([...args, '--json']));
    assert.deepEqual(first.held.holders.map((h) => h.party).sort(), [net.ids[1], net.ids[2]].sort());
    const waited = cli([...args, '--wait']);
    const ok = await cli(['approvals', 'approve', first.held.id, ...at(1)]);
    assert.equal(ok.code, 0, ok.stderr);
    const done = await waited;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /^signature +[0-9a-f]{128}$/m);
    assert.match(done.stdout, new RegExp(`^signed by +(self, ${names(1)}|${names(1)}, self)$`, 'm'));
  });

  test("a request its holders reject fails with a message that names them by this party's names", async () => {
    const args = ['sign', '--key', 'vault', '--message', 'c0ffee02', ...at(0), '--json'];
    const first = waiting(await cli(args));
    for (const i of [1, 2]) {
      const r = await cli(['approvals', 'reject', first.held.id, ...at(i)]);
      assert.equal(r.code, 0, r.stderr);
    }
    const failed = await cli(['requests', 'show', first.request, '--wait', '--json', ...at(0)]);
    assert.equal(failed.code, 1, failed.stderr);
    const line = failed.stderr.trim();
    assert.match(line, /^error: key vault needs 2 signers, 1 left \(/);
    for (const i of [1, 2])
      assert.match(line, new RegExp(`${names(i)} refused: request ${first.held.id} was rejected by`));
    assert.doesNotMatch(line, /12D3KooW/, 'parties are named, not given by peer id');
    assert.match(line, / — the named parties refused it/);
    // For machines: the culprits stay peer ids, with this party's names beside them.
    const { error } = JSON.parse(failed.stdout.trim().split('\n').pop()!);
    assert.equal(error.code, 'NOT_ENOUGH_SIGNERS');
    assert.deepEqual([...error.culprits].sort(), [net.ids[1], net.ids[2]].sort());
    assert.deepEqual(error.names, { [net.ids[1]]: names(1), [net.ids[2]]: names(2) });
    // The daemon's own view says the same.
    const view = (await net.call(0, 'GET', `/v1/requests/${first.request}`)).json;
    assert.equal(view.state, 'failed');
    assert.doesNotMatch(view.error.message, /12D3KooW/);
    assert.equal(view.names[net.ids[1]], names(1));
  });

  test('a held EVM action asked again after the chain moved on is the same request, and goes through once approved', async () => {
    const funder: Signer = await provider.getSigner(0);
    const recipient = getAddress(await (await provider.getSigner(1)).getAddress());
    const px = evmKey(walletRoot(hexToBytes(groupKey), hexToBytes(chainCode)), 0).px;
    const factory = await deployFactory(funder);
    const account = await deployAccount(funder, factory, px);
    await (await funder.sendTransaction({ to: account, value: 10n ** 18n })).wait();
    const args = [
      'evm',
      'send',
      '--key',
      'vault',
      '--to',
      recipient,
      '--value',
      '0.25eth',
      '--rpc',
      anvil.rpcUrl,
      '--factory',
      factory,
      '--relayer-key-file',
      relayerFile,
      ...at(0),
    ];
    const first = waiting(await cli([...args, '--json']));
    assert.equal(first.held.needed, 2);
    assert.deepEqual(first.held.approvals, [net.ids[0]]);
    assert.equal(first.held.holders.length, 2);

    // The chain moves on: blocks and time. A fresh deadline would make another request.
    for (let i = 0; i < 5; i++) await provider.send('evm_mine', []);
    await provider.send('evm_increaseTime', [120]);
    await provider.send('evm_mine', []);

    const before = await provider.getBalance(recipient);
    const again = cli([...args, '--wait', '--json']);
    const ok = await cli(['approvals', 'approve', first.held.id, ...at(2)]);
    assert.equal(ok.code, 0, ok.stderr);
    const done = await again;
    assert.equal(done.code, 0, done.stderr);
    const r = JSON.parse(done.stdout);
    assert.equal(r.nonce, '0');
    assert.deepEqual([...r.signers].sort(), [net.ids[0], net.ids[2]].sort());
    assert.equal((await provider.getBalance(recipient)) - before, 25n * 10n ** 16n);
    // One EVM action for this account asked at the coordinator, one entry in the holder's queue: the same
    // request throughout.
    const ours = (a: string) => a.toLowerCase() === account.toLowerCase();
    const asked = (await net.call(0, 'GET', '/v1/requests?key=vault')).json.filter(
      (v: { asked?: { typedData?: string } }) =>
        v.asked?.typedData && ours(JSON.parse(v.asked.typedData).domain.verifyingContract),
    );
    assert.equal(asked.length, 1);
    const queue = JSON.parse((await cli(['approvals', 'list', '--all', '--json', ...at(2)])).stdout);
    const evm = queue.filter(
      (e: { details: { kind: string; account?: string } }) =>
        e.details.kind === 'typedData' && ours(e.details.account ?? ''),
    );
    assert.deepEqual(
      evm.map((e: { shortId: string; status: string }) => [e.shortId, e.status]),
      [[first.held.id, 'signed']],
    );
  });

  test('an EVM action the account cannot pay for is refused before anything is signed or held', async () => {
    const funder: Signer = await provider.getSigner(0);
    const px = evmKey(walletRoot(hexToBytes(groupKey), hexToBytes(chainCode)), 0).px;
    const factory = await deployFactory(funder);
    const account = await deployAccount(funder, factory, px);
    await (await funder.sendTransaction({ to: account, value: 10n ** 18n })).wait();
    const asked = async () =>
      (await net.call(0, 'GET', '/v1/requests?key=vault')).json.filter(
        (v: { asked?: { typedData?: string } }) => v.asked?.typedData,
      ).length;
    const before = await asked();
    const r = await cli([
      'evm',
      'send',
      '--key',
      'vault',
      '--to',
      `0x${'12'.repeat(20)}`,
      '--value',
      '5eth',
      '--rpc',
      anvil.rpcUrl,
      '--factory',
      factory,
      '--relayer-key-file',
      relayerFile,
      ...at(0),
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `^error: account ${account} holds 1 ETH, less than the 5 ETH to send; nothing was signed — fund`,
        'm',
      ),
    );
    assert.match(r.stderr, /value {5}5 ETH \(5000000000000000000 wei\)/);
    assert.equal(await asked(), before, 'the parties were not asked');
  });

  test('a coordinator that restarted says the request was lost, and the same ask is the same request again', async () => {
    const wallet = { root: walletRoot(hexToBytes(groupKey), hexToBytes(chainCode)), network: NET } as const;
    const payee = outsideAddress(testWallet(NET, 'payee').wallet, 1);
    const psbt = spendPsbt(wallet, {
      payments: [{ address: payee, amount: 70_000n }],
      utxos: [coin('lost psbt', 300_000n)],
    }).toBase64();
    const args = ['btc', 'sign-psbt', '--key', 'vault', '--psbt', psbt, '--network', NET, ...at(0), '--json'];
    const first = waiting(await cli(args));
    await net.kill(0);
    await net.start(0);
    const lost = await cli(['requests', 'show', first.request, '--wait', ...at(0)]);
    assert.equal(lost.code, 1, lost.stderr);
    assert.match(
      lost.stderr,
      new RegExp(
        `^error: the daemon at \\S+ no longer knows request ${first.request} \\(it restarted at [0-9T:.-]+Z\\): .* — ask again with the same command`,
        'm',
      ),
    );
    const again = waiting(await cli(args));
    assert.notEqual(again.request, first.request, 'a new request at the restarted coordinator ...');
    assert.equal(again.held.id, first.held.id, '... that is the same request at every party');
  });
});
