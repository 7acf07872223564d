/**
 * A daemon starts without the chain libraries: ethers and bitcoinjs-lib load with the first request (or policy
 * rule) that needs them, not at start (docs/performance.md, "Idle RSS"). Checked on the packages a real daemon,
 * started in a child process, resolved; not on its memory, which moves with the machine.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../cli/listen.ts';
import { initParty } from '../../node/init.ts';
import { POLICY_FILE } from '../../node/policy/format.ts';
import { testWallet } from '../bitcoin/helpers.ts';
import { NODE, PASSPHRASE, ROOT } from '../helpers/network.ts';
import { outsideAddress } from './policy/helpers.ts';

const CHAIN_LIBRARIES = ['bitcoinjs-lib', 'ethers'];

/** The npm packages a daemon with this policy file (none: undefined) resolved from start to stop. */
async function packagesOfDaemon(policy: unknown): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'frostnet-footprint-'));
  try {
    const { configPath } = await initParty({
      dataDir: dir,
      listen: [`/ip4/127.0.0.1/tcp/${await freePort()}`],
      passphrase: PASSPHRASE,
    });
    if (policy !== undefined) await writeFile(join(dir, POLICY_FILE), JSON.stringify(policy));
    const { stdout } = await promisify(execFile)(
      NODE,
      [join(ROOT, 'test/helpers/loaded-packages.ts'), configPath],
      { env: { ...process.env, FROSTNET_TEST_PASSPHRASE: PASSPHRASE } },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1)!);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a daemon starts without ethers and bitcoinjs-lib, with or without a policy file', async () => {
  const policy = {
    default: {
      rawMessages: true,
      bitcoin: { maxSentPerTx: '0.1 btc' },
      evm: { targets: [`0x${'ab'.repeat(20)}`] },
    },
  };
  for (const p of [undefined, policy]) {
    const loaded = await packagesOfDaemon(p);
    assert.ok(loaded.includes('libp2p'), `the hook saw the daemon's packages: ${loaded.join(', ')}`);
    for (const lib of CHAIN_LIBRARIES)
      assert.ok(!loaded.includes(lib), `${lib} loaded at start (policy: ${JSON.stringify(p)})`);
  }
});

test('a policy that names a Bitcoin destination loads the decoders it needs to check it', async () => {
  const payee = outsideAddress(testWallet('regtest', 'payee').wallet, 0);
  const loaded = await packagesOfDaemon({ default: { bitcoin: { destinations: [payee] } } });
  assert.ok(loaded.includes('bitcoinjs-lib'), `bitcoinjs-lib not loaded: ${loaded.join(', ')}`);
});
