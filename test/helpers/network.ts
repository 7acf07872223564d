/**
 * Real party daemons for integration tests, each with its own data dir and ports on 127.0.0.1, stopped when the
 * test ends: the harness of deploy/local-network.ts with the tests' settings and what only tests do (a token per
 * route, reinit through `frostnet init`, keygen). By default a daemon runs inside the test process
 * (`startDaemon`, the code `frostnet start` runs, on real TCP, noise and stores): a daemon process spends about a
 * second of CPU loading its modules before it does anything, which the tests of ceremonies and requests do not
 * need to pay for again and again. A test about the process itself (kill -9, signals, its environment, its
 * memory) creates the network with `processes: true`: then each daemon is its own process, started through the
 * `frostnet` command as an operator would.
 */
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../../cli/listen.ts';
import { CLI, type Json, LocalNetwork } from '../../deploy/local-network.ts';
import type { TokenScope } from '../../node/api/credentials.ts';
import { findRoute, pathSegments } from '../../node/api/routes.ts';
import type { LogLevel } from '../../node/ops/log.ts';
import { NODE } from '../cli/helpers.ts';
import { LIGHT_KDF_N } from './light-store.ts';

export { CLI, ROOT } from '../../deploy/local-network.ts';
export { NODE };
export const PASSPHRASE = 'integration test passphrase';

const execFileAsync = promisify(execFile);

/** A port below the outgoing-connection range, so no connection takes it before the daemon binds it. */
export { freePort };

export class Network extends LocalNetwork {
  /**
   * n initialised parties that know each other (and `configuredOutsiders` test-held identities); `processes`:
   * each daemon runs as its own process (needed to kill one, signal it, or give it an environment).
   */
  static override async create(
    n: number,
    opts: { roundTimeoutMs?: number; configuredOutsiders?: number; processes?: boolean } = {},
  ): Promise<Network> {
    return new Network({
      passphrase: PASSPHRASE,
      kdfN: LIGHT_KDF_N,
      logLevel: testLogLevel(),
      roundTimeoutMs: opts.roundTimeoutMs,
      outsiders: opts.configuredOutsiders,
      inProcess: !opts.processes,
      // The test runner's environment, as it is (a test's start may add to it).
      env: process.env,
      log: 'memory',
      // A test's daemons need no clean exit at its end.
      closeSignal: 'SIGKILL',
    }).populate(n);
  }

  /** The token a route takes (node/api/routes.ts): its own scope, the request token to read, request if none. */
  protected override scopeFor(method: string, path: string): TokenScope {
    try {
      const { scope } = findRoute(method, pathSegments(path.split('?')[0])).route;
      return scope === 'read' || scope === 'metrics' ? 'request' : scope;
    } catch {
      return 'request';
    }
  }

  /**
   * Party i (killed if running) loses its whole data dir, identity included, and is set up again on the same
   * port by `frostnet init` with `args` (e.g. --from-backup FILE) and `env`: a new peer id unless a backup gives
   * the old one, knowing the others. The others learn of a new peer id only when told (`frostnet peers add`).
   */
  async reinit(i: number, args: string[] = [], env: Record<string, string> = {}): Promise<void> {
    const old = this.parties[i];
    await this.stop(i, 'SIGKILL');
    await rm(old.dataDir, { recursive: true, force: true });
    const { stdout } = await execFileAsync(
      NODE,
      [CLI, 'init', '--data-dir', old.dataDir, '--listen', old.listen, '--json', ...args],
      { env: { ...process.env, FROSTNET_PASSPHRASE: PASSPHRASE, ...env } },
    );
    const { peerId } = JSON.parse(stdout) as { peerId: string };
    this.parties[i] = this.party(i, { ...old, peerId });
    await this.configure(this.parties[i]);
  }

  /**
   * Waits until request `id` at party i no longer runs: it ended, or it settles (its party confirmed and waits
   * for the others' signed confirmations, which a killed party gives only once it is back).
   */
  untilNotRunning(i: number, id: string): Promise<Json> {
    return this.follow(i, id, ['running']);
  }

  /**
   * A DKG through party i; `network`: the key's Bitcoin network (the daemon's default, mainnet, if absent).
   * A DKG done at its initiator is settled there; each other member settles once the certificate reaches it,
   * a moment later. A test acts on the key through any member next, so a done DKG returns only when every
   * member of it that runs here holds the key settled (or throws, naming those that do not).
   */
  async keygen(
    i: number,
    name: string,
    threshold: number,
    parties = this.ids,
    network?: string,
  ): Promise<Json> {
    const r = await this.run(i, '/v1/keys', { name, threshold, parties, ...(network && { network }) });
    if (r.state === 'done') await this.untilSettled(name, parties);
    return r;
  }

  /** Waits until each party of `members` (peer ids) that runs a daemon here holds key `name` settled. */
  async untilSettled(name: string, members: readonly string[], waitMs = 60_000): Promise<void> {
    const deadline = Date.now() + waitMs;
    const ours = this.parties.filter(
      (p) => members.includes(p.peerId) && (p.proc ?? p.inProcess) !== undefined,
    );
    for (;;) {
      const views = await Promise.all(ours.map((p) => this.call(p.index, 'GET', `/v1/keys/${name}`)));
      const unsettled = ours.filter(
        (_, k) => views[k]?.json.state !== 'active' || views[k]?.json.pendingEpoch !== undefined,
      );
      if (unsettled.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(`key ${name} is not settled at ${unsettled.map((p) => p.name).join(', ')}`);
      await sleep(50);
    }
  }

  /** The runtime file party i's daemon writes (its pid, where its API listens). */
  async runtime(i: number): Promise<Json> {
    return JSON.parse(await readFile(join(this.parties[i].dataDir, 'daemon.json'), 'utf8'));
  }
}

/** The daemons' log level: warn, or FROSTNET_TEST_LOG (debug keeps every line, for chasing a flaky test). */
const testLogLevel = (): LogLevel => (process.env.FROSTNET_TEST_LOG as LogLevel | undefined) ?? 'warn';
