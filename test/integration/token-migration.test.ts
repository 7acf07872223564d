/**
 * A data dir made before scoped tokens (one api-token for everything) under today's `frostnet start`: the
 * daemon creates one token per scope and retires the old one, which then opens nothing and is told what to use
 * now; the identity, keys, config and policy are all still there.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../../cli/listen.ts';
import { LOG_FILE, spawnDaemon, stopChild } from '../../deploy/local-network.ts';
import { TOKEN_SCOPES, TOKENS_DIR, tokenFile } from '../../node/api/credentials.ts';
import { assertOneLineError, frostnet, frostnetJson, lightStore } from '../cli/helpers.ts';
import { makeKey } from '../helpers/keys.ts';
import { type LegacyParty, makeLegacyParty } from '../helpers/legacy-party.ts';

const PASSPHRASE = 'token migration passphrase';
const PEER = '12D3KooWLgpS7B6N9RMbPKqna3V2wBWDpsJnVWPNP6gSiycgCu56';

describe('a data dir from before scoped tokens', () => {
  let root: string;
  let dataDir: string;
  let legacy: LegacyParty;
  let daemon: ChildProcess | undefined;
  let api: string;
  let policyBefore: string;
  let configBefore: unknown;
  const share = makeKey(2, 3).get('party-1')!;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'frostnet-migration-'));
    dataDir = join(root, 'alice');
    const passphraseFile = join(root, 'passphrase');
    await writeFile(passphraseFile, `${PASSPHRASE}\n`, { mode: 0o600 });
    await lightStore(dataDir, PASSPHRASE);
    const listen = `/ip4/127.0.0.1/tcp/${await freePort()}`;
    legacy = await makeLegacyParty({
      dataDir,
      listen: [listen],
      passphrase: PASSPHRASE,
      passphraseFile,
      keys: new Map([['vault', share]]),
    });
    // What else an operator had there: a peer in the config and a policy file.
    const config = JSON.parse(await readFile(legacy.configPath, 'utf8'));
    config.peers = [{ id: PEER, addrs: ['/ip4/127.0.0.1/tcp/4999'], name: 'bob' }];
    await writeFile(legacy.configPath, JSON.stringify(config, null, 2));
    policyBefore = `${JSON.stringify({ version: 1, default: {} })}\n`;
    await writeFile(join(dataDir, 'policy.json'), policyBefore);
    configBefore = config;
    const started = spawnDaemon({
      name: 'alice',
      configPath: legacy.configPath,
      log: join(dataDir, LOG_FILE),
    });
    daemon = started.proc;
    api = await started.ready;
  });
  after(async () => {
    if (daemon) await stopChild(daemon);
    await rm(root, { recursive: true, force: true });
  });

  test('start creates one token per scope, private, and deletes the old one', async () => {
    await assert.rejects(access(join(dataDir, 'api-token')), 'the api-token is gone');
    assert.equal((await stat(join(dataDir, TOKENS_DIR))).mode & 0o777, 0o700);
    const tokens = await Promise.all(TOKEN_SCOPES.map((s) => readFile(tokenFile(dataDir, s), 'utf8')));
    assert.equal(new Set([...tokens.map((t) => t.trim()), legacy.token]).size, TOKEN_SCOPES.length + 1);
    for (const s of TOKEN_SCOPES) assert.equal((await stat(tokenFile(dataDir, s))).mode & 0o777, 0o600, s);
  });

  test('nothing else is lost: the same identity, key, peers and policy', async () => {
    const env = { FROSTNET_DATA_DIR: dataDir };
    const status = await frostnetJson(['status'], env);
    assert.equal(status.peerId, legacy.peerId);
    const keys = await frostnetJson(['keys'], env);
    assert.deepEqual(
      keys.map((k: { name: string }) => k.name),
      ['vault'],
    );
    const peers = await frostnetJson(['peers', 'list'], env);
    assert.deepEqual(
      peers.map((p: { id: string; name: string }) => [p.id, p.name]),
      [[PEER, 'bob']],
    );
    assert.equal(await readFile(join(dataDir, 'policy.json'), 'utf8'), policyBefore);
    const config = JSON.parse(await readFile(legacy.configPath, 'utf8'));
    assert.deepEqual(config.peers, (configBefore as { peers: unknown }).peers);
  });

  test('the old token opens nothing, and its refusal says what to use now', async () => {
    const res = await fetch(`${api}/v1/status`, {
      headers: { authorization: `Bearer ${legacy.token}` },
    });
    assert.equal(res.status, 401);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'TOKEN_RETIRED');
    assert.ok(error.message.includes(tokenFile(dataDir, 'request')), error.message);
    assertOneLineError(
      await frostnet(['keys', '--data-dir', dataDir], { FROSTNET_TOKEN: legacy.token }),
      1,
      /retired api-token.*tokens\/request/,
    );
  });
});
