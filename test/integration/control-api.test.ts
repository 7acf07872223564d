/**
 * The control API of real daemons under a caller that holds the wrong credential or sends bad input: a request
 * token cannot approve, export, erase or change peers; a forged Host header and a missing token are refused;
 * bad ceremony parameters and malformed paths are answered 400 up front, unknown routes and keys 404; and
 * concurrent peer additions are all kept.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../node/config.ts';
import { generateIdentity, peerIdOf } from '../../node/storage/identity.ts';
import { assertOneLineError, frostnet } from '../cli/helpers.ts';
import { getWithHost } from '../helpers/http.ts';
import { Network } from '../helpers/network.ts';

describe('control API of a daemon', () => {
  let net: Network;

  before(async () => {
    net = await Network.create(3);
    await net.startAll();
    const dkg = await net.keygen(0, 'vault', 2);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
  });
  after(async () => net?.close());

  test('a request token is refused for approve, backup export, erase and peers add; nothing changes', async () => {
    const peersBefore = await readFile(net.parties[0].configPath, 'utf8');
    const outsider = peerIdOf(await generateIdentity());
    for (const [path, body] of [
      ['/v1/approvals/0123456789abcdef/approve', {}],
      ['/v1/keys/vault/backup', { passphrase: 'a long backup passphrase' }],
      ['/v1/keys/vault/erase', { confirm: 'vault' }],
      ['/v1/peers', { id: outsider, addrs: [] }],
      ['/v1/backups', { backup: {}, passphrase: 'a long backup passphrase' }],
    ] as const) {
      const r = await net.call(0, 'POST', path, body, 'request');
      assert.equal(r.status, 403, `${path}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error.code, 'WRONG_SCOPE');
    }
    assert.equal((await net.call(0, 'GET', '/v1/keys/vault')).status, 200, 'the share is still there');
    assert.equal(await readFile(net.parties[0].configPath, 'utf8'), peersBefore, 'no peer was added');
    // Neither can the approve token administer, nor the admin token ask for signatures.
    assert.equal(
      (await net.call(0, 'POST', '/v1/keys/vault/erase', { confirm: 'vault' }, 'approve')).status,
      403,
    );
    assert.equal((await net.call(0, 'POST', '/v1/keys/vault/sign', { message: 'ab' }, 'admin')).status, 403);
  });

  test('the CLI given a request token for an admin command prints one line naming the admin token', async () => {
    const dataDir = net.parties[0].dataDir;
    assertOneLineError(
      await frostnet(['keys', 'erase', '--key', 'vault', '--confirm', 'vault', '--data-dir', dataDir], {
        FROSTNET_TOKEN: net.token(0, 'request'),
      }),
      1,
      /needs the admin token.*tokens\/admin/,
    );
    assert.equal((await net.call(0, 'GET', '/v1/keys/vault')).status, 200);
  });

  test('a forged Host header is refused, even with the right token', async () => {
    const { port } = new URL(net.parties[0].api!);
    const answer = await getWithHost({
      port,
      path: '/v1/keys',
      host: `rebound.example:${port}`,
      token: net.token(0, 'admin'),
    });
    assert.equal(answer.status, 403);
    assert.equal(JSON.parse(answer.body).error.code, 'WRONG_HOST');
    assert.doesNotMatch(answer.body, /vault/);
  });

  test('/metrics needs a token', async () => {
    const api = net.parties[0].api!;
    assert.equal((await fetch(`${api}/metrics`)).status, 401);
    const res = await fetch(`${api}/metrics`, {
      headers: { authorization: `Bearer ${net.token(0, 'metrics')}` },
    });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^frostnet_keys 1$/m);
  });

  test('bad ceremony parameters are answered 400 naming the field, before anything starts', async () => {
    const ids = net.ids;
    const many = Array.from({ length: 100_000 }, () => ids[1]);
    for (const [path, body, field] of [
      ['/v1/keys', { name: 'k0', threshold: 0, parties: ids }, 'threshold'],
      ['/v1/keys', { name: 'k1', threshold: 2, parties: many }, 'parties'],
      ['/v1/keys', { name: '../evil', threshold: 2, parties: ids }, 'name'],
      ['/v1/keys/vault/reshare', { threshold: 9, parties: ids }, 'threshold'],
      ['/v1/keys/vault/repair', { party: 'party-2' }, 'party'],
      ['/v1/keys/vault/sign', { message: 'not hex' }, 'message'],
    ] as const) {
      const r = await net.call(0, 'POST', path, body);
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.json).slice(0, 200)}`);
      assert.ok(r.json.error.message.includes(`"${field}"`), r.json.error.message);
    }
    const status = await net.call(0, 'GET', '/v1/status');
    assert.equal(status.json.requestsRunning, 0, 'no request was started');
    assert.equal((await net.call(0, 'GET', '/v1/keys/k0')).status, 404);
  });

  test('unknown routes and keys are 404, a malformed escape is 400, never a 500', async () => {
    for (const [path, status] of [
      ['/v1/nope', 404],
      ['/v1/keys/nope', 404],
      ['/v1/requests/nope', 404],
      ['/v1/keys/%E0%A4%A', 400],
    ] as const) {
      const r = await net.call(0, 'GET', path);
      assert.equal(r.status, status, `${path}: ${JSON.stringify(r.json)}`);
    }
  });

  test('12 concurrent peer additions are all kept, in the config and in the daemon', async () => {
    const added = await Promise.all(
      Array.from({ length: 12 }, async () => peerIdOf(await generateIdentity())),
    );
    const answers = await Promise.all(
      added.map((id, i) => net.call(1, 'POST', '/v1/peers', { id, addrs: [], name: `extra-${i}` })),
    );
    for (const a of answers) assert.equal(a.status, 200, JSON.stringify(a.json));
    const listed = (await net.call(1, 'GET', '/v1/peers')).json.map((p: { id: string }) => p.id);
    const saved = (await loadConfig(net.parties[1].configPath)).peers.map((p) => p.id);
    for (const id of added) {
      assert.ok(listed.includes(id), `listed ${id}`);
      assert.ok(saved.includes(id), `saved ${id}`);
    }
    assert.equal(saved.length, 2 + 12, 'the other two parties and the twelve');
  });
});
