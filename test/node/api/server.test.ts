/**
 * The control API in front of a recording backend: routes that do not exist are 404 (405 for another method),
 * bad input is a 400 naming the field before anything starts and never a 500, each token opens only its own
 * scope's routes and reading, and a request naming another host is refused.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { Credentials, grants, TOKEN_SCOPES, type TokenScope } from '../../../node/api/credentials.ts';
import { findRoute, pathSegments, ROUTES } from '../../../node/api/routes.ts';
import { ControlApi } from '../../../node/api/server.ts';
import { API_FIXTURE, recordingBackend } from '../../helpers/api-backend.ts';
import { getWithHost } from '../../helpers/http.ts';

const { ids } = API_FIXTURE;
const [SELF, BOB, CAROL, STRANGER] = ids;

let dir: string;
let api: ControlApi;
let url: string;
let tokens: Record<TokenScope, string>;
let port: number;
const rec = recordingBackend();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frostnet-api-'));
  const { credentials, files } = await Credentials.open(dir);
  tokens = files.tokens;
  api = new ControlApi(rec.backend, credentials);
  ({ port } = await api.listen('127.0.0.1', 0));
  url = `http://127.0.0.1:${port}`;
});
after(async () => {
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});

type Answer = {
  status: number;
  json: { error?: { code: string; message: string } } & Record<string, unknown>;
};

async function call(
  method: string,
  path: string,
  body?: unknown,
  as: TokenScope = 'request',
): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${tokens[as]}` },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    json: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : {},
  };
}

const withHost = (host: string) => getWithHost({ port, path: '/v1/status', host, token: tokens.request });

describe('control API routes', () => {
  test('unknown routes, keys and requests are 404; another method on a route is 405', async () => {
    for (const [method, path, status, code] of [
      ['GET', '/v1/nope', 404, 'NOT_FOUND'],
      ['GET', '/nope/at/all', 404, 'NOT_FOUND'],
      ['POST', '/v1/keys/vault/nope', 404, 'NOT_FOUND'],
      ['GET', '/v1/keys/nope', 404, 'UNKNOWN_KEY'],
      ['POST', '/v1/keys/nope/sign', 404, 'UNKNOWN_KEY'],
      ['POST', '/v1/keys/nope/refresh', 404, 'UNKNOWN_KEY'],
      ['GET', '/v1/requests/0123abcd', 404, 'NOT_FOUND'],
      ['POST', '/v1/status', 405, 'METHOD_NOT_ALLOWED'],
      ['GET', '/v1/keys/vault/sign', 405, 'METHOD_NOT_ALLOWED'],
    ] as const) {
      const r = await call(method, path, method === 'POST' ? {} : undefined);
      assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.json)}`);
      assert.equal(r.json.error?.code, code, `${method} ${path}`);
    }
  });

  test('a malformed percent-escape is a 400, not a 500', async () => {
    for (const path of ['/v1/keys/%E0%A4%A', '/v1/keys/%', '/v1/requests/%zz']) {
      const r = await call('GET', path);
      assert.equal(r.status, 400, path);
      assert.equal(r.json.error?.code, 'BAD_REQUEST');
      assert.match(r.json.error?.message ?? '', /percent-escape/);
    }
  });

  test('bad bodies are answered 400 naming the field, and nothing starts', async () => {
    const many = Array.from({ length: 100_000 }, (_, i) => `12D3KooW${i}`);
    const cases: [path: string, body: unknown, field: string][] = [
      ['/v1/keys', { name: 'k', threshold: 0, parties: [SELF, BOB] }, 'threshold'],
      ['/v1/keys', { name: 'k', threshold: 3, parties: [SELF, BOB] }, 'threshold'],
      ['/v1/keys', { name: 'k', threshold: 2.5, parties: [SELF, BOB, CAROL] }, 'threshold'],
      ['/v1/keys', { name: 'k', threshold: '2', parties: [SELF, BOB] }, 'threshold'],
      ['/v1/keys', { name: 'k', threshold: 2, parties: many }, 'parties'],
      ['/v1/keys', { name: 'k', threshold: 2, parties: [SELF, BOB, BOB] }, 'parties[2]'],
      ['/v1/keys', { name: 'k', threshold: 2, parties: [SELF, 'not-a-peer-id'] }, 'parties[1]'],
      ['/v1/keys', { name: 'k', threshold: 2, parties: [BOB, CAROL] }, 'parties'],
      ['/v1/keys', { name: 'k', threshold: 2, parties: [SELF, STRANGER] }, 'parties'],
      ['/v1/keys', { name: 'k', threshold: 2, parties: 'all' }, 'parties'],
      ['/v1/keys', { name: '../evil', threshold: 2, parties: [SELF, BOB] }, 'name'],
      ['/v1/keys', { threshold: 2, parties: [SELF, BOB] }, 'name'],
      ['/v1/keys', [1, 2], '(body)'],
      ['/v1/keys', { name: 'k', threshold: 2, parties: [SELF, BOB], recovery: 'older=144' }, 'recovery'],
      [
        '/v1/keys',
        { name: 'k', threshold: 2, parties: [SELF, BOB], recovery: { version: 1, leaves: [] } },
        'recovery',
      ],
      [
        '/v1/keys',
        {
          name: 'k',
          threshold: 2,
          parties: [SELF, BOB],
          recovery: { version: 1, leaves: [{ key: 'xpub', older: 0 }] },
        },
        'recovery',
      ],
      ['/v1/keys/vault/reshare', { threshold: 0, parties: [SELF, BOB] }, 'threshold'],
      ['/v1/keys/vault/reshare', { threshold: 2, parties: [SELF] }, 'parties'],
      ['/v1/keys/vault/repair', { party: 'carol' }, 'party'],
      ['/v1/keys/vault/repair', {}, 'party'],
      ['/v1/keys/vault/vouch', { party: BOB, peer: 7 }, 'peer'],
      ['/v1/keys/vault/sign', { message: 'zz' }, 'message'],
      ['/v1/keys/vault/sign', { message: 'ab'.repeat(70_000) }, 'message'],
      ['/v1/keys/vault/sign', { message: 'ab', path: [-1] }, 'path[0]'],
      ['/v1/keys/vault/sign', { message: 'ab', path: [2 ** 31] }, 'path[0]'],
      ['/v1/keys/vault/sign', { message: 'ab', taproot: 'yes' }, 'taproot'],
      ['/v1/keys/vault/sign', { message: 'ab', scheme: 'ecdsa' }, 'scheme'],
      ['/v1/keys/vault/sign', { message: 'ab', signers: [BOB, STRANGER] }, 'signers'],
      ['/v1/keys/vault/sign', { message: 'ab', finalize: 1 }, 'finalize'],
      ['/v1/keys/vault/sign', { message: 'ab', psbt: 'cHNidP8=' }, 'message'],
      ['/v1/keys/vault/sign', {}, 'message'],
      ['/v1/keys/vault/sign', { psbt: 'not base64!' }, 'psbt'],
      ['/v1/keys/vault/sign', { psbt: 'cHNidP8=', network: 'moonnet' }, 'network'],
      ['/v1/keys/vault/sign', { typedData: '{not json' }, 'typedData'],
      ['/v1/keys/vault/sign', { typedData: 5 }, 'typedData'],
      ['/v1/keys/vault/sign', { typedData: {}, account: -1 }, 'account'],
      ['/v1/keys/vault/erase', { confirm: 'other' }, 'confirm'],
      ['/v1/keys/vault/backup', {}, 'passphrase'],
      ['/v1/keys/vault/backup', { passphrase: 'long enough words', withIdentity: 'no' }, 'withIdentity'],
      ['/v1/backups', { passphrase: 'long enough words' }, 'backup'],
      ['/v1/peers', { id: 'nope' }, 'id'],
      ['/v1/peers', { id: SELF }, 'id'],
      ['/v1/peers', { id: STRANGER, addrs: ['/ip4/1.2.3.4/udp/1'] }, 'addrs[0]'],
      ['/v1/peers', { id: STRANGER, addrs: [`/ip4/1.2.3.4/tcp/1/p2p/${BOB}`] }, 'addrs[0]'],
      ['/v1/peers', { id: STRANGER, name: 'self' }, 'name'],
      ['/v1/peers', { id: STRANGER, name: 'a b' }, 'name'],
    ];
    for (const [path, body, field] of cases) {
      const { scope } = findRoute('POST', pathSegments(path)).route;
      const r = await call('POST', path, body, scope === 'admin' ? 'admin' : 'request');
      assert.equal(r.status, 400, `${path} ${JSON.stringify(body).slice(0, 80)}: ${JSON.stringify(r.json)}`);
      assert.ok(
        r.json.error?.message.includes(`"${field}"`),
        `${path}: names ${field}: ${r.json.error?.message}`,
      );
    }
    const notJson = await call('POST', '/v1/keys', '{"name":');
    assert.equal(notJson.status, 400);
    assert.deepEqual(rec.started, [], 'no work started');
    assert.equal(rec.backend.requests.running, 0);
  });

  test('a key name that exists is a 409 before the DKG starts', async () => {
    const r = await call('POST', '/v1/keys', { name: 'vault', threshold: 2, parties: [SELF, BOB] });
    assert.equal(r.status, 409);
    assert.deepEqual(rec.started, []);
  });

  test('whatever the path and body, the answer is never a 500', async () => {
    const segment = fc.oneof(
      fc.constantFrom(
        'v1',
        'keys',
        'vault',
        'sign',
        'refresh',
        'reshare',
        'repair',
        'approvals',
        'requests',
        '%',
        '%E0',
      ),
      fc.string({ maxLength: 8 }).map(encodeURIComponent),
    );
    const body = fc.oneof(fc.json(), fc.string({ maxLength: 40 }));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST'),
        fc.array(segment, { maxLength: 4 }),
        body,
        fc.constantFrom(...TOKEN_SCOPES),
        async (method, segments, b, as) => {
          const r = await call(method, `/${segments.join('/')}`, method === 'POST' ? b : undefined, as);
          assert.notEqual(r.status, 500, JSON.stringify(r.json));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('control API credentials', () => {
  test('each token opens its own scope and reading, and nothing else', async () => {
    for (const route of ROUTES) {
      const path = route.path.replace(':name', 'vault').replace(':id', 'abcdef012345');
      for (const as of TOKEN_SCOPES) {
        const r = await call(route.method, path, route.method === 'POST' ? {} : undefined, as);
        const where = `${route.method} ${route.path} with the ${as} token`;
        if (grants(as, route.scope)) assert.ok(r.status !== 401 && r.status !== 403, `${where}: ${r.status}`);
        else {
          assert.equal(r.status, 403, where);
          assert.equal(r.json.error?.code, 'WRONG_SCOPE', where);
          assert.match(r.json.error?.message ?? '', /tokens\//, `${where}: names the token to use`);
        }
      }
    }
  });

  test('a request token cannot approve, export, import, erase, vouch or change peers', async () => {
    const before = rec.started.length;
    for (const path of [
      '/v1/approvals/abcdef012345/approve',
      '/v1/keys/vault/backup',
      '/v1/backups',
      '/v1/keys/vault/erase',
      '/v1/keys/vault/vouch',
      '/v1/peers',
    ]) {
      const r = await call('POST', path, {}, 'request');
      assert.equal(r.status, 403, path);
      assert.equal(r.json.error?.code, 'WRONG_SCOPE');
    }
    assert.equal(rec.started.length, before, 'nothing started');
  });

  test('no token, a wrong token, or another scheme: 401', async () => {
    for (const authorization of [
      undefined,
      'Bearer nope',
      `Basic ${tokens.admin}`,
      `Bearer ${tokens.admin}x`,
    ]) {
      const res = await fetch(`${url}/v1/status`, { headers: authorization ? { authorization } : {} });
      assert.equal(res.status, 401, String(authorization));
      assert.equal(((await res.json()) as Answer['json']).error?.code, 'UNAUTHORIZED');
    }
  });

  test('/metrics needs a token; the metrics token reads /metrics and nothing else', async () => {
    assert.equal((await fetch(`${url}/metrics`)).status, 401);
    const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${tokens.metrics}` } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /frostnet_keys 1/);
    assert.equal((await call('GET', '/v1/status', undefined, 'metrics')).status, 403);
  });

  test('a Host header that is not the API’s own address is refused, whatever the token', async () => {
    for (const host of [
      'evil.example',
      `evil.example:${port}`,
      `127.0.0.1.evil.example:${port}`,
      '127.0.0.1:1',
    ]) {
      const r = await withHost(host);
      assert.equal(r.status, 403, host);
      assert.equal(JSON.parse(r.body).error.code, 'WRONG_HOST');
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`])
      assert.equal((await withHost(host)).status, 200, host);
  });
});
