/**
 * The console's HTTP side (node/console) on a control API in front of a recording backend, attacked as a page
 * of another origin or a session of the wrong scope would: login links work once and expire, sessions expire,
 * a POST needs the console's Origin and the session's CSRF token, the scope is the server's check, routes the
 * console does not offer stay closed to a session, the Host check still comes first, and every answer carries
 * the strict Content-Security-Policy.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { commands as uiCommands } from '../../../cli/commands/ui.ts';
import { Credentials, type TokenScope } from '../../../node/api/credentials.ts';
import { ControlApi } from '../../../node/api/server.ts';
import { readAudit } from '../../../node/console/audit-reader.ts';
import { consoleExtras } from '../../../node/console/console.ts';
import { CSP } from '../../../node/console/pages.ts';
import { ConsoleSessions, LINK_TTL_MS, SESSION_TTL_MS } from '../../../node/console/sessions.ts';
import { recordingBackend } from '../../helpers/api-backend.ts';
import { findChromium } from '../../helpers/browser.ts';
import { runCommand } from '../../helpers/network-extra.ts';

let now = Date.UTC(2030, 0, 1);
const clock = () => now;

let dir: string;
let api: ControlApi;
let origin: string;
let port: number;
let tokens: Record<TokenScope, string>;
const rec = recordingBackend();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frostnet-console-'));
  const { credentials, files } = await Credentials.open(dir);
  tokens = files.tokens;
  api = new ControlApi(
    rec.backend,
    credentials,
    consoleExtras({ self: rec.backend.self, dataDir: dir, clock }),
  );
  ({ port } = await api.listen('127.0.0.1', 0));
  origin = `http://127.0.0.1:${port}`;
});
after(async () => {
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});

type Raw = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** A raw request (fetch would set Origin and Host itself). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method, headers: { host: `127.0.0.1:${port}`, ...headers } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const code = (r: Raw) => (JSON.parse(r.body) as { error: { code: string } }).error.code;

async function link(scope: TokenScope): Promise<string> {
  const res = await fetch(`${origin}/v1/console/login`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens[scope]}` },
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { path: string }).path;
}

/** Logs in with a fresh link of `scope`: the cookie header and the CSRF token. */
async function logIn(scope: TokenScope): Promise<{ cookie: string; csrf: string }> {
  const r = await raw('GET', await link(scope));
  assert.equal(r.status, 303);
  const cookie = String(r.headers['set-cookie']).split(';')[0];
  const s = await raw('GET', '/ui/api/session', { cookie });
  return { cookie, csrf: (JSON.parse(s.body) as { csrf: string }).csrf };
}

describe('console login', () => {
  test('a link opens one session: an HttpOnly SameSite=Strict cookie for this port, then the link is spent', async () => {
    const path = await link('approve');
    const r = await raw('GET', path);
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/ui/');
    const cookie = String(r.headers['set-cookie']);
    assert.match(cookie, new RegExp(`^frostnet-console-${port}=[A-Za-z0-9_-]{43};`));
    for (const flag of ['HttpOnly', 'SameSite=Strict', 'Path=/ui']) assert.ok(cookie.includes(flag), flag);
    const s = await raw('GET', '/ui/api/session', { cookie: cookie.split(';')[0] });
    assert.equal(s.status, 200);
    assert.equal(JSON.parse(s.body).scope, 'approve');
    const again = await raw('GET', path);
    assert.equal(again.status, 401);
    assert.equal(again.headers['set-cookie'], undefined);
  });

  test('a link expires after 5 minutes; a session after 12 hours', async () => {
    const late = await link('approve');
    now += LINK_TTL_MS;
    assert.equal((await raw('GET', late)).status, 401);
    const { cookie } = await logIn('approve');
    now += SESSION_TTL_MS - 1;
    assert.equal((await raw('GET', '/ui/api/v1/status', { cookie })).status, 200);
    now += 1;
    const r = await raw('GET', '/ui/api/v1/status', { cookie });
    assert.equal(r.status, 401);
    assert.equal(code(r), 'NO_SESSION');
  });

  test('the metrics token makes no login link; a made-up code or cookie opens nothing', async () => {
    const r = await fetch(`${origin}/v1/console/login`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.metrics}` },
    });
    assert.equal(r.status, 403);
    assert.equal((await raw('GET', '/ui/login?code=AAAA')).status, 401);
    assert.equal((await raw('GET', '/ui/login')).status, 401);
    const forged = await raw('GET', '/ui/api/v1/keys', {
      cookie: `frostnet-console-${port}=${'A'.repeat(43)}`,
    });
    assert.equal(code(forged), 'NO_SESSION');
  });

  test('logging out ends the session', async () => {
    const { cookie, csrf } = await logIn('request');
    const out = await raw('POST', '/ui/api/logout', { cookie, origin, 'x-frostnet-csrf': csrf });
    assert.equal(out.status, 200);
    assert.equal(code(await raw('GET', '/ui/api/v1/status', { cookie })), 'NO_SESSION');
  });
});

describe('console requests', () => {
  const decide = (who: { cookie: string; csrf: string }, headers: Record<string, string> = {}) =>
    raw(
      'POST',
      '/ui/api/v1/approvals/00112233aabbccdd/approve',
      {
        cookie: who.cookie,
        origin,
        'x-frostnet-csrf': who.csrf,
        'content-type': 'application/json',
        ...headers,
      },
      '{"reason":"checked"}',
    );

  test('an approve session decides; a request or admin session is refused by the server, and nothing runs', async () => {
    const before = rec.started.length;
    for (const scope of ['request', 'admin'] as const) {
      const r = await decide(await logIn(scope));
      assert.equal(r.status, 403, scope);
      assert.equal(code(r), 'WRONG_SCOPE');
    }
    assert.equal(rec.started.length, before);
    const ok = await decide(await logIn('approve'));
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(rec.started.slice(before), ['approvals.decide']);
  });

  test('a POST from another origin, with no origin, or without the CSRF token is refused', async () => {
    const who = await logIn('approve');
    const before = rec.started.length;
    const cases: [string, Record<string, string>][] = [
      ['another port of this machine', { origin: 'http://127.0.0.1:1' }],
      ['another host', { origin: 'https://evil.example' }],
      ['an opaque origin', { origin: 'null' }],
      ['no CSRF token', { 'x-frostnet-csrf': '' }],
      [
        'a wrong CSRF token',
        { 'x-frostnet-csrf': `${who.csrf.slice(0, -1)}${who.csrf.endsWith('A') ? 'B' : 'A'}` },
      ],
    ];
    for (const [what, headers] of cases) {
      const r = await decide(who, headers);
      assert.equal(r.status, 403, what);
      assert.equal(code(r), 'CROSS_SITE', what);
    }
    const noOrigin = await raw(
      'POST',
      '/ui/api/v1/approvals/00112233aabbccdd/approve',
      { cookie: who.cookie, 'x-frostnet-csrf': who.csrf },
      '{}',
    );
    assert.equal(code(noOrigin), 'CROSS_SITE');
    assert.equal(rec.started.length, before);
  });

  test('routes the console does not offer stay closed to every session', async () => {
    const admin = await logIn('admin');
    const h = { cookie: admin.cookie, origin, 'x-frostnet-csrf': admin.csrf };
    const before = rec.started.length;
    for (const [method, path] of [
      ['POST', '/ui/api/v1/keys/vault/backup'],
      ['POST', '/ui/api/v1/keys/vault/erase'],
      ['POST', '/ui/api/v1/peers'],
      ['POST', '/ui/api/v1/backups'],
      ['POST', '/ui/api/v1/console/login'],
      ['POST', '/ui/api/v1/keys/vault/sign'],
      ['GET', '/ui/api/metrics'],
      ['GET', '/ui/assets/../pages.ts'],
      ['GET', '/ui/assets/constructor'],
    ]) {
      const r = await raw(
        method,
        path,
        h,
        method === 'POST' ? '{"passphrase":"a long passphrase","confirm":"vault"}' : undefined,
      );
      assert.equal(r.status, 404, `${method} ${path}: ${r.body}`);
    }
    assert.equal(rec.started.length, before);
  });

  test('a session reads what its token reads: keys, the wallet view, the audit log', async () => {
    const { cookie } = await logIn('request');
    const keys = await raw('GET', '/ui/api/v1/keys', { cookie });
    assert.equal(JSON.parse(keys.body)[0].name, 'vault');
    const w = JSON.parse(
      (await raw('GET', '/ui/api/v1/keys/vault/wallet?network=regtest&addresses=2', { cookie })).body,
    );
    assert.equal(w.receive.length, 2);
    assert.match(w.receive[0].address, /^bcrt1p/);
    assert.match(w.descriptors.receive, /^tr\(\[[0-9a-f]{8}\]tpub/);
    assert.equal((await raw('GET', '/ui/api/v1/keys/vault/wallet?addresses=99', { cookie })).status, 400);
    // The key's own network only: a regtest key has no mainnet addresses to show.
    assert.equal((await raw('GET', '/ui/api/v1/keys/vault/wallet?network=mainnet', { cookie })).status, 400);
    assert.equal((await raw('GET', '/ui/api/v1/audit?decision=nonsense', { cookie })).status, 400);
    const qr = await raw('GET', `/ui/qr.svg?text=${w.receive[0].address}`, { cookie });
    assert.equal(qr.status, 200);
    assert.equal(qr.headers['content-type'], 'image/svg+xml');
    assert.equal((await raw('GET', '/ui/qr.svg?text=x')).status, 401, 'no QR code without a session');
  });

  test('the Host check comes first; every console answer carries the CSP', async () => {
    const { cookie } = await logIn('approve');
    const rebound = await raw('GET', '/ui/api/v1/status', { cookie, host: `evil.example:${port}` });
    assert.equal(rebound.status, 403);
    assert.equal(code(rebound), 'WRONG_HOST');
    for (const path of [
      '/ui/',
      '/ui/assets/console.js',
      '/ui/api/v1/status',
      '/ui/nothing',
      '/ui/login?code=x',
    ]) {
      const r = await raw('GET', path, { cookie });
      assert.equal(r.headers['content-security-policy'], CSP, path);
      assert.equal(r.headers['x-frame-options'], 'DENY', path);
    }
    assert.doesNotMatch(CSP, /unsafe-inline|unsafe-eval|\*/);
    const html = (await raw('GET', '/ui/')).body;
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/, 'no inline script in the page');
  });
});

describe('console routes for tokens', () => {
  const call = async (method: string, path: string, as: TokenScope) =>
    (await fetch(`${origin}${path}`, { method, headers: { authorization: `Bearer ${tokens[as]}` } })).status;

  test('the drill takes the request token; reading takes any but metrics', async () => {
    assert.equal(await call('POST', '/v1/keys/vault/drill', 'approve'), 403);
    assert.equal(await call('POST', '/v1/keys/vault/drill', 'admin'), 403);
    assert.equal(await call('POST', '/v1/keys/nothing/drill', 'request'), 404);
    assert.equal(await call('POST', '/v1/keys/vault/drill', 'request'), 202);
    for (const path of ['/v1/requests', '/v1/audit', '/v1/keys/vault/wallet']) {
      assert.equal(await call('GET', path, 'metrics'), 403, path);
      for (const as of ['request', 'approve', 'admin'] as const)
        assert.equal(await call('GET', path, as), 200, path);
    }
  });

  test('frostnet ui refuses a scope it has no session for', async () => {
    const r = await runCommand(uiCommands, ['ui', '--scope', 'metrics', '--api', origin], {
      FROSTNET_TOKEN: tokens.metrics,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--scope must be one of approve, request, admin/);
  });
});

describe('console parts', () => {
  test('sessions: a code is spent on use; the oldest links go beyond the cap', () => {
    let n = 0;
    const s = new ConsoleSessions({ clock: () => 0, random: (k) => new Uint8Array(k).fill(n++ % 256) });
    const first = s.issueLink('approve');
    for (let i = 0; i < 40; i++) s.issueLink('request');
    assert.equal(s.redeem(first.code), undefined, 'pushed out by newer links');
    const last = s.issueLink('request');
    const opened = s.redeem(last.code);
    assert.equal(opened?.session.scope, 'request');
    assert.equal(s.redeem(last.code), undefined);
    assert.notEqual(opened?.session.csrf, opened?.id);
  });

  test('the audit reader: newest first, filtered, a cut-off last line skipped', async () => {
    const file = join(dir, 'audit-test.log');
    const line = (i: number, key: string, decision: string) =>
      JSON.stringify({
        time: new Date(i * 1000).toISOString(),
        requester: 'operator',
        key,
        id: `${i}`,
        what: {},
        decision,
        reason: '',
      });
    await writeFile(
      file,
      `${[line(1, 'a', 'signed'), line(2, 'b', 'approved'), line(3, 'a', 'approved')].join('\n')}\n{"time":"20`,
    );
    assert.deepEqual(
      (await readAudit(file)).map((r) => r.id),
      ['3', '2', '1'],
    );
    assert.deepEqual(
      (await readAudit(file, { key: 'a' })).map((r) => r.id),
      ['3', '1'],
    );
    assert.deepEqual(
      (await readAudit(file, { decision: 'approved', limit: 1 })).map((r) => r.id),
      ['3'],
    );
    assert.deepEqual(await readAudit(join(dir, 'none.log')), []);
  });

  test('without a Chromium, the browser tests fail saying how to install one', () => {
    assert.throws(() => findChromium({}, ['/nonexistent/chromium']), /apt-get install -y chromium/);
    assert.throws(
      () => findChromium({ FROSTNET_CHROMIUM: '/nonexistent/chrome' }, []),
      /FROSTNET_CHROMIUM.*apt-get install/,
    );
  });
});
