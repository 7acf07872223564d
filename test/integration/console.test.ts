/**
 * The web console (issue 19) in a real Chromium against real daemons: three parties, a 2-of-3 key "vault", and
 * a policy on parties 1 and 2 that holds every Bitcoin payment of it for their operators (n-t+1 parties, so no
 * payment gets past both). The browser logs in with `frostnet ui` links, as a key holder would.
 *
 * Screenshots of each page are taken into a temporary directory; with FROSTNET_SCREENSHOTS=1 they go to
 * docs/console/ instead (how the README's pictures are made).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { p2wpkh } from '@scure/btc-signer';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { walletAddress } from '../../chains/bitcoin/address.ts';
import { buildWalletPsbt } from '../../chains/bitcoin/build.ts';
import { type Wallet, walletRoot } from '../../chains/bitcoin/keys.ts';
import { TOKEN_SCOPES } from '../../node/api/credentials.ts';
import { G, hexToBytes, pointToBytes } from '../../protocol/curve.ts';
import { fakeTxid, scureNetwork } from '../bitcoin/helpers.ts';
import { decodeQr, launchChromium } from '../helpers/browser.ts';
import { CLI, Network, NODE, ROOT } from '../helpers/network.ts';
import { approveHeld, writePolicy } from '../helpers/network-extra.ts';

const execFileAsync = promisify(execFile);
const NET = 'regtest';
const PAYEE = p2wpkh(pointToBytes(G.multiply(4242n)), scureNetwork(NET)).address!;
const HOLD_PAYMENTS = {
  version: 1,
  default: {},
  keys: { vault: { bitcoin: { networks: [NET], changeToSelf: true, approvalAbove: 0 } } },
};
const REASON = 'invoice 2026-117, checked with the board';

describe('web console in Chromium, on real daemons', () => {
  let net: Network;
  let browser: Browser;
  let wallet: Wallet;
  let shots: string;
  let approver: { context: BrowserContext; page: Page };
  let psbt: string;
  let heldId: string;

  before(async () => {
    // Fails here, with the install advice, when the machine has no Chromium.
    browser = await launchChromium();
    shots = process.env.FROSTNET_SCREENSHOTS
      ? join(ROOT, 'docs/console')
      : await mkdtemp(join(tmpdir(), 'frostnet-console-shots-'));
    await mkdir(shots, { recursive: true });
    net = await Network.create(3, { roundTimeoutMs: 4000 });
    await writePolicy(net, 0, HOLD_PAYMENTS);
    await writePolicy(net, 1, HOLD_PAYMENTS);
    await net.startAll();
    const dkg = await net.keygen(0, 'vault', 2, net.ids, NET);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    wallet = {
      root: walletRoot(hexToBytes(dkg.result.groupKey), hexToBytes(dkg.result.chainCode)),
      network: NET,
    };
  });
  after(async () => {
    await browser?.close();
    await net?.close();
    if (!process.env.FROSTNET_SCREENSHOTS && shots) await rm(shots, { recursive: true, force: true });
  });

  /** `frostnet ui` for party i, as its operator runs it: the one-time link. */
  async function loginLink(i: number, scope: string): Promise<string> {
    const { stdout } = await execFileAsync(NODE, [
      CLI,
      'ui',
      '--data-dir',
      net.parties[i].dataDir,
      '--scope',
      scope,
      '--no-open',
      '--json',
    ]);
    const out = JSON.parse(stdout) as { url: string; scope: string };
    assert.equal(out.scope, scope);
    return out.url;
  }

  async function logIn(i: number, scope: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await page.goto(await loginLink(i, scope));
    await page
      .locator('#who')
      .filter({ hasText: `${scope} session` })
      .waitFor();
    return { context, page };
  }

  /** A POST by a script of the console's own page, with or without the session's CSRF token. */
  const postFromPage = (page: Page, url: string, withCsrf: boolean) =>
    page.evaluate(
      async ([url, withCsrf]) => {
        const s = (await (await fetch('/ui/api/session')).json()) as { csrf: string };
        const r = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(withCsrf ? { 'x-frostnet-csrf': s.csrf } : {}) },
          body: '{}',
        });
        return { status: r.status, body: (await r.json()) as { error: { code: string } } };
      },
      [url, withCsrf] as const,
    );

  const shot = (page: Page, name: string) =>
    page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  const origin = (i: number) => net.parties[i].api!;

  test('logs in with the one-time link: an HttpOnly, SameSite=Strict cookie; the link works once', async () => {
    const url = await loginLink(0, 'approve');
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await page.goto(url);
    assert.equal(
      new URL(page.url()).pathname,
      '/ui/',
      'redirected to the console, the code out of the address',
    );
    await page.locator('#self').filter({ hasText: net.ids[0] }).waitFor();
    await page.locator('#peers').getByText('party-2').waitFor();
    await page.locator('#keys').getByText('vault').waitFor();
    assert.equal(await page.locator('#who').textContent(), 'approve session');
    const [cookie] = await context.cookies();
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(cookie.path, '/ui');
    const csp = (await page.request.get(`${origin(0)}/ui/`)).headers()['content-security-policy'];
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    await shot(page, 'overview');

    // The same link again, in a fresh browser: used up.
    const other = await browser.newContext();
    const again = await (await other.newPage()).goto(url);
    assert.equal(again?.status(), 401);
    assert.match(await again!.text(), /used up or expired/);
    const none = await other.request.get(`${origin(0)}/ui/api/v1/status`);
    assert.equal(none.status(), 401);
    assert.equal((await none.json()).error.code, 'NO_SESSION');
    await other.close();
    approver = { context, page };
  });

  test('a held PSBT shows its outputs, change, fee and fee rate exactly as the party decoded them', async () => {
    const built = buildWalletPsbt(wallet, {
      utxos: [
        { txid: fakeTxid('console a'), vout: 0, amount: 120_000n, change: false, index: 0 },
        { txid: fakeTxid('console b'), vout: 1, amount: 95_000n, change: false, index: 1 },
      ],
      payments: [{ address: PAYEE, amount: 150_000n }],
      changeIndex: 0,
      feeRate: 3,
    });
    psbt = built.psbt.toBase64();
    const first = await net.run(0, '/v1/keys/vault/sign', { psbt, network: NET });
    assert.equal(first.state, 'awaiting-approval', 'held by parties 1 and 2: no two signers yet');
    const list = await net.call(0, 'GET', '/v1/approvals');
    const entry = list.json.find((e: { status: string }) => e.status === 'awaiting approval');
    assert.ok(entry, JSON.stringify(list.json));
    heldId = entry.id;
    const decoded = entry.details;

    const { page } = approver;
    await page.goto(`${origin(0)}/ui/#approvals`);
    const card = page.locator(`[data-entry="${heldId}"]`);
    await card.waitFor();
    assert.equal(await card.locator('[data-status]').getAttribute('data-status'), 'awaiting approval');
    const rows = card.locator('table.outputs tbody tr');
    assert.equal(await rows.count(), decoded.outputs.length);
    for (const [k, o] of decoded.outputs.entries()) {
      const row = rows.nth(k);
      assert.equal(await row.locator('.address').textContent(), o.address);
      assert.equal(await row.locator('.amount').getAttribute('data-sats'), o.amount);
      assert.equal(await row.locator('.amount').textContent(), o.amount);
      assert.equal(((await row.locator('.change').textContent()) ?? '').startsWith('change'), o.change);
    }
    assert.equal(await card.locator('.fee').getAttribute('data-sats'), decoded.fee);
    assert.equal(await card.locator('.fee').textContent(), `${decoded.fee} sat`);
    assert.equal(await card.locator('.fee-rate').textContent(), `${decoded.feeRate} sat/vB`);
    // And what the party decoded is what was built: the payee, the change, the fee.
    assert.equal(decoded.fee, String(built.fee));
    const pay = decoded.outputs.find((o: { change: boolean }) => !o.change);
    assert.deepEqual([pay.address, pay.amount], [PAYEE, '150000']);
    assert.equal(decoded.outputs.find((o: { change: boolean }) => o.change).amount, String(built.change));
    assert.match((await card.locator('.reasons').textContent()) ?? '', /approv/);
    await card.locator('input.reason').fill(REASON);
    await shot(page, 'approvals');
  });

  test('a request-scope session is refused the approve action by the server', async () => {
    const { context, page } = await logIn(0, 'request');
    await page.goto(`${origin(0)}/ui/#approvals`);
    await page.locator(`[data-entry="${heldId}"]`).waitFor();
    assert.equal(await page.locator('button.approve').count(), 0, 'no approve button for a request session');
    // The button's absence is a courtesy; the server is the check. Same origin, right CSRF token, wrong scope:
    const answer = await postFromPage(page, `/ui/api/v1/approvals/${heldId}/approve`, true);
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error.code, 'WRONG_SCOPE');
    const still = await net.call(0, 'GET', `/v1/approvals/${heldId}`);
    assert.equal(still.json.status, 'awaiting approval');
    await context.close();
  });

  test('a forged cross-site POST is refused: another origin, or no CSRF token', async () => {
    // A page on another port of this machine: the same site as the console, so its Strict cookie goes along.
    const target = `${origin(0)}/ui/api/v1/approvals/${heldId}/approve`;
    const evil: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        `<form id="f" method="POST" action="${target}" enctype="text/plain"><input name='{"reason":"' value='x"}'></form>` +
          '<script>document.getElementById("f").submit()</script>',
      );
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
    try {
      const page = await approver.context.newPage();
      const answered = page.waitForResponse((r) => r.url() === target);
      await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
      const res = await answered;
      assert.equal(res.status(), 403);
      assert.equal((await res.json()).error.code, 'CROSS_SITE');
      await page.close();
    } finally {
      evil.close();
    }
    // From the console's own origin, but without the session's CSRF token:
    const noToken = await postFromPage(approver.page, target, false);
    assert.equal(noToken.status, 403);
    assert.equal(noToken.body.error.code, 'CROSS_SITE');
    const still = await net.call(0, 'GET', `/v1/approvals/${heldId}`);
    assert.equal(still.json.status, 'awaiting approval');
  });

  test('the approver approves with a reason, the request completes, and the page follows without reloading', async () => {
    const { page } = approver;
    await page.goto(`${origin(0)}/ui/#approvals`);
    const card = page.locator(`[data-entry="${heldId}"]`);
    await card.locator('input.reason').fill(REASON);
    await card.locator('button.approve').click();
    await card.locator('[data-status="ready"]').waitFor();
    // The wallet asks again, as docs/policy.md says: parties 1 and 3 sign now.
    const again = await net.run(0, '/v1/keys/vault/sign', { psbt, network: NET, finalize: true });
    assert.equal(again.state, 'done', JSON.stringify(again.error));
    assert.ok(again.result.txid);
    await card.locator('[data-status="signed"]').waitFor();
    await page.locator('#requests [data-state="done"]').first().waitFor();
    await shot(page, 'approvals-signed');

    await page.goto(`${origin(0)}/ui/#activity/?decision=approved`);
    const row = page.locator('#audit tbody tr');
    await row.first().waitFor();
    assert.equal(await row.count(), 1);
    assert.match((await row.first().textContent()) ?? '', new RegExp(REASON));
    await page.goto(`${origin(0)}/ui/#activity`);
    await page.locator('#audit').getByText('signed', { exact: true }).first().waitFor();
    await shot(page, 'activity');
  });

  test('the key page and wallet card render QR codes that decode to the addresses shown', async () => {
    const { page } = approver;
    await page.goto(`${origin(0)}/ui/#key/vault?network=${NET}`);
    await page.locator('figure.qr').first().waitFor();
    await shot(page, 'key');
    await page.goto(`${origin(0)}/ui/#card/vault?network=${NET}`);
    const figures = page.locator('.card-page figure.qr');
    await figures.first().waitFor();
    assert.equal(await figures.count(), 5, 'two descriptors and three receive addresses');
    const expected = [0, 1, 2].map((index) => walletAddress(wallet.root, { change: false, index }, NET));
    const decoded: string[] = [];
    for (let k = 0; k < 5; k++) {
      const img = figures.nth(k).locator('img');
      await page.waitForFunction(
        (el) => (el as unknown as { complete: boolean }).complete,
        await img.elementHandle(),
      );
      const text = decodeQr(await img.screenshot());
      assert.ok(text, `QR code ${k} decodes`);
      const caption = (await figures.nth(k).locator('figcaption').textContent()) ?? '';
      assert.ok(caption.endsWith(text), `QR code ${k} is "${text}", its caption "${caption}"`);
      decoded.push(text);
    }
    assert.deepEqual(decoded.slice(2), expected, 'the receive addresses m/0/0..2 of the key');
    assert.match(decoded[0], /^tr\(\[[0-9a-f]{8}\]tpub[1-9A-HJ-NP-Za-km-z]+\/0\/\*\)#[a-z0-9]{8}$/);
    const text = (await page.locator('main').textContent()) ?? '';
    assert.match(text, /No secret is on this card/);
    for (const token of TOKEN_SCOPES.map((s) => net.token(0, s)))
      assert.ok(!text.includes(token), 'no token shown');
    await page.emulateMedia({ media: 'print' });
    await shot(page, 'wallet-card');
    await page.emulateMedia({ media: 'screen' });
  });

  test('the drill page runs the recovery drill and shows every subset’s result', async () => {
    const { context, page } = await logIn(0, 'request');
    await page.goto(`${origin(0)}/ui/#drill/?key=vault`);
    await page.locator('#run-drill').click();
    const rows = page.locator('#drill-results tbody tr');
    await page.locator('.drill[data-state="done"]').waitFor({ timeout: 60_000 });
    assert.equal(await rows.count(), 3, 'C(3,2) subsets');
    const subsets = new Set<string>();
    for (let k = 0; k < 3; k++) {
      assert.equal(await rows.nth(k).locator('td').first().textContent(), 'ok');
      const signers = (await rows.nth(k).locator('[data-signers]').getAttribute('data-signers')) ?? '';
      subsets.add(signers.split(',').sort().join(','));
    }
    const [a, b, c] = net.ids;
    assert.deepEqual(
      subsets,
      new Set(
        [
          [a, b],
          [a, c],
          [b, c],
        ].map((s) => s.sort().join(',')),
      ),
    );
    await shot(page, 'drill');
    await context.close();
  });
  test('a held custody proposal shows the old and new members and thresholds and its approvals; approved, it runs', async () => {
    // Every party's policy holds a reshare for its operator (the default, which parties 1 and 2 keep too).
    const started = await net.call(0, 'POST', '/v1/keys/vault/reshare', { threshold: 3, parties: net.ids });
    assert.equal(started.status, 202, JSON.stringify(started.json));
    const { page } = approver;
    await page.goto(`${origin(0)}/ui/#approvals`);
    const card = page.locator('article.entry', { has: page.locator('dl.proposal') });
    await card.locator('[data-status="awaiting approval"]').waitFor();
    const text = (await card.locator('dl.proposal').textContent()) ?? '';
    assert.match(text, /reshare of vault at epoch 0/);
    assert.match(text, /now2 of 3: this party, party-2, party-3/);
    assert.match(text, /after3 of 3: this party, party-2, party-3/);
    const request = page.locator('#requests tbody tr', { hasText: 'reshare' });
    await request.locator('[data-state="awaiting-approval"]').waitFor();
    // Which members the last attempt asked varies, so only this party's hold is certain.
    assert.match((await request.textContent()) ?? '', /[01] of 2 approvals; held by this party \(/);
    await shot(page, 'approvals-proposal');
    await card.locator('input.reason').fill('board resolution 7');
    const view = await net.call(0, 'GET', `/v1/requests/${started.json.id}`);
    assert.equal(view.json.state, 'awaiting-approval');
    await card.locator('button.approve').click();
    // The second approval, by party 2's operator (through its API): now t members approved.
    await approveHeld(net, 1, view.json.held.proposal);
    await request.locator('[data-state="done"]').waitFor({ timeout: 60_000 });
    const key = await net.call(0, 'GET', '/v1/keys/vault');
    assert.deepEqual([key.json.threshold, key.json.epoch], [3, 1]);
  });
});
