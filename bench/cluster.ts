/**
 * Real party daemons for the benchmark, started the way an operator starts them (`frostnet start`), each its
 * own process, data dir and ports on 127.0.0.1. Built, like test/helpers/network.ts, on the pieces of
 * deploy/local-network.ts (peers in each config, the ready line, stopping a child); this harness adds what
 * measuring needs: process ids for /proc readings (RSS, CPU time), extra Node flags (--cpu-prof) and a
 * stop that lets a daemon exit cleanly so that a profile gets written.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../cli/listen.ts';
import { othersOf, readyLine, stopChild, writePeers } from '../deploy/local-network.ts';
import { daemonEnv } from '../deploy/node-options.ts';
import { initParty } from '../node/init.ts';

export const ROOT = new URL('../', import.meta.url).pathname;
const NODE = join(ROOT, 'node_modules/.bin/node');
const CLI = join(ROOT, 'cli/frostnet.ts');
const PASSPHRASE = 'benchmark passphrase';
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 10_000;
const ROUND_TIMEOUT_MS = 45_000;

export type Daemon = {
  readonly index: number;
  readonly dataDir: string;
  readonly configPath: string;
  readonly peerId: string;
  /** The request token: the bench creates keys, signs and reads state. */
  readonly token: string;
  proc?: ChildProcess;
  api?: string;
  stderr: string;
  /** Set when the daemon exited without being asked to: how it ended and the tail of its stderr. */
  crashed?: string;
  /** The Node flags it was started with, to start it again the same way. */
  nodeArgs?: string[];
};

/** JSON from the control API; each use reads the fields it needs and fails loudly if they are absent. */
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, narrowed where it is used
export type Json = any;

export type RequestView = {
  state: 'running' | 'done' | 'failed' | 'rejected';
  result?: Json;
  error?: { code: string; message: string };
};

const STALE_SOCKET = ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'];
const describe = (e: unknown) => {
  const cause = (e as Error).cause as { code?: string; message?: string } | undefined;
  return `${(e as Error).message}${cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : ''}`;
};

/** VmRSS of a process from /proc/<pid>/status, in MB (10^6 bytes). */
export function vmRssMB(pid: number): number {
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return (Number(kb[1]) * 1024) / 1e6; // VmRSS counts KiB
}

/**
 * The memory floor: VmRSS of a bare Node process of the same binary, idle after `settleMs`. What a daemon
 * holds beyond it is the daemon's own.
 */
export async function bareNodeRssMB(settleMs = 2000): Promise<number> {
  const proc = spawn(NODE, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  try {
    await sleep(settleMs);
    return vmRssMB(proc.pid!);
  } finally {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }
}

/** Clock ticks per second for /proc/<pid>/stat CPU times. */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export class Cluster {
  readonly daemons: Daemon[] = [];
  private readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  /** n initialised parties, each configured with all the others as peers. */
  static async create(n: number): Promise<Cluster> {
    const c = new Cluster(await mkdtemp(join(tmpdir(), 'frostnet-bench-')));
    try {
      const ports: number[] = [];
      for (let i = 0; i < n; i++) ports.push(await freePort());
      const inits = await Promise.all(
        ports.map((port, i) =>
          initParty({
            dataDir: join(c.root, `party-${i + 1}`),
            listen: [`/ip4/127.0.0.1/tcp/${port}`],
            passphrase: PASSPHRASE,
          }),
        ),
      );
      for (const [index, r] of inits.entries())
        c.daemons.push({
          index,
          dataDir: r.config.dataDir,
          configPath: r.configPath,
          peerId: r.peerId,
          token: r.tokens.request,
          stderr: '',
        });
      const entries = c.daemons.map((q) => ({
        id: q.peerId,
        addrs: [`/ip4/127.0.0.1/tcp/${ports[q.index]}`],
        name: `party-${q.index + 1}`,
      }));
      for (const d of c.daemons)
        await writePeers(d.configPath, othersOf(d.peerId, entries), (cfg) => ({
          logLevel: 'warn',
          // The default 20 s round timeout is an operator's choice, not a speed: on a loaded two-core machine
          // fifteen daemons can take longer than that for one DKG round, and a run that times out measures
          // nothing. A longer timeout lets such a run finish and be measured as slow.
          limits: { ...cfg.limits, roundTimeoutMs: ROUND_TIMEOUT_MS },
        }));
      return c;
    } catch (e) {
      await c.close();
      throw e;
    }
  }

  get ids(): string[] {
    return this.daemons.map((d) => d.peerId);
  }

  /**
   * The script each daemon runs: the `frostnet` command (start --config FILE), or another that takes the same
   * arguments and prints the same first line (bench/daemon-allow-all.ts, for an experiment).
   */
  entry = CLI;

  /** Starts every daemon; `nodeArgs` go to Node before the script (say ['--cpu-prof', ...]). */
  async startAll(nodeArgs: (i: number) => string[] = () => []): Promise<void> {
    // A daemon's start-up (loading its modules, opening the store) is a couple of CPU seconds; starting them
    // a few at a time, one per core, is as fast as all at once and keeps each start within its timeout.
    const queue = [...this.daemons];
    const worker = async () => {
      for (let d = queue.shift(); d; d = queue.shift()) await this.start(d.index, nodeArgs(d.index));
    };
    await Promise.all(Array.from({ length: availableParallelism() }, worker));
  }

  async start(i: number, nodeArgs: string[] = []): Promise<void> {
    const d = this.daemons[i];
    const proc = spawn(NODE, [...nodeArgs, this.entry, 'start', '--config', d.configPath], {
      // The options a deployed daemon runs with (systemd unit, Docker image): what an operator runs is measured.
      env: daemonEnv({ ...process.env, FROSTNET_PASSPHRASE: PASSPHRASE }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    d.proc = proc;
    d.nodeArgs = nodeArgs;
    d.crashed = undefined;
    proc.once('exit', (code, signal) => {
      // close() clears d.proc before it signals; any other exit is a crash.
      if (d.proc === proc) d.crashed = `exited with ${code ?? signal}: ${d.stderr.trim().slice(-600)}`;
    });
    // Keep only the tail of stderr: enough to explain a failure, bounded however long the bench runs.
    proc.stderr?.on('data', (b) => (d.stderr = (d.stderr + String(b)).slice(-4000)));
    const ready = await readyLine(proc, {
      name: `party ${i + 1}`,
      timeoutMs: START_TIMEOUT_MS,
      why: () => d.stderr,
    });
    d.api = ready.api;
  }

  /** Waits until every daemon reports all its peers connected (the persistent streams are up). */
  async connected(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const views = await Promise.all(this.daemons.map((d) => this.call(d.index, 'GET', '/v1/peers')));
      const all = views.every((v) => (v.json as { connected?: boolean }[]).every((p) => p.connected));
      if (all) return;
      if (Date.now() > deadline) throw new Error('daemons did not all connect in time');
      await sleep(250);
    }
  }

  async call(
    i: number,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Json }> {
    const d = this.daemons[i];
    const send = () =>
      fetch(`${d.api}${path}`, {
        method,
        headers: { authorization: `Bearer ${d.token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    let res: Response;
    try {
      res = await send();
    } catch (e) {
      // A kept-alive connection the daemon closed while this process was busy (an in-process baseline blocks
      // the event loop for seconds) fails on reuse before the daemon reads anything; one retry on a fresh
      // connection is safe. Anything else is reported with its cause.
      const code = ((e as Error).cause as { code?: string } | undefined)?.code ?? '';
      if (!STALE_SOCKET.includes(code))
        throw new Error(`${method} ${path} on party ${i + 1}: ${describe(e)}`);
      res = await send();
    }
    return { status: res.status, json: await res.json() };
  }

  /** Starts a request through daemon i's control API and long-polls it to its end, as the CLI does. */
  async run(i: number, path: string, body: unknown): Promise<RequestView> {
    const started = await this.call(i, 'POST', path, body);
    if (started.status !== 202) return { state: 'rejected', error: started.json.error };
    for (;;) {
      const r = await this.call(i, 'GET', `/v1/requests/${started.json.id}?wait=60000`);
      if (r.json.state !== 'running') return r.json;
    }
  }

  /** Like run, but throws unless the request succeeded. */
  async must(i: number, path: string, body: unknown): Promise<Json> {
    const r = await this.run(i, path, body);
    if (r.state !== 'done')
      throw new Error(`${path} via party ${i + 1}: ${r.state} ${JSON.stringify(r.error)}`);
    return r.result;
  }

  pid(i: number): number {
    const d = this.daemons[i];
    if (d.crashed) throw new Error(`party ${i + 1} ${d.crashed}`);
    const pid = d.proc?.pid;
    if (pid === undefined) throw new Error(`party ${i + 1} is not running`);
    return pid;
  }

  /**
   * Starts again every daemon that crashed, so that one crash costs one measurement rather than the rest of
   * the run; returns what each crash was, for the report.
   */
  async revive(): Promise<string[]> {
    const crashes: string[] = [];
    for (const d of this.daemons)
      if (d.crashed) {
        crashes.push(`party ${d.index + 1} ${d.crashed}`);
        await this.start(d.index, d.nodeArgs ?? []);
      }
    if (crashes.length) await this.connected();
    return crashes;
  }

  /** Ends daemon i abruptly (SIGKILL), as a crash would, without counting it as one. */
  async kill(i: number): Promise<void> {
    const d = this.daemons[i];
    const proc = d.proc;
    d.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  /** Resident set size of daemon i now, in MB (10^6 bytes). */
  rssMB(i: number): number {
    return vmRssMB(this.pid(i));
  }

  /** User + system CPU time daemon i has used so far, in ms (from /proc/<pid>/stat). */
  cpuMs(i: number): number {
    const stat = readFileSync(`/proc/${this.pid(i)}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15 of the whole line)
    return (ticks * 1000) / CLK_TCK;
  }

  /** CPU time of the first `n` daemons (all of them by default) together, in ms. */
  totalCpuMs(n = this.daemons.length): number {
    return this.daemons.slice(0, n).reduce((a, d) => a + this.cpuMs(d.index), 0);
  }

  /** Stops every daemon (SIGTERM, so profiles get written; SIGKILL if one hangs) and removes the data dirs. */
  async close(): Promise<void> {
    await Promise.all(this.daemons.map((d) => stop(d)));
    await rm(this.root, { recursive: true, force: true });
  }
}

async function stop(d: Daemon): Promise<void> {
  const proc = d.proc;
  d.proc = undefined;
  if (proc) await stopChild(proc, { graceMs: STOP_TIMEOUT_MS });
}
