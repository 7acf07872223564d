/**
 * Party daemons on this machine, all on 127.0.0.1: the one harness of the devnet and the demo, the tests
 * (test/helpers/network.ts) and the benchmark (bench/cluster.ts). A LocalNetwork creates n parties (a data dir,
 * an identity and a free p2p port each, every config listing the others and any outsiders, with the settings
 * given), starts each daemon as its own `frostnet start` process or, where the caller allows it, inside this
 * process, stops them, and calls their control APIs. What is one user's own stays with it as a thin layer: the
 * tests' token per route, reinit and keygen; the benchmark's /proc readings and revive; the devnet's manifest.
 *
 * The functions below the class are its parts that also serve alone: `spawnDaemon` (one daemon process of a
 * data dir made elsewhere), `readyLine`, `writePeers`, `stopChild`, and `stopPid`/`daemonPid` (a daemon that is
 * not our child, found through its runtime file).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { PrivateKey } from '@libp2p/interface';
import { freePort } from '../cli/listen.ts';
import { TOKEN_SCOPES, type TokenScope, tokenFile } from '../node/api/credentials.ts';
import type { Config } from '../node/config.ts';
import type { Daemon, DaemonOptions } from '../node/daemon.ts';
import type { LogLevel } from '../node/ops/log.ts';
import { daemonEnv } from './node-options.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const CLI = join(ROOT, 'cli/frostnet.ts');
/** Written by a running daemon (node/daemon.ts), removed when it stops. */
const RUNTIME_FILE = 'daemon.json';
/** A party's config in its data dir, as node/init.ts names it (not imported: stopping needs no node module). */
const CONFIG_FILE = 'config.json';
/** A daemon's log in its data dir, with the 'file' log sink. */
export const LOG_FILE = 'daemon.log';
/**
 * A generated passphrase has 256 random bits, so a costly KDF adds nothing to it; a light one (set when the store
 * is created, kept by every later open) makes every daemon start faster.
 */
const GENERATED_PASSPHRASE_KDF_N = 2 ** 14;

/** A party as the devnet's manifest records it. */
export type LocalParty = { name: string; dataDir: string; peerId: string; listen: string };

/** JSON from the control API; each use reads the fields it needs and fails loudly if they are absent. */
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, narrowed where it is used
export type Json = any;

/**
 * Where each daemon's log goes: 'memory', every line in its party's `log` (a test's daemons live as long as the
 * test); `{ tail }`, only the last `tail` characters of it (a benchmark runs long); 'file', appended to
 * <data dir>/daemon.log, which outlives the daemon (the devnet's, the demo's).
 */
export type LogSink = 'memory' | { tail: number } | 'file';

export type LocalNetworkSettings = {
  /** Where the data dirs go (party-1 ... party-n); default a new temporary directory, which close() deletes. */
  dir?: string;
  /**
   * The passphrase of every store, handed to each daemon (FROSTNET_PASSPHRASE to a process). Default: a random
   * one per party, in a passphrase file (mode 600) inside its data dir that its config names: a development
   * setup.
   */
  passphrase?: string;
  /**
   * The stores' scrypt cost N, fixed when each is created and kept by every later open. Default: 2^14 for a
   * generated passphrase, the store's own for a given one.
   */
  kdfN?: number;
  /** Each config's log level; default the config's own. */
  logLevel?: LogLevel;
  /** Each config's round timeout; default the config's own. */
  roundTimeoutMs?: number;
  /** Identities every config lists as peers with no address, for a caller that plays a party with them. */
  outsiders?: number;
  /**
   * Each start() runs the daemon inside this process (startDaemon) unless it gives an environment or Node
   * flags. Only for callers that load the node's modules anyway (the tests); default: a process each.
   */
  inProcess?: boolean;
  /** The environment of each daemon process; default this one's, with the Node options a deployed daemon has. */
  env?: NodeJS.ProcessEnv;
  /** The script each process runs: `frostnet` (default) or one with its arguments and first line. */
  entry?: string;
  /** Default 'file'. */
  log?: LogSink;
  /** How long a start may take before it fails naming the daemon; default 60 s. */
  readyTimeoutMs?: number;
  /** How long a daemon may take to exit after SIGTERM before it gets SIGKILL; default 10 s. */
  stopGraceMs?: number;
  /** How many daemons startAll starts at once; default all of them. */
  startConcurrency?: number;
  /** How close() ends the daemons: SIGTERM (default: a clean exit) or SIGKILL (quick). */
  closeSignal?: 'SIGTERM' | 'SIGKILL';
};

/** How a daemon process is started, beyond the network's settings (kept, to start it again the same way). */
export type ProcessStart = {
  /** Over the network's environment. */
  env?: NodeJS.ProcessEnv;
  /** Node flags before the script (say ['--cpu-prof', ...]). */
  nodeArgs?: string[];
};

export type Party = LocalParty & {
  readonly index: number;
  readonly configPath: string;
  /** The control API's tokens, by scope, as of its creation or the daemon's last start (see token()). */
  tokens?: Record<TokenScope, string>;
  /** The control API's URL, from the daemon's last start. */
  api?: string;
  proc?: ChildProcess;
  inProcess?: Daemon;
  /** The daemon's log with a 'memory' or tail sink: a process's stderr, an in-process daemon's lines. */
  log: string[];
  /** Set when the daemon process exited without being asked to: how it ended and what it said last. */
  crashed?: string;
  /** How the process was last started. */
  started?: ProcessStart;
};

export class LocalNetwork {
  readonly parties: Party[] = [];
  /** Identities that every party accepts as peers (settings.outsiders of them). */
  readonly outsiders: PrivateKey[] = [];
  private outsiderPeers: PeerEntry[] = [];
  private root = '';
  /** The root is a temporary directory of ours, which close() deletes. */
  private temp = false;

  protected readonly settings: LocalNetworkSettings;

  protected constructor(settings: LocalNetworkSettings) {
    this.settings = settings;
  }

  /** n new parties, named party-1..party-n, each configured with all the others (and the outsiders) as peers. */
  static async create(n: number, settings: LocalNetworkSettings = {}): Promise<LocalNetwork> {
    return new LocalNetwork(settings).populate(n);
  }

  /** Parties created earlier (say by a devnet's first run), with their configs as they are. */
  static open(parties: readonly LocalParty[], settings: LocalNetworkSettings = {}): LocalNetwork {
    const net = new LocalNetwork(settings);
    for (const [index, p] of parties.entries()) net.parties.push(net.party(index, p));
    return net;
  }

  protected async populate(n: number): Promise<this> {
    this.temp = this.settings.dir === undefined;
    this.root = resolve(this.settings.dir ?? (await mkdtemp(join(tmpdir(), 'frostnet-net-'))));
    try {
      await mkdir(this.root, { recursive: true, mode: 0o700 });
      const { generateIdentity, peerIdOf } = await import('../node/storage/identity.ts');
      for (let j = 0; j < (this.settings.outsiders ?? 0); j++) this.outsiders.push(await generateIdentity());
      this.outsiderPeers = this.outsiders.map((k, j) => ({
        id: peerIdOf(k),
        addrs: [],
        name: `outsider-${j + 1}`,
      }));
      this.parties.push(...(await Promise.all(Array.from({ length: n }, (_, i) => this.createParty(i)))));
      for (const p of this.parties) await this.configure(p);
      return this;
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** Where the data dirs are (a created network's). */
  get dir(): string {
    return this.root;
  }

  get ids(): string[] {
    return this.parties.map((p) => p.peerId);
  }

  /** libp2p peer info of every party, for a caller's own host to dial them. */
  get peerInfos(): { id: string; addrs: string[] }[] {
    return this.parties.map((p) => ({ id: p.peerId, addrs: [p.listen] }));
  }

  protected party(index: number, p: LocalParty, tokens?: Record<TokenScope, string>): Party {
    const { name, dataDir, peerId, listen } = p;
    return { index, name, dataDir, peerId, listen, configPath: join(dataDir, CONFIG_FILE), tokens, log: [] };
  }

  /** A party's data dir, store (at the network's KDF cost), identity and config, on a free port. */
  private async createParty(index: number): Promise<Party> {
    // The node modules take seconds to load; only creating parties needs them (not stopping or cleaning).
    const { initParty } = await import('../node/init.ts');
    const name = `party-${index + 1}`;
    const dataDir = join(this.root, name);
    const given = this.settings.passphrase;
    const passphrase = given ?? randomBytes(32).toString('base64url');
    let passphraseFile: string | undefined;
    if (given === undefined) {
      await mkdir(dataDir, { mode: 0o700 });
      passphraseFile = join(dataDir, 'passphrase');
      await writeFile(passphraseFile, `${passphrase}\n`, { mode: 0o600, flag: 'wx' });
    }
    const kdfN = this.settings.kdfN ?? (given === undefined ? GENERATED_PASSPHRASE_KDF_N : undefined);
    if (kdfN !== undefined) await createStore(dataDir, passphrase, kdfN);
    const listen = `/ip4/127.0.0.1/tcp/${await freePort()}`;
    const r = await initParty({ dataDir, listen: [listen], passphrase, passphraseFile });
    return this.party(index, { name, dataDir, peerId: r.peerId, listen }, r.tokens);
  }

  /** Party p's config lists every other party and the outsiders as peers, with the network's settings. */
  protected async configure(p: Party): Promise<void> {
    const all = this.parties.map((q) => ({ id: q.peerId, addrs: [q.listen], name: q.name }));
    const { logLevel, roundTimeoutMs } = this.settings;
    await writePeers(p.configPath, [...othersOf(p.peerId, all), ...this.outsiderPeers], (cfg) => ({
      ...(logLevel && { logLevel }),
      ...(roundTimeoutMs && { limits: { ...cfg.limits, roundTimeoutMs } }),
    }));
  }

  /** Starts every daemon, startConcurrency at a time; `how` gives each process start its own flags. */
  async startAll(how: (i: number) => ProcessStart = () => ({})): Promise<void> {
    const queue = [...this.parties];
    const failures: unknown[] = [];
    const worker = async () => {
      for (let p = queue.shift(); p; p = queue.shift())
        await this.start(p.index, how(p.index)).catch((e) => failures.push(e));
    };
    // Every start ends before this returns, failed or not, so that a stop after a failure stops them all.
    await Promise.all(Array.from({ length: this.settings.startConcurrency ?? queue.length }, worker));
    if (failures.length > 0) throw failures[0];
  }

  /**
   * Starts daemon i and waits until it is ready: as its own process, or in this process where the network
   * allows it and the start gives no environment or Node flags.
   */
  async start(i: number, how: ProcessStart = {}): Promise<void> {
    if (this.settings.inProcess && how.env === undefined && how.nodeArgs === undefined)
      return this.startInProcess(i);
    const p = this.parties[i];
    this.assertStopped(p);
    const { passphrase, log = 'file' } = this.settings;
    p.started = how;
    p.crashed = undefined;
    const { proc, ready } = spawnDaemon({
      name: p.name,
      configPath: p.configPath,
      entry: this.settings.entry,
      nodeArgs: how.nodeArgs,
      env: {
        ...(this.settings.env ?? daemonEnv(process.env)),
        ...(passphrase !== undefined && { FROSTNET_PASSPHRASE: passphrase }),
        ...how.env,
      },
      log: log === 'file' ? join(p.dataDir, LOG_FILE) : (text) => this.keep(p, text),
      why: () => this.logTail(i),
      timeoutMs: this.settings.readyTimeoutMs ?? 60_000,
    });
    p.proc = proc;
    proc.once('exit', (code, signal) => {
      // stop() lets go of p.proc before it signals; any other exit is a crash.
      if (p.proc === proc) p.crashed = `exited with ${code ?? signal}: ${this.logTail(i)}`;
    });
    p.api = await ready;
    p.tokens = await readTokens(p.dataDir);
  }

  /**
   * Runs daemon i inside this process, with `opts` (e.g. a fault-injecting transform); its log lines go where a
   * process's stderr would.
   */
  async startInProcess(i: number, opts: Omit<DaemonOptions, 'configPath'> = {}): Promise<void> {
    const p = this.parties[i];
    this.assertStopped(p);
    const [{ startDaemon }, { createLogger }] = await Promise.all([
      import('../node/daemon.ts'),
      import('../node/ops/log.ts'),
    ]);
    const level = this.settings.logLevel ?? 'info';
    const d = await startDaemon({
      configPath: p.configPath,
      passphrase: this.settings.passphrase,
      log: createLogger({ level, stream: { write: (line) => this.keep(p, line) } }),
      ...opts,
    });
    p.inProcess = d;
    p.api = d.api.url;
    p.tokens = await readTokens(p.dataDir);
  }

  /** A second daemon on the same data dir would find the store locked, and the first would outlive us. */
  private assertStopped(p: Party): void {
    if (p.inProcess || (p.proc && p.proc.exitCode === null && p.proc.signalCode === null))
      throw new Error(`${p.name} is running already`);
  }

  /** One piece of daemon output, into the network's log sink. */
  private keep(p: Party, text: string): void {
    const sink = this.settings.log ?? 'file';
    if (sink === 'file') {
      appendFileSync(join(p.dataDir, LOG_FILE), text, { mode: 0o600 });
      return;
    }
    p.log.push(text);
    if (sink !== 'memory') {
      const all = p.log.join('');
      // Only the tail: enough to explain a failure, bounded however long the run.
      if (all.length > sink.tail) p.log.splice(0, p.log.length, all.slice(-sink.tail));
    }
  }

  /** What daemon i said last, for an error: its log's tail, or its log file's last error line. */
  logTail(i: number, chars = 2000): string {
    const p = this.parties[i];
    if ((this.settings.log ?? 'file') === 'file') return fileTail(join(p.dataDir, LOG_FILE));
    return p.log.join('').trim().slice(-chars);
  }

  /**
   * Stops daemon i: SIGTERM (SIGKILL after the grace period) or `signal`; one in this process stops itself.
   * Nothing happens to a daemon that is not running.
   */
  async stop(i: number, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const p = this.parties[i];
    const { inProcess, proc } = p;
    p.inProcess = undefined;
    p.proc = undefined;
    await inProcess?.stop();
    if (proc) await stopChild(proc, { signal, graceMs: this.settings.stopGraceMs });
  }

  /** Ends daemon i's process abruptly, as a crash would, without counting it as one. */
  async kill(i: number): Promise<void> {
    const p = this.parties[i];
    if (p.inProcess) throw new Error(`${p.name} runs inside this process: kill needs a daemon process`);
    await this.stop(i, 'SIGKILL');
  }

  async stopAll(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    await Promise.all(this.parties.map((p) => this.stop(p.index, signal)));
  }

  /** Stops every daemon (closeSignal) and deletes the data dirs if they are in a temporary directory of ours. */
  async close(): Promise<void> {
    await this.stopAll(this.settings.closeSignal);
    if (this.temp) await rm(this.root, { recursive: true, force: true });
  }

  /** Waits until every daemon reports all its peers connected (the persistent streams are up). */
  async connected(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const views = await Promise.all(this.parties.map((p) => this.call(p.index, 'GET', '/v1/peers')));
      if (views.every((v) => (v.json as { connected?: boolean }[]).every((q) => q.connected))) return;
      if (Date.now() > deadline) throw new Error('the daemons did not all connect in time');
      await sleep(250);
    }
  }

  /** Party i's control API token of `scope`. */
  token(i: number, scope: TokenScope): string {
    const p = this.parties[i];
    const token = p.tokens?.[scope];
    if (token === undefined) throw new Error(`${p.name}'s ${scope} token is not known before it starts`);
    return token;
  }

  /** The token a call takes unless it names one: the request token (create keys, sign, read state). */
  protected scopeFor(_method: string, _path: string): TokenScope {
    return 'request';
  }

  /** Calls party i's control API with the token of scope `as`; returns status and parsed JSON. */
  async call(
    i: number,
    method: string,
    path: string,
    body?: unknown,
    as: TokenScope = this.scopeFor(method, path),
  ): Promise<{ status: number; json: Json }> {
    const p = this.parties[i];
    if (p.api === undefined) throw new Error(`${p.name} has not started: no control API to call`);
    const send = async (retry: boolean): Promise<Response> => {
      try {
        return await fetch(`${p.api}${path}`, {
          method,
          headers: { authorization: `Bearer ${this.token(i, as)}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (e) {
        // A kept-alive connection the daemon closed while this process was busy (an in-process baseline blocks
        // the event loop for seconds) fails on reuse before the daemon reads anything; one retry on a fresh
        // connection is safe. Anything else is reported with its cause.
        const cause = (e as Error).cause as { code?: string; message?: string } | undefined;
        if (retry && STALE_SOCKET.includes(cause?.code ?? '')) return send(false);
        const why = cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : '';
        throw new Error(`${method} ${path} on ${p.name}: ${(e as Error).message}${why}`);
      }
    };
    const res = await send(true);
    return { status: res.status, json: await res.json() };
  }

  /**
   * Starts a request (POST answered 202) through party i and long-polls it, as the CLI does, until it ends or
   * waits for approval (a settling ceremony is waited for); returns the request view.
   */
  async run(i: number, path: string, body: unknown): Promise<Json> {
    const started = await this.call(i, 'POST', path, body);
    if (started.status !== 202)
      return { state: 'rejected', status: started.status, error: started.json.error };
    return this.follow(i, started.json.id);
  }

  /** Long-polls request `id` at party i while its state is one of `states`; returns its view. */
  async follow(i: number, id: string, states: readonly string[] = ['running', 'settling']): Promise<Json> {
    for (;;) {
      const r = await this.call(i, 'GET', `/v1/requests/${id}?wait=30000&change=1`);
      if (!states.includes(r.json.state)) return r.json;
    }
  }

  /** Like run, but throws unless the request succeeded; returns its result. */
  async must(i: number, path: string, body: unknown): Promise<Json> {
    const r = await this.run(i, path, body);
    if (r.state !== 'done')
      throw new Error(`${path} via ${this.parties[i].name}: ${r.state} ${JSON.stringify(r.error)}`);
    return r.result;
  }
}

const STALE_SOCKET = ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'];

/** The tokens a data dir holds now (a daemon creates missing ones when it starts). */
async function readTokens(dataDir: string): Promise<Record<TokenScope, string>> {
  const texts = await Promise.all(TOKEN_SCOPES.map((s) => readFile(tokenFile(dataDir, s), 'utf8')));
  return Object.fromEntries(TOKEN_SCOPES.map((s, k) => [s, texts[k]?.trim()])) as Record<TokenScope, string>;
}

/**
 * Creates a party's store ahead of `frostnet init` (or initParty) with scrypt cost N, which init, every daemon
 * start and every later open keep.
 */
export async function createStore(dataDir: string, passphrase: string, kdfN: number): Promise<void> {
  const { openStore, storeDir } = await import('../node/storage/store.ts');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await (await openStore(storeDir({ dataDir }), passphrase, { kdf: { N: kdfN } })).close();
}

/** A peer as a party's config lists it. */
export type PeerEntry = { id: string; addrs: string[]; name: string };

/** The others of `all`, as the peers of the party `self`. */
export const othersOf = (self: string, all: readonly PeerEntry[]): PeerEntry[] =>
  all.filter((q) => q.id !== self).map((q) => ({ id: q.id, addrs: [...q.addrs], name: q.name }));

/** Saves the config at `configPath` with `peers` as its peers and `settings` (log level, limits) over it. */
export async function writePeers(
  configPath: string,
  peers: readonly PeerEntry[],
  settings: (cfg: Config) => Partial<Config> = () => ({}),
): Promise<void> {
  const { loadConfig, saveConfig } = await import('../node/config.ts');
  const cfg = await loadConfig(configPath);
  await saveConfig(configPath, { ...cfg, peers: [...peers], ...settings(cfg) });
}

export type SpawnOptions = {
  /** Names the daemon in the errors. */
  name: string;
  configPath: string;
  /** Default `frostnet` (cli/frostnet.ts). */
  entry?: string;
  nodeArgs?: readonly string[];
  /** Default this process's, with the Node options a deployed daemon has. */
  env?: NodeJS.ProcessEnv;
  /** Where its stderr goes: appended to this file, or handed to this function. */
  log: string | ((text: string) => void);
  /** What it said, for the error when it exits or does not get ready; default the log file's tail. */
  why?: () => string;
  /** How long it may take to get ready; default as long as it takes. */
  timeoutMs?: number;
};

/**
 * Spawns a daemon process (`frostnet start --config FILE`); `ready` is its control API's URL once it printed
 * its ready line. A daemon that is not ready in time is killed, and `ready` rejects naming it.
 */
export function spawnDaemon(o: SpawnOptions): { proc: ChildProcess; ready: Promise<string> } {
  const file = typeof o.log === 'string' ? openSync(o.log, 'a', 0o600) : undefined;
  const proc = spawn(
    process.execPath,
    [...(o.nodeArgs ?? []), o.entry ?? CLI, 'start', '--config', o.configPath],
    { stdio: ['ignore', 'pipe', file ?? 'pipe'], env: o.env ?? daemonEnv(process.env) },
  );
  // The child holds its own copy of the descriptor.
  if (file !== undefined) closeSync(file);
  const onLog = o.log;
  if (typeof onLog === 'function') proc.stderr?.on('data', (d) => onLog(String(d)));
  const why = o.why ?? (() => (typeof o.log === 'string' ? fileTail(o.log) : ''));
  const ready = readyLine(proc, { name: o.name, timeoutMs: o.timeoutMs, why }).then(
    (line) => line.api,
    (e) => {
      proc.kill('SIGKILL');
      throw e;
    },
  );
  return { proc, ready };
}

/** The last error line of a log file, for a one-line report. */
function fileTail(file: string): string {
  let lines: string[] = [];
  try {
    lines = readFileSync(file, 'utf8').trim().split('\n');
  } catch {
    // no log yet
  }
  return `${lines.findLast((l) => l.startsWith('error:')) ?? lines.at(-1) ?? '(empty log)'} (see ${file})`;
}

export type ReadyOptions = {
  /** Names the daemon in the errors. */
  name: string;
  /** How long it may take; default: as long as it takes (a test's own timeout bounds it). */
  timeoutMs?: number;
  /** What the daemon said, for the error when it exits or does not get ready: the tail of its log. */
  why: () => string | Promise<string>;
};

/** The JSON line `frostnet start` prints once the daemon is ready; rejects if it exits or times out first. */
export function readyLine(proc: ChildProcess, o: ReadyOptions): Promise<{ api: string }> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer =
      o.timeoutMs === undefined
        ? undefined
        : setTimeout(
            () =>
              void Promise.resolve(o.why()).then((why) =>
                fail(new Error(`${o.name} did not start within ${(o.timeoutMs ?? 0) / 1000} s: ${why}`)),
              ),
            o.timeoutMs,
          );
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      void Promise.resolve(o.why()).then((why) =>
        fail(new Error(`${o.name} exited (${code ?? signal}) before it was ready: ${why}`)),
      );
    const fail = (e: Error) => {
      clearTimeout(timer);
      proc.off('exit', onExit);
      reject(e);
    };
    const onData = (d: unknown) => {
      out += String(d);
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      proc.off('exit', onExit);
      // The rest of its output is not read: it flows on, so the daemon never blocks on a full pipe.
      proc.stdout?.off('data', onData);
      proc.stdout?.resume();
      try {
        resolve(JSON.parse(out.slice(0, nl)) as { api: string });
      } catch {
        reject(new Error(`${o.name} printed an unexpected first line: ${out.slice(0, nl)}`));
      }
    };
    proc.once('exit', onExit);
    proc.stdout?.on('data', onData);
  });
}

/** `signal` (SIGTERM by default), then waits for the exit (SIGKILL if it does not come within `graceMs`). */
export async function stopChild(
  proc: ChildProcess,
  o: { signal?: 'SIGTERM' | 'SIGKILL'; graceMs?: number } = {},
): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill(o.signal ?? 'SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), o.graceMs ?? 10_000);
  await exited;
  clearTimeout(timer);
}

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
};

/** Stops a process that is not our child (found through a pid file): SIGTERM, wait, SIGKILL after `graceMs`. */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      return;
    }
    await sleep(100);
  }
}

/** The pid of the party's running daemon, from the runtime file the daemon writes. */
export async function daemonPid(p: LocalParty): Promise<number | undefined> {
  try {
    const { pid } = JSON.parse(await readFile(join(p.dataDir, RUNTIME_FILE), 'utf8')) as { pid?: unknown };
    return typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
