/**
 * Parties on this machine, for the devnet and the demo: each gets a data dir with a generated passphrase file
 * (mode 600, inside the data dir: a development setup), a fixed p2p port on 127.0.0.1 and every other party in
 * its config; each daemon runs as a child
 * process through `frostnet start`, its logs in <data dir>/daemon.log. A manifest (devnet.json) records the
 * parties and the supervising process, so that another shell can stop them.
 *
 * The pieces every harness of local daemons shares live here, once: `writePeers` (a party's config lists the
 * others), `readyLine` (the line `frostnet start` prints once the daemon is ready) and `stopChild`. The tests'
 * network (test/helpers/network.ts) and the benchmark's cluster (bench/cluster.ts) build on them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../cli/listen.ts';
import { tokenFile } from '../node/api/credentials.ts';
import type { Config } from '../node/config.ts';
import type { LogLevel } from '../node/ops/log.ts';
import { daemonEnv } from './node-options.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const CLI = join(ROOT, 'cli/frostnet.ts');
export const MANIFEST = 'devnet.json';
/** Written by a running daemon (node/daemon.ts), removed when it stops. */
const RUNTIME_FILE = 'daemon.json';
const READY_TIMEOUT_MS = 60_000;

export type LocalParty = { name: string; dataDir: string; peerId: string; listen: string };

export type Manifest = { version: 1; parties: LocalParty[]; supervisorPid?: number };

/** `token` is the party's request token: enough to create keys, sign and read state. */
export type RunningParty = LocalParty & { api: string; token: string; proc: ChildProcess };

/** n new parties under `dir`, named party-1..party-n, each configured with all the others as peers. */
export async function createParties(
  dir: string,
  n: number,
  opts: { logLevel?: LogLevel } = {},
): Promise<LocalParty[]> {
  // The node modules take seconds to load; only creating parties needs them (not stopping or cleaning).
  const [{ defaultConfig }, { storeDir }, { initParty }, { openStore }] = await Promise.all([
    import('../node/config.ts'),
    import('../node/daemon.ts'),
    import('../node/init.ts'),
    import('../node/storage/store.ts'),
  ]);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const parties = await Promise.all(
    Array.from({ length: n }, async (_, i): Promise<LocalParty> => {
      const name = `party-${i + 1}`;
      const dataDir = join(resolve(dir), name);
      await mkdir(dataDir, { mode: 0o700 });
      const passphraseFile = join(dataDir, 'passphrase');
      const passphrase = randomBytes(32).toString('base64url');
      await writeFile(passphraseFile, `${passphrase}\n`, { mode: 0o600, flag: 'wx' });
      // A generated passphrase has 256 random bits, so a costly KDF adds nothing to it; a light one (set when
      // the store is created, kept by every later open) makes every daemon start faster.
      await (await openStore(storeDir(defaultConfig(dataDir)), passphrase, { kdf: { N: 2 ** 14 } })).close();
      const listen = `/ip4/127.0.0.1/tcp/${await freePort()}`;
      const r = await initParty({ dataDir, listen: [listen], passphrase, passphraseFile });
      return { name, dataDir, peerId: r.peerId, listen };
    }),
  );
  const entries = parties.map((q) => ({ id: q.peerId, addrs: [q.listen], name: q.name }));
  for (const p of parties)
    await writePeers(join(p.dataDir, 'config.json'), othersOf(p.peerId, entries), (cfg) => ({
      logLevel: opts.logLevel ?? cfg.logLevel,
    }));
  await writeManifest(dir, { version: 1, parties });
  return parties;
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

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST), 'utf8');
  } catch {
    return undefined;
  }
  const m = JSON.parse(text) as Manifest;
  if (m.version !== 1 || !Array.isArray(m.parties))
    throw new Error(`${join(dir, MANIFEST)} is not a devnet manifest`);
  return m;
}

export const writeManifest = (dir: string, m: Manifest) =>
  writeFile(join(dir, MANIFEST), `${JSON.stringify(m, null, 2)}\n`, { mode: 0o600 });

/** Runs the party's daemon (`frostnet start`) and waits until it is ready; its output goes to daemon.log. */
export async function startParty(p: LocalParty): Promise<RunningParty> {
  const logFile = join(p.dataDir, 'daemon.log');
  const log = await open(logFile, 'a', 0o600);
  const proc = spawn(process.execPath, [CLI, 'start', '--data-dir', p.dataDir], {
    stdio: ['ignore', 'pipe', log.fd],
    env: daemonEnv(process.env),
  });
  // The child holds its own copy of the descriptor.
  await log.close();
  let ready: { api: string };
  try {
    ready = await readyLine(proc, {
      name: p.name,
      timeoutMs: READY_TIMEOUT_MS,
      why: async () => `${await tail(logFile)} (see ${logFile})`,
    });
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  const token = (await readFile(tokenFile(p.dataDir, 'request'), 'utf8')).trim();
  return { ...p, api: ready.api, token, proc };
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

/** The last error line of a log, for a one-line report. */
async function tail(logFile: string): Promise<string> {
  const text = await readFile(logFile, 'utf8').catch(() => '');
  const lines = text.trim().split('\n');
  return lines.findLast((l) => l.startsWith('error:')) ?? lines.at(-1) ?? '(empty log)';
}

/** SIGTERM, then waits for the exit (SIGKILL if it does not come within `graceMs`). */
export async function stopChild(proc: ChildProcess, graceMs = 10_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
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
    await new Promise((r) => setTimeout(r, 100));
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
