/**
 * Real party daemons for integration tests, each with its own data dir and ports on 127.0.0.1, stopped when the
 * test ends. By default a daemon runs inside the test process (`startDaemon`, the code `frostnet start` runs, on
 * real TCP, noise and stores): a daemon process spends about a second of CPU loading its modules before it does
 * anything, which the tests of ceremonies and requests do not need to pay for again and again. A test about the
 * process itself (kill -9, signals, its environment, its memory) creates the network with `processes: true`:
 * then each daemon is its own process, started through the `frostnet` command as an operator would.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PrivateKey } from '@libp2p/interface';
import { freePort } from '../../cli/listen.ts';
import { othersOf, readyLine, writePeers } from '../../deploy/local-network.ts';
import { ensureTokens, type TokenScope } from '../../node/api/credentials.ts';
import { findRoute, pathSegments } from '../../node/api/routes.ts';
import { type Daemon, type DaemonOptions, startDaemon } from '../../node/daemon.ts';
import { initParty } from '../../node/init.ts';
import { createLogger, type LogLevel } from '../../node/ops/log.ts';
import { generateIdentity, peerIdOf } from '../../node/storage/identity.ts';
import { lightStore } from './light-store.ts';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const NODE = join(ROOT, 'node_modules/.bin/node');
export const CLI = join(ROOT, 'cli/frostnet.ts');
export const PASSPHRASE = 'integration test passphrase';

const execFileAsync = promisify(execFile);

export type Party = {
  index: number;
  dataDir: string;
  configPath: string;
  peerId: string;
  port: number;
  /** The control API's tokens, by scope. */
  tokens: Record<TokenScope, string>;
  proc?: ChildProcess;
  inProcess?: Daemon;
  api?: string;
  log: string[];
};

/** A port below the outgoing-connection range, so no connection takes it before the daemon binds it. */
export { freePort };

export class Network {
  readonly parties: Party[] = [];
  private readonly root: string;
  private readonly roundTimeoutMs?: number;
  /** Each daemon its own `frostnet start` process, rather than inside the test process. */
  readonly processes: boolean;

  private constructor(root: string, roundTimeoutMs?: number, processes = false) {
    this.root = root;
    this.roundTimeoutMs = roundTimeoutMs;
    this.processes = processes;
  }

  /** Extra identities every party accepts as peers, for tests that play a misbehaving party in-process. */
  readonly outsiders: PrivateKey[] = [];

  /**
   * n initialised parties that know each other (and `configuredOutsiders` test-held identities); `processes`:
   * each daemon runs as its own process (needed to kill one, signal it, or give it an environment).
   */
  static async create(
    n: number,
    opts: { roundTimeoutMs?: number; configuredOutsiders?: number; processes?: boolean } = {},
  ): Promise<Network> {
    const net = new Network(
      await mkdtemp(join(tmpdir(), 'frostnet-net-')),
      opts.roundTimeoutMs,
      opts.processes,
    );
    for (let i = 0; i < (opts.configuredOutsiders ?? 0); i++) net.outsiders.push(await generateIdentity());
    for (let i = 0; i < n; i++) net.parties.push(await net.initParty(i, await freePort()));
    for (const p of net.parties) await net.configurePeers(p);
    return net;
  }

  private async initParty(index: number, port: number): Promise<Party> {
    const dataDir = join(this.root, `party-${index + 1}`);
    await lightStore(dataDir, PASSPHRASE);
    const r = await initParty({ dataDir, listen: [`/ip4/127.0.0.1/tcp/${port}`], passphrase: PASSPHRASE });
    return { index, dataDir, configPath: r.configPath, peerId: r.peerId, port, tokens: r.tokens, log: [] };
  }

  /** Party p's config lists every other party (and the outsiders) as peers. */
  private async configurePeers(p: Party): Promise<void> {
    const parties = this.parties.map((q) => ({
      id: q.peerId,
      addrs: [`/ip4/127.0.0.1/tcp/${q.port}`],
      name: `party-${q.index + 1}`,
    }));
    const outsiders = this.outsiders.map((k, j) => ({
      id: peerIdOf(k),
      addrs: [],
      name: `outsider-${j + 1}`,
    }));
    await writePeers(p.configPath, [...othersOf(p.peerId, parties), ...outsiders], (cfg) => ({
      // FROSTNET_TEST_LOG=debug keeps every daemon's debug lines in its Party.log, for chasing a flaky test.
      logLevel: testLogLevel(),
      ...(this.roundTimeoutMs && { limits: { ...cfg.limits, roundTimeoutMs: this.roundTimeoutMs } }),
    }));
  }

  /**
   * Party i (killed if running) loses its whole data dir, identity included, and is set up again on the same
   * port by `frostnet init` with `args` (e.g. --from-backup FILE) and `env`: a new peer id unless a backup gives
   * the old one, knowing the others. The others learn of a new peer id only when told (`frostnet peers add`).
   */
  async reinit(i: number, args: string[] = [], env: Record<string, string> = {}): Promise<void> {
    const old = this.parties[i];
    await stopProc(old, 'SIGKILL');
    await rm(old.dataDir, { recursive: true, force: true });
    const listen = `/ip4/127.0.0.1/tcp/${old.port}`;
    const { stdout } = await execFileAsync(
      NODE,
      [CLI, 'init', '--data-dir', old.dataDir, '--listen', listen, '--json', ...args],
      { env: { ...process.env, FROSTNET_PASSPHRASE: PASSPHRASE, ...env } },
    );
    const out = JSON.parse(stdout) as { peerId: string; config: string };
    const { tokens } = await ensureTokens(old.dataDir);
    this.parties[i] = {
      index: i,
      dataDir: old.dataDir,
      configPath: out.config,
      peerId: out.peerId,
      port: old.port,
      tokens,
      log: [],
    };
    await this.configurePeers(this.parties[i]);
  }

  /** libp2p peer info of every party, for a test-held host to dial them. */
  get peerInfos(): { id: string; addrs: string[] }[] {
    return this.parties.map((p) => ({ id: p.peerId, addrs: [`/ip4/127.0.0.1/tcp/${p.port}`] }));
  }

  get ids(): string[] {
    return this.parties.map((p) => p.peerId);
  }

  async startAll(): Promise<void> {
    await Promise.all(this.parties.map((p) => this.start(p.index)));
  }

  /**
   * Starts party i's daemon: in this process, or as its own process (a network of `processes`, or when the
   * test gives the daemon an environment `env`).
   */
  async start(i: number, env?: Record<string, string>): Promise<void> {
    if (!this.processes && env === undefined) return this.startInProcess(i);
    const p = this.parties[i];
    this.assertStopped(p);
    const proc = spawn(NODE, [CLI, 'start', '--config', p.configPath], {
      env: { ...process.env, FROSTNET_PASSPHRASE: PASSPHRASE, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    p.proc = proc;
    proc.stderr?.on('data', (d) => p.log.push(String(d)));
    const ready = await readyLine(proc, { name: `party ${i + 1}`, why: () => p.log.join('').slice(-2000) });
    p.api = ready.api;
  }

  /**
   * Runs party i's daemon inside the test process (e.g. with a fault-injecting transform); its log lines go to
   * the party's `log`, as a daemon process's stderr does.
   */
  async startInProcess(i: number, opts: Omit<DaemonOptions, 'configPath'> = {}): Promise<void> {
    const p = this.parties[i];
    this.assertStopped(p);
    const d = await startDaemon({
      configPath: p.configPath,
      passphrase: PASSPHRASE,
      log: createLogger({ level: testLogLevel(), stream: { write: (line) => p.log.push(line) } }),
      ...opts,
    });
    p.inProcess = d;
    p.api = d.api.url;
  }

  /** A second daemon on the same data dir would find the store locked, and the first would outlive the test. */
  private assertStopped(p: Party): void {
    if (p.inProcess || (p.proc && p.proc.exitCode === null && p.proc.signalCode === null))
      throw new Error(`party ${p.index + 1} is running already`);
  }

  /** Ends a daemon process abruptly, as a crash would (a daemon inside this process cannot be killed). */
  async kill(i: number): Promise<void> {
    if (this.parties[i].inProcess)
      throw new Error(`party ${i + 1} runs inside the test process: kill needs a network of processes`);
    await stopProc(this.parties[i], 'SIGKILL');
  }

  async stop(i: number): Promise<void> {
    await stopProc(this.parties[i], 'SIGTERM');
  }

  async close(): Promise<void> {
    await Promise.all(this.parties.map((p) => stopProc(p, 'SIGKILL')));
    await rm(this.root, { recursive: true, force: true });
  }

  /**
   * Calls party i's control API with the token of scope `as` (default: the one the route needs, the request
   * token for reading); returns status and parsed JSON.
   */
  async call(
    i: number,
    method: string,
    path: string,
    body?: unknown,
    as: TokenScope = scopeFor(method, path),
  ): Promise<{ status: number; json: any }> {
    const p = this.parties[i];
    const res = await fetch(`${p.api}${path}`, {
      method,
      headers: { authorization: `Bearer ${p.tokens[as]}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
  }

  /**
   * Starts a request (POST returning 202) and waits until it ends or waits for approval (a settling ceremony
   * is waited for); returns the request view.
   */
  async run(i: number, path: string, body: unknown): Promise<any> {
    const started = await this.call(i, 'POST', path, body);
    if (started.status !== 202)
      return { state: 'rejected', status: started.status, error: started.json.error };
    for (;;) {
      const r = await this.call(i, 'GET', `/v1/requests/${started.json.id}?wait=30000&change=1`);
      if (r.json.state !== 'running' && r.json.state !== 'settling') return r.json;
    }
  }

  /**
   * Waits until request `id` at party i no longer runs: it ended, or it settles (its party confirmed and waits
   * for the others' signed confirmations, which a killed party gives only once it is back).
   */
  async untilNotRunning(i: number, id: string): Promise<void> {
    for (;;) {
      const r = await this.call(i, 'GET', `/v1/requests/${id}?wait=15000&change=1`);
      if (r.json.state !== 'running') return;
    }
  }

  /** A DKG through party i; `network`: the key's Bitcoin network (the daemon's default, mainnet, if absent). */
  async keygen(
    i: number,
    name: string,
    threshold: number,
    parties = this.ids,
    network?: string,
  ): Promise<any> {
    return this.run(i, '/v1/keys', { name, threshold, parties, ...(network && { network }) });
  }

  async runtime(i: number): Promise<any> {
    return JSON.parse(await readFile(join(this.parties[i].dataDir, 'daemon.json'), 'utf8'));
  }
}

/** The daemons' log level: warn, or FROSTNET_TEST_LOG (debug keeps every line, for chasing a flaky test). */
const testLogLevel = (): LogLevel => (process.env.FROSTNET_TEST_LOG as LogLevel | undefined) ?? 'warn';

/** The token a route takes (node/api/routes.ts): its own scope, the request token to read, request if none. */
function scopeFor(method: string, path: string): TokenScope {
  try {
    const { scope } = findRoute(method, pathSegments(path.split('?')[0])).route;
    return scope === 'read' || scope === 'metrics' ? 'request' : scope;
  } catch {
    return 'request';
  }
}

async function stopProc(p: Party, signal: NodeJS.Signals): Promise<void> {
  if (p.inProcess) {
    await p.inProcess.stop();
    p.inProcess = undefined;
  }
  const proc = p.proc;
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill(signal);
  await exited;
  p.proc = undefined;
}
