/**
 * A small client for a party daemon's control API (node/api/server.ts). Which daemon, in order:
 *   --api URL (or FROSTNET_API), with the token from --token-file, FROSTNET_TOKEN or the data dir;
 *   else --data-dir DIR (or FROSTNET_DATA_DIR): the URL from DIR/daemon.json, written by the running daemon,
 *   and the token from --token-file, FROSTNET_TOKEN or DIR/tokens/.
 * From the data dir, the token is the one of the command's scope (node/api/credentials.ts): DIR/tokens/request
 * for a command that asks for signatures or ceremonies, tokens/approve or tokens/admin likewise; a command that
 * only reads takes the first of them it finds. Tokens are secrets and never taken from the command line.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  LEGACY_TOKEN_FILE,
  type RouteScope,
  TOKENS_DIR,
  type TokenScope,
  tokenFile,
} from '../node/api/credentials.ts';
import { CliError, hintFor, UsageError, Waiting } from './output.ts';

/** Where node/daemon.ts writes the running daemon's API URL. */
export const RUNTIME_FILE = 'daemon.json';
export const CONFIG_FILE = 'config.json';

/** The token a command talks to its daemon with: a scope, or `read` for a command that only reads. */
export type CommandScope = Exclude<RouteScope, 'metrics'>;

/** Reading takes any token but the metrics one: these, in this order. */
const READERS: readonly TokenScope[] = ['request', 'approve', 'admin'];

export type DaemonLocation = {
  /** The control API's base URL. */
  readonly api: string;
  readonly token: string;
  /** How the user named this daemon, for messages: its data dir or its URL. */
  readonly label: string;
  /** Set when the daemon was found through its data dir. */
  readonly dataDir?: string;
};

export type LocateOptions = {
  dataDir?: string;
  api?: string;
  tokenFile?: string;
  command: string;
  /** Whose token the command needs. */
  scope: CommandScope;
};

/**
 * A request held for approval, as the daemon reports it (node/signing/held.ts): a signing request (kind
 * `sign`) or a custody proposal (which also names itself `proposal`). `id` is what the holders' approval
 * queues show.
 */
export type HeldView = {
  id: string;
  proposal?: string;
  kind: string;
  holders: { party: string; code: string; reason: string; until?: string }[];
  approvals: string[];
  needed: number;
  refused?: { party: string; code: string; reason: string }[];
  expiresAt?: string;
};

export type RequestView = {
  id: string;
  kind: string;
  state: 'running' | 'awaiting-approval' | 'settling' | 'done' | 'failed';
  progress: string[];
  held?: HeldView;
  settling?: { missing: string[] };
  result?: unknown;
  error?: { code: string; message: string; culprits: string[] };
  /** What a signing request asked: its key and, for an EVM action, its typed data (JSON text). */
  asked?: { key: string; typedData?: string; account?: number };
  /** The daemon's name for each party the view mentions, by peer id (its messages use these names). */
  names?: Record<string, string>;
};

/**
 * How a long request is followed: whether to wait while it is held or settling, how to name parties, and the
 * command that asks for the same request again (it then completes it).
 */
export type FollowOptions = { wait?: boolean; label?: (peer: string) => string; again?: boolean };

/** What to do about a waiting request: how to follow it, and who decides. */
function waitingHint(view: RequestView, again: boolean | undefined): string {
  const follow = again
    ? 'run the same command again once they decided (it is the same request), or add --wait to wait here'
    : `follow it with "frostnet requests show ${view.id} --wait"`;
  if (view.state !== 'awaiting-approval') return `the daemon goes on with it; ${follow}`;
  const approve =
    view.held?.kind === 'sign' ? `"frostnet approvals approve ${view.held.id}"` : '"frostnet approvals"';
  return `the daemon goes on with it; the named operators run ${approve}; ${follow}`;
}

/** One line on what a waiting request waits for. */
export function waitingLine(view: RequestView, label: (peer: string) => string = (p) => p): string {
  if (view.state === 'settling')
    return `settling: this party confirmed the new epoch and waits for the signed confirmations of ${(view.settling?.missing ?? []).map(label).join(', ') || 'the others'}`;
  const h = view.held;
  if (!h) return view.state;
  const holders = h.holders.map((x) =>
    x.code === 'TIME_LOCKED'
      ? `${label(x.party)} (time lock${x.until ? ` until ${x.until}` : ''})`
      : `${label(x.party)} (approval${x.until ? `, expires ${x.until}` : ''})`,
  );
  const what = h.kind === 'sign' ? `request ${h.id}` : `the ${h.kind} proposal ${h.proposal ?? h.id}`;
  const have = h.approvals.length ? ` (${h.approvals.map(label).join(', ')})` : '';
  const refused = h.refused?.length ? `; refused by ${h.refused.map((r) => label(r.party)).join(', ')}` : '';
  const until = h.expiresAt ? `; valid until ${h.expiresAt}` : '';
  return `${what} awaits approval: ${h.approvals.length} of ${h.needed} approvals${have}; held by ${holders.join(', ')}${refused}${until}`;
}

const readText = async (file: string): Promise<string | undefined> => {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** Finds the daemon the options name; a problem is a usage error or a CliError saying what to do. */
export async function locateDaemon(o: LocateOptions, env: NodeJS.ProcessEnv): Promise<DaemonLocation> {
  const dataDir = o.dataDir === undefined ? undefined : resolve(o.dataDir);
  if (o.api !== undefined) {
    let url: URL;
    try {
      url = new URL(o.api);
    } catch {
      throw new UsageError(
        o.command,
        `--api ${JSON.stringify(o.api)} is not a URL (like http://127.0.0.1:8080)`,
      );
    }
    if (url.protocol !== 'http:')
      throw new UsageError(o.command, `--api must be an http:// URL, not ${o.api}`);
    return { api: url.origin, token: await readToken(o, dataDir, env), label: url.origin };
  }
  if (dataDir === undefined)
    throw new UsageError(
      o.command,
      'which party? give --data-dir DIR (or set FROSTNET_DATA_DIR) or --api URL',
    );
  const runtime = await readText(join(dataDir, RUNTIME_FILE));
  if (runtime === undefined) {
    if ((await readText(join(dataDir, CONFIG_FILE))) === undefined)
      throw new CliError(
        'NO_PARTY',
        `there is no party in ${dataDir}`,
        'create one with "frostnet init --data-dir DIR"',
      );
    throw new CliError(
      'NOT_RUNNING',
      `the daemon of the party in ${dataDir} is not running`,
      `start it with "frostnet start --data-dir ${dataDir}"`,
    );
  }
  let api: unknown;
  try {
    api = (JSON.parse(runtime) as { api?: unknown }).api;
  } catch {}
  if (typeof api !== 'string')
    throw new CliError(
      'NOT_RUNNING',
      `${join(dataDir, RUNTIME_FILE)} is unreadable`,
      `restart the daemon with "frostnet start --data-dir ${dataDir}"`,
    );
  return { api, token: await readToken(o, dataDir, env), label: dataDir, dataDir };
}

async function readToken(
  o: LocateOptions,
  dataDir: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  if (o.tokenFile !== undefined) {
    const file = resolve(o.tokenFile);
    const text = (await readText(file))?.trim();
    if (!text)
      throw new CliError(
        'NO_TOKEN',
        `no API token in ${file}`,
        'give a token file of the party (<data dir>/tokens/<scope>)',
      );
    return text;
  }
  if (env.FROSTNET_TOKEN) return env.FROSTNET_TOKEN.trim();
  if (dataDir !== undefined) return scopedToken(o, dataDir);
  if (o.api !== undefined)
    throw new UsageError(o.command, 'no API token: set FROSTNET_TOKEN, or give --token-file or --data-dir');
  throw new UsageError(o.command, 'which party? give --data-dir DIR (or set FROSTNET_DATA_DIR) or --api URL');
}

/** The token of the command's scope in `dataDir`. */
async function scopedToken(o: LocateOptions, dataDir: string): Promise<string> {
  const scopes = o.scope === 'read' ? READERS : [o.scope];
  for (const scope of scopes) {
    const text = (await readText(tokenFile(dataDir, scope)))?.trim();
    if (text) return text;
  }
  if ((await readText(join(dataDir, LEGACY_TOKEN_FILE))) !== undefined)
    throw new CliError(
      'NOT_MIGRATED',
      `${dataDir} still holds the single ${LEGACY_TOKEN_FILE} of an older version`,
      `restart its daemon with this version ("frostnet start --data-dir ${dataDir}"): it replaces the token with one per scope in ${join(dataDir, TOKENS_DIR)}`,
    );
  const wanted = scopes.map((s) => tokenFile(dataDir, s)).join(' or ');
  throw new CliError(
    'NO_TOKEN',
    `"frostnet ${o.command}" needs ${o.scope === 'read' ? 'a token' : `the ${o.scope} token`} of the party, and there is none at ${wanted}`,
    `is ${dataDir} a party's data dir? ("frostnet init" creates one); or give the token with --token-file FILE`,
  );
}

export class Client {
  readonly daemon: DaemonLocation;

  constructor(daemon: DaemonLocation) {
    this.daemon = daemon;
  }

  get<T = unknown>(path: string, timeoutMs = 30_000): Promise<T> {
    return this.call<T>('GET', path, undefined, timeoutMs);
  }

  post<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body, 30_000);
  }

  /**
   * Starts a long request (a POST answered 202 with a request id) and follows it to its end, passing each new
   * progress line to `onProgress`. Returns the result; a failed request throws its error.
   */
  async run<T = unknown>(
    path: string,
    body: unknown,
    onProgress: (line: string) => void = () => {},
    opts: FollowOptions = {},
  ): Promise<T> {
    const started = await this.post<RequestView>(path, body);
    return this.follow<T>(started.id, onProgress, opts, started);
  }

  /**
   * Follows request `id` to its end. While it is held for approval or settling it reports what it waits for;
   * without `wait` it then stops with Waiting (the daemon goes on with the request). `known`, the view the
   * POST that started the request answered, is read first: a request asked again that is already held (the
   * same PSBT or EVM action) is reported at once, not after a long poll for a change that does not come.
   */
  async follow<T = unknown>(
    id: string,
    onProgress: (line: string) => void = () => {},
    opts: FollowOptions = {},
    known?: RequestView,
  ): Promise<T> {
    let shown = 0;
    let said = '';
    let first = known?.id === id && Array.isArray(known.progress) ? known : undefined;
    for (;;) {
      const view = first ?? (await this.poll(id));
      first = undefined;
      for (const line of view.progress.slice(shown)) onProgress(line);
      shown = view.progress.length;
      if (view.state === 'done') return view.result as T;
      if (view.state === 'failed') {
        const err = view.error ?? { code: 'INTERNAL', message: 'the request failed', culprits: [] };
        throw apiError(err.code, err.message, err.culprits, view.names);
      }
      if (view.state !== 'awaiting-approval' && view.state !== 'settling') continue;
      const line = waitingLine(view, opts.label ?? ((p) => view.names?.[p] ?? p));
      if (!opts.wait)
        throw new Waiting(
          view.state === 'settling' ? 'SETTLING' : 'AWAITING_APPROVAL',
          line,
          id,
          waitingHint(view, opts.again),
          view.held,
        );
      if (line !== said) onProgress(line);
      said = line;
    }
  }

  /** One long poll of request `id` (until it changes); a daemon that forgot it (it restarted) is said so. */
  private async poll(id: string): Promise<RequestView> {
    try {
      return await this.get<RequestView>(`/v1/requests/${encodeURIComponent(id)}?wait=5000&change=1`, 60_000);
    } catch (e) {
      if (!(e instanceof CliError) || e.code !== 'NOT_FOUND') throw e;
      throw await this.lost(id);
    }
  }

  /** What to say of a request the daemon does not know: most often, it restarted and forgot it. */
  private async lost(id: string): Promise<CliError> {
    const status = await this.get<{ startedAt?: string }>('/v1/status').catch(() => undefined);
    const since = status?.startedAt ? ` (it restarted at ${status.startedAt})` : ' (did it restart?)';
    return new CliError(
      'REQUEST_LOST',
      `the daemon at ${this.daemon.api} no longer knows request ${id}${since}: a request dies with the daemon that coordinates it, and its result, had there been one, never left that daemon`,
      'ask again with the same command: a PSBT or EVM action asked again is the same request at every party, so approvals given to it still count ("frostnet keys" shows whether a keygen or ceremony completed)',
    );
  }

  private async call<T>(method: string, path: string, body: unknown, timeoutMs: number): Promise<T> {
    const d = this.daemon;
    let res: Response;
    try {
      res = await fetch(`${d.api}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${d.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw unreachable(d, e);
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new CliError(
        'BAD_RESPONSE',
        `${d.api} answered HTTP ${res.status} without JSON; it is not a frostnet daemon`,
        'check --api or the data dir',
      );
    }
    if (!res.ok) {
      const err =
        (json as { error?: { code?: unknown; message?: unknown; culprits?: unknown; names?: unknown } })
          .error ?? {};
      throw apiError(
        typeof err.code === 'string' ? err.code : 'INTERNAL',
        typeof err.message === 'string' ? err.message : `HTTP ${res.status}`,
        Array.isArray(err.culprits) ? err.culprits.filter((c): c is string => typeof c === 'string') : [],
        namesOf(err.names),
      );
    }
    return json as T;
  }
}

/** The daemon's `names` (peer id to name), when it sent a well-formed one. */
function namesOf(v: unknown): Record<string, string> | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const entries = Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string');
  return entries.length ? Object.fromEntries(entries) : undefined;
}

/** An error the daemon returned, with the advice for its code. */
const apiError = (
  code: string,
  message: string,
  culprits: readonly string[],
  names?: Readonly<Record<string, string>>,
) => new CliError(code, message, hintFor(code, message), culprits, names);

function unreachable(d: DaemonLocation, e: unknown): CliError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message;
  const timedOut = (e as { name?: string }).name === 'TimeoutError';
  const what = timedOut
    ? `the daemon at ${d.api} did not answer in time`
    : `cannot reach the daemon at ${d.api}${why ? ` (${why})` : ''}`;
  const todo = d.dataDir
    ? `check that it runs ("frostnet start --data-dir ${d.dataDir}")`
    : 'check that the daemon runs and that --api is right';
  return new CliError('DAEMON_UNREACHABLE', what, todo);
}
