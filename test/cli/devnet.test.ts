/** `npm run devnet`: up in the foreground, usable through the CLI, stopped from another process, cleaned. */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ROOT } from '../../deploy/local-network.ts';
import { cleanEnv, frostnetJson, NODE, runScript, waitForLine } from './helpers.ts';

const DEVNET = join(ROOT, 'deploy/devnet.ts');
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

describe('devnet', () => {
  let root: string | undefined;
  let proc: ChildProcess | undefined;
  after(async () => {
    if (root) {
      // Stops the devnet (and its daemons) however the test ended.
      await runScript(DEVNET, ['stop', '--dir', join(root, 'net')]);
      await rm(root, { recursive: true, force: true });
    }
  });

  test('two connected parties; the CLI works against them; stop and clean', async () => {
    root = await mkdtemp(join(tmpdir(), 'frostnet-devnet-'));
    const dir = join(root, 'net');
    proc = spawn(NODE, [DEVNET, '--parties', '2', '--threshold', '2', '--dir', dir], {
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => proc!.once('exit', (code) => r(code)));
    await waitForLine(proc, /Ctrl-C stops the devnet/);

    const env = { FROSTNET_DATA_DIR: join(dir, 'party-2') };
    const status = await frostnetJson(['status'], env);
    assert.equal(status.peers.length, 1);
    const key = await frostnetJson(['keygen', '--name', 'dev', '--threshold', '2'], env);
    assert.equal(key.members.length, 2, 'keygen defaults to every configured party');

    const stop = await runScript(DEVNET, ['stop', '--dir', dir]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(await exited, 0, 'the foreground devnet ends cleanly');
    for (const i of [1, 2]) assert.equal(await exists(join(dir, `party-${i}`, 'daemon.json')), false);

    const clean = await runScript(DEVNET, ['clean', '--dir', dir]);
    assert.equal(clean.code, 0, clean.stderr);
    assert.equal(await exists(dir), false);
  });
});
