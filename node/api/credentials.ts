/**
 * The control API's credentials: one bearer token per scope, each in its own file, so that asking for
 * signatures, approving held requests and administering the party use different secrets (separation of
 * duties). A token grants its own scope's routes, and reading; the metrics token grants /metrics only.
 *
 *   <dataDir>/tokens/            directory, mode 700
 *     request approve admin metrics   one token each, mode 600
 *     retired                   SHA-256 of tokens that open nothing any more (the single api-token of old)
 *
 * This module only reads and writes files and compares tokens, so that the CLI can share its names cheaply.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { appendFile, chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FrostnetError } from '../../protocol/errors.ts';
import { ApiRefusal } from './refusal.ts';

export const TOKEN_SCOPES = ['request', 'approve', 'admin', 'metrics'] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];
/** What a route needs: one token scope, or `read`, which every scope but metrics grants. */
export type RouteScope = TokenScope | 'read';

/** What each scope is for, in the words an error message or a help text uses. */
export const SCOPE_PURPOSE: Readonly<Record<RouteScope, string>> = {
  request: 'asks for signatures and ceremonies (keygen, sign, refresh, reshare, repair)',
  approve: 'decides held requests (approve, reject, cancel)',
  admin: 'administers the party (backup export and import, erase, peers, vouch)',
  metrics: 'reads /metrics only',
  read: 'reads state (status, peers, keys, requests, approvals)',
};

const GRANTS: Readonly<Record<TokenScope, readonly RouteScope[]>> = {
  request: ['request', 'read', 'metrics'],
  approve: ['approve', 'read', 'metrics'],
  admin: ['admin', 'read', 'metrics'],
  metrics: ['metrics'],
};

export const grants = (token: TokenScope, route: RouteScope): boolean => GRANTS[token].includes(route);

/** The token scopes that open a route of scope `route`. */
export const scopesFor = (route: RouteScope): TokenScope[] => TOKEN_SCOPES.filter((t) => grants(t, route));

export const TOKENS_DIR = 'tokens';
/** The one token of the API before scoped tokens; retired at the daemon's first start with them. */
export const LEGACY_TOKEN_FILE = 'api-token';
const RETIRED_FILE = 'retired';

export const tokenFile = (dataDir: string, scope: TokenScope): string => join(dataDir, TOKENS_DIR, scope);

const digest = (token: string): Buffer => createHash('sha256').update(token.trim()).digest();

const readText = (file: string): Promise<string | undefined> =>
  readFile(file, 'utf8').then(
    (t) => t,
    (e) => {
      if ((e as { code?: string }).code === 'ENOENT') return undefined;
      throw e;
    },
  );

export type TokenFiles = {
  tokens: Record<TokenScope, string>;
  /** Scopes whose token this call created. */
  created: TokenScope[];
  /** Set when a pre-scopes api-token was found and retired. */
  retiredLegacy: boolean;
};

/**
 * Makes sure `dataDir` holds one token per scope with private modes, and returns them. A missing token file is
 * created (deleting one and restarting the daemon rotates that token). A single api-token left by a version
 * before scoped tokens is retired: its digest is kept, so that a client still sending it is told what to use
 * now, and the file is deleted, so that it never works as a key to every scope.
 */
export async function ensureTokens(dataDir: string): Promise<TokenFiles> {
  const dir = join(dataDir, TOKENS_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const tokens = {} as Record<TokenScope, string>;
  const created: TokenScope[] = [];
  for (const scope of TOKEN_SCOPES) {
    const file = tokenFile(dataDir, scope);
    const text = (await readText(file))?.trim();
    if (text) {
      await chmod(file, 0o600);
      tokens[scope] = text;
      continue;
    }
    tokens[scope] = randomBytes(32).toString('hex');
    await writeFile(file, `${tokens[scope]}\n`, { mode: 0o600 });
    created.push(scope);
  }
  const legacyFile = join(dataDir, LEGACY_TOKEN_FILE);
  const legacy = (await readText(legacyFile))?.trim();
  if (legacy) {
    await appendFile(join(dir, RETIRED_FILE), `${digest(legacy).toString('hex')}\n`, { mode: 0o600 });
    await rm(legacyFile, { force: true });
  }
  return { tokens, created, retiredLegacy: Boolean(legacy) };
}

/** Who a request is from, by its Authorization header: the scope of its token. */
export class Credentials {
  private readonly dataDir: string;
  private readonly digests: [TokenScope, Buffer][];
  private readonly retired: Set<string>;

  private constructor(dataDir: string, tokens: Record<TokenScope, string>, retired: Set<string>) {
    this.dataDir = dataDir;
    this.digests = TOKEN_SCOPES.map((s) => [s, digest(tokens[s])]);
    this.retired = retired;
  }

  /** The party's tokens, made sure of by ensureTokens. */
  static async open(dataDir: string): Promise<{ credentials: Credentials; files: TokenFiles }> {
    const files = await ensureTokens(dataDir);
    const retired = new Set(
      ((await readText(join(dataDir, TOKENS_DIR, RETIRED_FILE))) ?? '').split('\n').filter(Boolean),
    );
    return { credentials: new Credentials(dataDir, files.tokens, retired), files };
  }

  /** The scope of the bearer token in `authorization`; throws UNAUTHORIZED, or TOKEN_RETIRED for the old one. */
  authenticate(authorization: string | undefined): TokenScope {
    const bearer = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
    if (bearer) {
      const given = digest(bearer);
      // Every token is compared, in constant time each, so the answer's timing says nothing of which matched.
      let scope: TokenScope | undefined;
      for (const [s, d] of this.digests) if (timingSafeEqual(given, d)) scope ??= s;
      if (scope) return scope;
      if (this.retired.has(given.toString('hex')))
        throw new ApiRefusal(
          'TOKEN_RETIRED',
          `this is the retired api-token of this party; the control API takes one token per scope now: ${this.where('request')} to ask for signatures and ceremonies, ${this.where('approve')} to decide held requests, ${this.where('admin')} to administer the party`,
        );
    }
    throw new FrostnetError(
      'UNAUTHORIZED',
      `missing or wrong API token (the tokens of this party are in ${join(this.dataDir, TOKENS_DIR)})`,
    );
  }

  /** Refuses `token` for a route of scope `route`, naming the token that would do. */
  authorize(token: TokenScope, route: RouteScope): void {
    if (grants(token, route)) return;
    const fits = scopesFor(route).filter((s) => s !== 'metrics' || route === 'metrics');
    throw new ApiRefusal(
      'WRONG_SCOPE',
      `the ${token} token ${SCOPE_PURPOSE[token]}; this ${route === 'read' ? 'reads state' : `needs the ${route} token, which ${SCOPE_PURPOSE[route]}`}: use ${fits.map((s) => this.where(s)).join(' or ')}`,
    );
  }

  private where(scope: TokenScope): string {
    return tokenFile(this.dataDir, scope);
  }
}
