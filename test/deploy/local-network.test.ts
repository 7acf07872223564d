/**
 * The harness of local daemons (deploy/local-network.ts) that the devnet, the demo, the tests and the benchmark
 * use: the ready line `frostnet start` prints, a child that exits or prints something else first, the peers
 * written into a config, and the LocalNetwork around them: creating parties, starting, logging, crashing,
 * stopping and calling. The daemons here are small Node scripts standing in for one (stand-in-daemon.ts); the
 * harness with real daemons is what every integration test and the devnet test run on.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  LOG_FILE,
  LocalNetwork,
  type LocalNetworkSettings,
  othersOf,
  readyLine,
  writePeers,
} from '../../deploy/local-network.ts';
import { DAEMON_NODE_OPTIONS } from '../../deploy/node-options.ts';
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

const STAND_IN = join(import.meta.dirname, 'stand-in-daemon.ts');
const PASSPHRASE = 'harness test passphrase';
/** Parties whose daemons are the stand-in: a given passphrase and the lightest store the store allows. */
const standIns = (n: number, s: LocalNetworkSettings = {}) =>
  LocalNetwork.create(n, { passphrase: PASSPHRASE, kdfN: 2 ** 10, entry: STAND_IN, ...s });

describe('a LocalNetwork', () => {
  let net: LocalNetwork;
  before(async () => {
    net = await standIns(3, { outsiders: 1, logLevel: 'debug', roundTimeoutMs: 1234, log: { tail: 300 } });
  });
  after(() => net?.close());

  test('each config lists the other parties and the outsiders, with the settings given', async () => {
    for (const p of net.parties) {
      const cfg = await loadConfig(p.configPath);
      assert.deepEqual(
        cfg.peers.map((q) => [q.id, q.addrs, q.name]),
        [
          ...net.parties.filter((q) => q !== p).map((q) => [q.peerId, [q.listen], q.name]),
          [peerIdOf(net.outsiders[0]!), [], 'outsider-1'],
        ],
      );
      assert.equal(cfg.logLevel, 'debug');
      assert.equal(cfg.limits.roundTimeoutMs, 1234);
      assert.deepEqual(cfg.listen, [p.listen]);
    }
    assert.equal(new Set(net.parties.map((p) => p.listen)).size, 3, 'a port each');
  });

  test("a process runs the entry with the network's environment, passphrase and the start's flags", async () => {
    await net.start(0, { nodeArgs: ['--no-warnings'], env: { STAND_IN_EXTRA: 'yes' } });
    const said = net.logTail(0);
    assert.match(said, new RegExp(`config=${net.parties[0].configPath} passphrase=${PASSPHRASE}`));
    assert.match(said, /flags=--no-warnings /);
    // The deployed options follow whatever NODE_OPTIONS the test runner itself was given.
    assert.ok(
      new RegExp(`options=(\\S+ )*${DAEMON_NODE_OPTIONS} `).test(said),
      `the deployed Node options: ${said}`,
    );
    assert.match(said, /extra=yes/);
    await assert.rejects(net.start(0), /party-1 is running already/);
    await net.stop(0);
    assert.equal(net.parties[0].crashed, undefined, 'a stop is no crash');
  });

  test('the tail sink keeps only the tail of what a daemon says', async () => {
    await net.start(1, { env: { STAND_IN_NOISE: '5000' } });
    // The noise follows the ready line: wait until it is all in.
    while (!net.parties[1].log.join('').endsWith('x'.repeat(300)))
      await once(net.parties[1].proc!.stderr!, 'data');
    assert.equal(net.parties[1].log.join('').length, 300);
    await net.stop(1);
  });

  test('a daemon that exits unasked is a crash, saying how and what it said; a kill is none', async () => {
    await net.start(2);
    const proc = net.parties[2].proc!;
    const exited = once(proc, 'exit');
    await assert.rejects(net.call(2, 'POST', '/exit', {}), /POST \/exit on party-3: fetch failed/);
    await exited;
    assert.match(net.parties[2].crashed ?? '', /^exited with 3: config=/);
    await net.start(2);
    assert.equal(net.parties[2].crashed, undefined, 'a new start forgets the crash');
    await net.kill(2);
    assert.equal(net.parties[2].crashed, undefined);
  });

  test('call sends the token of the scope asked, the request token by default', async () => {
    await net.start(0);
    const plain = await net.call(0, 'GET', '/v1/status');
    assert.equal(plain.json.authorization, `Bearer ${net.token(0, 'request')}`);
    const admin = await net.call(0, 'POST', '/v1/peers', { x: 1 }, 'admin');
    assert.deepEqual(
      [admin.json.authorization, admin.json.body],
      [`Bearer ${net.token(0, 'admin')}`, '{"x":1}'],
    );
    assert.notEqual(net.token(0, 'admin'), net.token(0, 'request'));
    await net.stop(0);
  });

  test('run posts a request and follows it through settling to its end; follow can stop earlier', async () => {
    await net.start(0);
    assert.deepEqual(await net.must(0, '/v1/keys', {}), 'signed');
    const { json } = await net.call(0, 'POST', '/v1/keys', {});
    assert.equal((await net.follow(0, json.id, ['running'])).state, 'settling');
    await net.stop(0);
  });
});

test('a start that fails names the party and the last error line of its log file', async () => {
  const net = await standIns(1, { log: 'file' });
  try {
    const file = join(net.parties[0].dataDir, LOG_FILE);
    await assert.rejects(
      net.start(0, { env: { STAND_IN_EXIT: '7' } }),
      (e: Error) => e.message === `party-1 exited (7) before it was ready: error: told to fail (see ${file})`,
    );
    assert.match(await readFile(file, 'utf8'), /error: told to fail/);
  } finally {
    await net.close();
  }
  await assert.rejects(stat(net.dir), 'close deletes the temporary directory');
});

test('stop sends SIGTERM, then SIGKILL after the grace period; startAll starts every daemon', async () => {
  const net = await standIns(2, { stopGraceMs: 200, startConcurrency: 1, log: 'memory' });
  try {
    await net.startAll(() => ({ env: { STAND_IN_IGNORE_TERM: '1' } }));
    const procs = net.parties.map((p) => p.proc!);
    assert.ok(procs.every((p) => p.pid !== undefined && p.exitCode === null));
    await net.stopAll();
    assert.deepEqual(
      procs.map((p) => p.signalCode),
      ['SIGKILL', 'SIGKILL'],
    );
  } finally {
    await net.close();
  }
});

test('a generated passphrase is in a private file inside the data dir, which the config names', async () => {
  const net = await LocalNetwork.create(1, { kdfN: 2 ** 10 });
  try {
    const p = net.parties[0];
    const cfg = await loadConfig(p.configPath);
    assert.equal(cfg.passphraseFile, join(p.dataDir, 'passphrase'));
    assert.equal((await stat(cfg.passphraseFile)).mode & 0o777, 0o600);
    assert.equal((await readFile(cfg.passphraseFile, 'utf8')).trim().length, 43, '32 random bytes');
  } finally {
    await net.close();
  }
});
