/**
 * The control API: HTTP + JSON on a loopback address for the CLI and other local programs. A request is taken
 * in this order, each step refusing with its own status before the next runs:
 *   1. the Host header must be this API's own address (so a web page cannot reach it through DNS rebinding);
 *   2. the bearer token must be one of the party's scoped tokens (node/api/credentials.ts);
 *   3. the method and path must name a route (node/api/routes.ts): 404 or 405 otherwise;
 *   4. the token's scope must grant the route's;
 *   5. the body must pass the route's checks (400 naming the field);
 * and only then does the route run. Errors are `{ error: { code, message, culprits } }`; bad input is never a 500.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bytesToHex } from '../../protocol/curve.ts';
import { type ErrorCode, FrostnetError, toFrostnetError } from '../../protocol/errors.ts';
import type { Credentials } from './credentials.ts';
import { ApiRefusal } from './refusal.ts';
import { type Answer, type ApiBackend, findRoute, pathSegments } from './routes.ts';

export type { ApiBackend } from './routes.ts';

const MAX_BODY = 8 * 1024 * 1024;

const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  POLICY_DENIED: 403,
  APPROVAL_REQUIRED: 403,
  TIME_LOCKED: 403,
  UNKNOWN_KEY: 404,
  CONFLICT: 409,
  EPOCH_MISMATCH: 409,
  NOT_ENOUGH_SIGNERS: 503,
  UNREACHABLE: 503,
  TIMEOUT: 504,
};

export class ControlApi {
  private readonly server: Server;
  private readonly backend: ApiBackend;
  private readonly credentials: Credentials;
  /** Host header values that name this API (lower case), known once it listens. */
  private hosts = new Set<string>();

  constructor(backend: ApiBackend, credentials: Credentials) {
    this.backend = backend;
    this.credentials = credentials;
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const a = this.server.address() as AddressInfo;
    this.hosts = new Set(ownHosts(host, a.address, a.port));
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const host = (req.headers.host ?? '').toLowerCase();
      if (!this.hosts.has(host))
        throw new ApiRefusal(
          'WRONG_HOST',
          `the Host header ${JSON.stringify(host.slice(0, 100))} is not this API's address (${[...this.hosts].join(', ')}); it answers only clients that call it by its own address`,
        );
      const token = this.credentials.authenticate(req.headers.authorization);
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const [rawPath, query] = q < 0 ? [url, ''] : [url.slice(0, q), url.slice(q + 1)];
      const { route, params } = findRoute(req.method ?? 'GET', pathSegments(rawPath));
      this.credentials.authorize(token, route.scope);
      const body = route.method === 'POST' ? await readJson(req) : undefined;
      reply(res, await route.run({ b: this.backend, params, query: new URLSearchParams(query) }, body));
    } catch (e) {
      const err = e instanceof ApiRefusal ? e : toFrostnetError(e);
      const status = err instanceof ApiRefusal ? err.status : (STATUS[err.code] ?? 500);
      sendJson(res, status, { error: err.toJSON() });
    }
  }
}

/** What a client puts in the Host header to reach an API listening on `address:port` (configured as `host`). */
function ownHosts(host: string, address: string, port: number): string[] {
  const literal = (a: string) => (a.includes(':') ? `[${a}]` : a);
  return [...new Set([host, address, 'localhost'])].map((h) => `${literal(h)}:${port}`.toLowerCase());
}

function reply(res: ServerResponse, a: Answer): void {
  if ('text' in a) {
    res.writeHead(a.status, { 'content-type': a.contentType });
    res.end(a.text);
  } else sendJson(res, a.status, a.json);
}

function sendJson(res: ServerResponse, status: number, json: unknown): void {
  const text = JSON.stringify(json, (_k, v) =>
    typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? bytesToHex(v) : v,
  );
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new FrostnetError('BAD_REQUEST', 'request body too large');
    chunks.push(c as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new FrostnetError('BAD_REQUEST', 'request body is not JSON');
  }
}
