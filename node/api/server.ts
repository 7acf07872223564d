/**
 * The control API: HTTP + JSON on a loopback address for the CLI and other local programs. A request is taken
 * in this order, each step refusing with its own status before the next runs:
 *   1. the Host header must be this API's own address (so a web page cannot reach it through DNS rebinding);
 *   2. the bearer token must be one of the party's scoped tokens (node/api/credentials.ts);
 *   3. the method and path must name a route (node/api/routes.ts): 404 or 405 otherwise;
 *   4. the token's scope must grant the route's;
 *   5. the body must pass the route's checks (400 naming the field);
 * and only then does the route run. Errors are `{ error: { code, message, culprits } }`; bad input is never a 500.
 * Pages (the web console, node/console) are served beside the API under their own prefix: after the Host check
 * they authenticate their own way (a session cookie) and run the same routes, checked the same way, through
 * `call` with the session's scope.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bytesToHex } from '../../protocol/curve.ts';
import { type ErrorCode, FrostnetError, toFrostnetError } from '../../protocol/errors.ts';
import { PeerNames } from '../transport/peer-names.ts';
import type { Credentials, TokenScope } from './credentials.ts';
import { ApiRefusal } from './refusal.ts';
import { type Answer, type ApiBackend, findRoute, pathSegments, ROUTES, type Route } from './routes.ts';

export type { ApiBackend } from './routes.ts';

const MAX_BODY = 8 * 1024 * 1024;

/** Runs the route `method` and `path` name for a caller holding `token`: route, scope, body, as for a bearer. */
export type RouteCall = (
  token: TokenScope,
  method: string,
  path: string,
  query: URLSearchParams,
  req: IncomingMessage,
) => Promise<Answer>;

/** Pages served under their own paths beside the API, authenticated their own way (node/console). */
export interface Pages {
  owns(path: string): boolean;
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    at: { path: string; query: URLSearchParams; call: RouteCall },
  ): Promise<void>;
}

export type ControlApiExtras = {
  /** Routes beside node/api/routes.ts ROUTES, e.g. the console's (node/console/routes.ts). */
  routes?: readonly Route[];
  pages?: Pages;
};

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
  private readonly routes: readonly Route[];
  private readonly pages?: Pages;
  private readonly names: PeerNames;

  constructor(backend: ApiBackend, credentials: Credentials, extras: ControlApiExtras = {}) {
    this.backend = backend;
    this.names = new PeerNames(backend.self, () => backend.peers());
    this.credentials = credentials;
    this.routes = [...ROUTES, ...(extras.routes ?? [])];
    this.pages = extras.pages;
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
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const [rawPath, query] = q < 0 ? [url, ''] : [url.slice(0, q), url.slice(q + 1)];
      if (this.pages?.owns(rawPath)) {
        await this.pages.handle(req, res, {
          path: rawPath,
          query: new URLSearchParams(query),
          call: this.call,
        });
        return;
      }
      const token = this.credentials.authenticate(req.headers.authorization);
      reply(res, await this.call(token, req.method ?? 'GET', rawPath, new URLSearchParams(query), req));
    } catch (e) {
      const { status, json } = errorReply(e, this.names);
      if (!res.headersSent) sendJson(res, status, json);
      else res.end();
    }
  }

  private readonly call: RouteCall = async (token, method, rawPath, query, req) => {
    const { route, params } = findRoute(method, pathSegments(rawPath), this.routes);
    this.credentials.authorize(token, route.scope);
    const body = route.method === 'POST' ? await readJson(req) : undefined;
    return route.run({ b: this.backend, params, query, token }, body);
  };
}

/**
 * The error answer of a refusal or failure: its HTTP status and JSON body. With `names`, the body gives the
 * culprits' names beside their peer ids. The message stays as it is: an answer to a bad request (a peer to add,
 * signers that are not members) names the peer ids it is about.
 */
export function errorReply(e: unknown, names?: PeerNames): { status: number; json: { error: unknown } } {
  const err = e instanceof ApiRefusal ? e : toFrostnetError(e);
  const status = err instanceof ApiRefusal ? err.status : (STATUS[err.code] ?? 500);
  const body = err.toJSON();
  if (!names) return { status, json: { error: body } };
  return {
    status,
    json: {
      error: { ...body, ...(body.culprits.length > 0 && { names: names.labels(body.culprits) }) },
    },
  };
}

/** What a client puts in the Host header to reach an API listening on `address:port` (configured as `host`). */
function ownHosts(host: string, address: string, port: number): string[] {
  const literal = (a: string) => (a.includes(':') ? `[${a}]` : a);
  return [...new Set([host, address, 'localhost'])].map((h) => `${literal(h)}:${port}`.toLowerCase());
}

export function reply(res: ServerResponse, a: Answer): void {
  if ('text' in a) {
    res.writeHead(a.status, { 'content-type': a.contentType });
    res.end(a.text);
  } else sendJson(res, a.status, a.json);
}

export function sendJson(res: ServerResponse, status: number, json: unknown): void {
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
