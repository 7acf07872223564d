/**
 * The web console's HTTP side, under /ui on the control API's own address (node/api/server.ts checked the Host
 * header before this runs):
 *
 *   GET  /ui/login?code=C   spends a one-time link (`frostnet ui`): sets the session cookie, redirects to /ui/
 *   GET  /ui/, /ui/assets/* the console's static files (no secret in them; they show nothing without a session)
 *   GET  /ui/api/session    the session's scope and CSRF token
 *   *    /ui/api/v1/...     an allowed control API route, run with the session's scope as if by its token
 *   GET  /ui/qr.svg?text=T  a QR code of T
 *   POST /ui/api/logout     ends the session
 *
 * The session cookie is HttpOnly and SameSite=Strict, named per API port (cookies are not port-bound, and two
 * parties on one machine must not log each other out). Every POST must come from the console's own origin
 * (Origin header) and carry the session's CSRF token (X-Frostnet-CSRF), so a page elsewhere, even one on
 * another port of this machine (same site, so Strict cookies go along), cannot make a session act. Scope is
 * checked by the same route table as for tokens, so a request-scope session is refused approve by the server.
 * Every answer carries a strict Content-Security-Policy: scripts, styles and images from this origin only, no
 * inline script, no framing.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { FrostnetError } from '../../protocol/errors.ts';
import { ApiRefusal } from '../api/refusal.ts';
import { errorReply, type Pages, type RouteCall, reply, sendJson } from '../api/server.ts';
import { AUDIT_DECISIONS } from '../policy/audit.ts';
import { MAX_QR_TEXT, qrSvg } from './qr.ts';
import { CONSOLE_PREFIX } from './routes.ts';
import { type ConsoleSessions, SESSION_TTL_MS, type Session, sameSecret } from './sessions.ts';

export const CSRF_HEADER = 'x-frostnet-csrf';

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'cache-control': 'no-store',
};

/** The static files, by name; read once at start. */
const ASSET_TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
};
const ASSETS_DIR = join(import.meta.dirname, 'assets');

/** The control API routes a console session may use; anything else (backups, erase, peers add) stays CLI-only. */
const ALLOWED: readonly [string, RegExp][] = [
  ['GET', /^\/v1\/(status|peers|keys|approvals|requests|audit)$/],
  ['GET', /^\/v1\/(keys|approvals|requests)\/[^/]+$/],
  ['GET', /^\/v1\/keys\/[^/]+\/wallet$/],
  ['POST', /^\/v1\/approvals\/[^/]+\/(approve|reject|cancel)$/],
  ['POST', /^\/v1\/keys\/[^/]+\/drill$/],
];

export class ConsolePages implements Pages {
  private readonly sessions: ConsoleSessions;
  private readonly self: string;
  private readonly assets = new Map<string, Buffer>();

  constructor(o: { sessions: ConsoleSessions; self: string }) {
    this.sessions = o.sessions;
    this.self = o.self;
    for (const name of Object.keys(ASSET_TYPES)) this.assets.set(name, readFileSync(join(ASSETS_DIR, name)));
  }

  owns(path: string): boolean {
    return path === CONSOLE_PREFIX || path.startsWith(`${CONSOLE_PREFIX}/`);
  }

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    at: { path: string; query: URLSearchParams; call: RouteCall },
  ): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const method = req.method ?? 'GET';
    const sub = at.path.slice(CONSOLE_PREFIX.length) || '/';
    try {
      if (method === 'GET' && (sub === '/' || sub === '/index.html')) return this.asset(res, 'index.html');
      if (method === 'GET' && sub.startsWith('/assets/'))
        return this.asset(res, sub.slice('/assets/'.length));
      if (method === 'GET' && sub === '/login') return this.login(req, res, at.query);
      const { id, session } = this.session(req);
      if (method === 'POST') this.checkSameOrigin(req, session);
      if (method === 'GET' && sub === '/api/session')
        return sendJson(res, 200, {
          scope: session.scope,
          csrf: session.csrf,
          self: this.self,
          decisions: AUDIT_DECISIONS,
        });
      if (method === 'POST' && sub === '/api/logout') {
        this.sessions.logout(id);
        res.setHeader(
          'set-cookie',
          `${cookieName(req)}=; HttpOnly; SameSite=Strict; Path=${CONSOLE_PREFIX}; Max-Age=0`,
        );
        return sendJson(res, 200, { loggedOut: true });
      }
      if (method === 'GET' && sub === '/qr.svg') return this.qr(res, at.query.get('text') ?? '');
      if (sub.startsWith('/api/')) {
        const path = sub.slice('/api'.length);
        if (!ALLOWED.some(([m, re]) => m === method && re.test(path)))
          throw new ApiRefusal('NOT_FOUND', `the console does not offer ${method} ${path}; use the CLI`);
        return reply(res, await at.call(session.scope, method, path, at.query, req));
      }
      throw new ApiRefusal('NOT_FOUND', `no console page ${sub}`);
    } catch (e) {
      const { status, json } = errorReply(e);
      sendJson(res, status, json);
    }
  }

  private asset(res: ServerResponse, name: string): void {
    const body = Object.hasOwn(ASSET_TYPES, name) ? this.assets.get(name) : undefined;
    if (!body) throw new ApiRefusal('NOT_FOUND', `no console asset ${name}`);
    res.writeHead(200, { 'content-type': ASSET_TYPES[name] });
    res.end(body);
  }

  private login(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
    const opened = this.sessions.redeem(query.get('code') ?? '');
    if (!opened) {
      res.writeHead(401, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        '<!doctype html><meta charset="utf-8"><title>Frostnet console</title><link rel="stylesheet" href="/ui/assets/console.css">' +
          '<main class="login-failed"><h1>This login link is used up or expired</h1>' +
          '<p>A link opens one session, once, within 5 minutes. Run <code>frostnet ui</code> again for a new one.</p></main>',
      );
      return;
    }
    res.setHeader(
      'set-cookie',
      `${cookieName(req)}=${opened.id}; HttpOnly; SameSite=Strict; Path=${CONSOLE_PREFIX}; Max-Age=${SESSION_TTL_MS / 1000}`,
    );
    res.writeHead(303, { location: `${CONSOLE_PREFIX}/` });
    res.end();
  }

  private session(req: IncomingMessage): { id: string; session: Session } {
    const id = readCookie(req.headers.cookie, cookieName(req));
    const session = this.sessions.session(id);
    if (!id || !session)
      throw new ApiRefusal(
        'NO_SESSION',
        'no console session: run "frostnet ui" on this party and open the link it prints',
      );
    return { id, session };
  }

  /** A POST must come from a page of this console: its own Origin, and the session's CSRF token. */
  private checkSameOrigin(req: IncomingMessage, session: Session): void {
    const origin = req.headers.origin;
    const own = `http://${req.headers.host}`;
    if (origin !== own)
      throw new ApiRefusal(
        'CROSS_SITE',
        `refused a console request from ${origin ? JSON.stringify(origin.slice(0, 100)) : 'a page that sent no Origin'}; only pages of ${own} may act`,
      );
    const token = req.headers[CSRF_HEADER];
    if (typeof token !== 'string' || !sameSecret(token, session.csrf))
      throw new ApiRefusal(
        'CROSS_SITE',
        `refused a console request without this session's ${CSRF_HEADER} token`,
      );
  }

  private qr(res: ServerResponse, text: string): void {
    if (!text || text.length > MAX_QR_TEXT)
      throw new FrostnetError('BAD_REQUEST', `"text" of a QR code must be 1 to ${MAX_QR_TEXT} characters`);
    res.writeHead(200, { 'content-type': 'image/svg+xml' });
    res.end(qrSvg(text));
  }
}

/** The cookie of this API's port: `frostnet-console-<port>`. */
function cookieName(req: IncomingMessage): string {
  const port = /:(\d+)$/.exec(req.headers.host ?? '')?.[1] ?? '0';
  return `frostnet-console-${port}`;
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
