/**
 * The pieces every harness of local daemons shares (deploy/local-network.ts): the ready line `frostnet start`
 * prints, a child that exits or prints something else first, and the peers written into a config. The
 * children here are small Node scripts standing in for a daemon.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { othersOf, readyLine, writePeers } from '../../deploy/local-network.ts';
import { defaultConfig, loadConfig, saveConfig } from '../../node/config.ts';
import { generateIdentity, peerIdOf } from '../../node/storage/identity.ts';

const child = (script: string) =>
  spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });

test('the ready line is the first JSON line; what follows flows on unread', async () => {
  const proc = child(
    "process.stdout.write('{\"api\":\"http://127.0.0.1:1\"}\\n' + 'x'.repeat(1 << 20) + '\\n'); setTimeout(() => {}, 200)",
  );
  const exited = new Promise((r) => proc.once('exit', r));
  assert.deepEqual(await readyLine(proc, { name: 'p', why: () => '' }), { api: 'http://127.0.0.1:1' });
  assert.equal(await exited, 0, 'the child is never blocked on a full pipe');
});

test('a child that exits first, or prints something else, is an error naming it and what it said', async () => {
  await assert.rejects(
    readyLine(child('process.exit(3)'), { name: 'party 2', why: () => 'bad passphrase' }),
    {
      message: 'party 2 exited (3) before it was ready: bad passphrase',
    },
  );
  await assert.rejects(readyLine(child("console.log('hello')"), { name: 'party 3', why: () => '' }), {
    message: 'party 3 printed an unexpected first line: hello',
  });
});

test("each party's config lists the others, not itself, with the settings given", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'frostnet-peers-'));
  try {
    const ids = await Promise.all([0, 1, 2].map(async () => peerIdOf(await generateIdentity())));
    const all = ids.map((id, i) => ({
      id,
      addrs: [`/ip4/127.0.0.1/tcp/${4000 + i}`],
      name: `party-${i + 1}`,
    }));
    const file = join(dir, 'config.json');
    await saveConfig(file, defaultConfig(dir));
    await writePeers(file, othersOf(ids[1] ?? '', all), () => ({ logLevel: 'warn' }));
    const cfg = await loadConfig(file);
    assert.deepEqual(
      cfg.peers.map((p) => p.name),
      ['party-1', 'party-3'],
    );
    assert.equal(cfg.logLevel, 'warn');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
