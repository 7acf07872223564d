import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  type Config,
  ConfigFile,
  DEFAULT_LIMITS,
  defaultConfig,
  loadConfig,
  parseConfig,
  saveConfig,
} from '../../node/config.ts';
import { generateIdentity, peerIdOf } from '../../node/storage/identity.ts';
import { FrostnetError } from '../../protocol/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'frostnet-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const PEER = '12D3KooWLgpS7B6N9RMbPKqna3V2wBWDpsJnVWPNP6gSiycgCu56';
const OTHER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN';

const fieldError = (field: string, pattern?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof FrostnetError, `expected FrostnetError, got ${String(e)}`);
  assert.equal(e.code, 'INVALID_INPUT');
  assert.ok(e.message.includes(`"${field}"`), `message should name ${field}: ${e.message}`);
  if (pattern) assert.match(e.message, pattern);
  return true;
};

describe('config', () => {
  test('only dataDir is required; everything else has a default', () => {
    const cfg = parseConfig({ dataDir: '/var/lib/frostnet' });
    assert.deepEqual(cfg, {
      dataDir: '/var/lib/frostnet',
      listen: ['/ip4/127.0.0.1/tcp/0'],
      api: { host: '127.0.0.1', port: 0 },
      peers: [],
      logLevel: 'info',
      limits: {
        maxFrameBytes: 1048576,
        maxSessionsPerPeer: 256,
        maxQueuedRequests: 1024,
        roundTimeoutMs: 20000,
      },
    });
    assert.deepEqual(defaultConfig('/var/lib/frostnet'), cfg);
    assert.deepEqual(cfg.limits, DEFAULT_LIMITS);
  });

  test('a full config is accepted as written; partial limits keep the other defaults', () => {
    const input = {
      dataDir: '/d',
      listen: ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4001'],
      api: { host: '::1', port: 8080 },
      peers: [
        { id: PEER, addrs: [`/ip4/127.0.0.1/tcp/4002/p2p/${PEER}`], name: 'bob' },
        { id: OTHER, addrs: [] },
      ],
      passphraseEnv: 'PARTY_PASS',
      passphraseFile: '/run/secrets/pass',
      logLevel: 'debug',
      limits: { roundTimeoutMs: 5000 },
    };
    const cfg = parseConfig(input);
    assert.deepEqual(cfg, { ...input, limits: { ...DEFAULT_LIMITS, roundTimeoutMs: 5000 } });
  });

  test('validation errors name the field', () => {
    const ok = { dataDir: '/d' };
    const cases: Array<[unknown, string, RegExp?]> = [
      [[], '(top level)', /object/],
      [{}, 'dataDir', /required/],
      [{ dataDir: '' }, 'dataDir', /non-empty/],
      [{ ...ok, listen: [] }, 'listen', /at least one/],
      [{ ...ok, listen: ['not a multiaddr'] }, 'listen[0]', /not a multiaddr/],
      [{ ...ok, listen: ['/ip4/127.0.0.1/udp/1'] }, 'listen[0]', /TCP/],
      [{ ...ok, api: { host: '0.0.0.0' } }, 'api.host', /loopback/],
      [{ ...ok, api: { port: 70000 } }, 'api.port', /0 to 65535/],
      [{ ...ok, api: { port: '80' } }, 'api.port'],
      [{ ...ok, api: { prot: 1 } }, 'api.prot', /not a known field/],
      [{ ...ok, peers: {} }, 'peers', /array/],
      [{ ...ok, peers: [{ id: 'nope', addrs: [] }] }, 'peers[0].id', /not a valid peer id/],
      [{ ...ok, peers: [{ id: PEER }, { id: PEER }] }, 'peers[1].id', /repeats/],
      [{ ...ok, peers: [{ id: PEER, addrs: ['/ip4/1.2.3.4'] }] }, 'peers[0].addrs[0]', /TCP/],
      [
        { ...ok, peers: [{ id: PEER, addrs: [`/ip4/127.0.0.1/tcp/1/p2p/${OTHER}`] }] },
        'peers[0].addrs[0]',
        /names peer/,
      ],
      [{ ...ok, peers: [{ id: PEER, addrs: [], name: 3 }] }, 'peers[0].name'],
      [{ ...ok, passphraseEnv: 'BAD-NAME' }, 'passphraseEnv', /environment variable name/],
      [{ ...ok, passphrase: 'hunter2' }, 'passphrase', /not a known field/],
      [{ ...ok, logLevel: 'verbose' }, 'logLevel', /debug, info, warn, error/],
      [{ ...ok, limits: { maxFrameBytes: 10 } }, 'limits.maxFrameBytes', /1024 to/],
      [{ ...ok, limits: { roundTimeoutMs: 1.5 } }, 'limits.roundTimeoutMs', /integer/],
      [{ ...ok, limits: { maxSessions: 1 } }, 'limits.maxSessions', /not a known field/],
    ];
    for (const [input, field, pattern] of cases) {
      assert.throws(() => parseConfig(input), fieldError(field, pattern), `case ${JSON.stringify(input)}`);
    }
  });

  test('loadConfig resolves relative paths against the config file and names the file in errors', async () => {
    const file = join(dir, 'party.json');
    writeFileSync(file, JSON.stringify({ dataDir: 'data', passphraseFile: 'secret/pass' }));
    const cfg = await loadConfig(file);
    assert.equal(cfg.dataDir, join(dir, 'data'));
    assert.equal(cfg.passphraseFile, join(dir, 'secret/pass'));

    writeFileSync(file, JSON.stringify({ dataDir: 'data', logLevel: 'loud' }));
    await assert.rejects(loadConfig(file), fieldError('logLevel', new RegExp(`config ${file}`)));
    writeFileSync(file, '{ "dataDir": ');
    await assert.rejects(loadConfig(file), /not valid JSON/);
    await assert.rejects(loadConfig(join(dir, 'missing.json')), /does not exist/);
  });

  test('saveConfig round trips, replaces atomically and leaves no temporary file', async () => {
    const sub = mkdtempSync(join(dir, 'save-'));
    const file = join(sub, 'config.json');
    const cfg: Config = {
      ...defaultConfig(join(sub, 'data')),
      peers: [{ id: PEER, addrs: ['/ip4/127.0.0.1/tcp/4002'], name: 'bob' }],
    };
    await saveConfig(file, cfg);
    assert.deepEqual(await loadConfig(file), cfg);
    assert.equal(statSync(file).mode & 0o077, 0, 'the config is private to its owner');

    const updated = { ...cfg, logLevel: 'warn' as const };
    await saveConfig(file, updated);
    assert.deepEqual(await loadConfig(file), updated);

    // An invalid config is refused before anything is written.
    const before = readFileSync(file, 'utf8');
    await assert.rejects(
      saveConfig(file, { ...cfg, api: { host: '8.8.8.8', port: 1 } }),
      fieldError('api.host'),
    );
    assert.equal(readFileSync(file, 'utf8'), before);
    assert.deepEqual(readdirSync(sub).sort(), ['config.json']);
  });

  test('concurrent changes of a running config are all kept, in memory and on disk; a refused one changes nothing', async () => {
    const sub = mkdtempSync(join(dir, 'concurrent-'));
    const file = join(sub, 'config.json');
    const cfg = defaultConfig(join(sub, 'data'));
    await saveConfig(file, cfg);
    const config = new ConfigFile(file, cfg);
    const ids = await Promise.all(Array.from({ length: 12 }, async () => peerIdOf(await generateIdentity())));
    const bad = config.update((c) => ({ ...c, api: { host: '8.8.8.8', port: 1 } }));
    await Promise.all([
      ...ids.map((id) => config.update((c) => ({ ...c, peers: [...c.peers, { id, addrs: [] }] }))),
      assert.rejects(bad, fieldError('api.host')),
    ]);
    const kept = (c: Config) => c.peers.map((p) => p.id).sort();
    assert.deepEqual(kept(config.current), [...ids].sort());
    assert.deepEqual(kept(await loadConfig(file)), [...ids].sort());
    assert.equal(config.current.api.host, '127.0.0.1');
  });
});
