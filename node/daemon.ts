/**
 * The party daemon, wired by composition: config -> passphrase -> encrypted store -> identity and keys ->
 * libp2p host -> session router -> ceremonies, signer and coordinator -> control API (its backend,
 * node/api/control-backend.ts, over the services and the peer book). Everything is constructed and registered
 * before the host listens; stop() undoes each step in reverse. Nothing here does cryptography of its own.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { controlBackend } from './api/control-backend.ts';
import { Credentials, TOKENS_DIR } from './api/credentials.ts';
import { Requests } from './api/requests.ts';
import { ControlApi } from './api/server.ts';
import { Backups } from './ceremonies/backup.ts';
import { KeyCeremonies } from './ceremonies/key-ceremonies.ts';
import { checkStoredRecovery } from './ceremonies/key-network.ts';
import { proposalApprover } from './ceremonies/proposals.ts';
import { Repairs } from './ceremonies/repair.ts';
import { ConfigFile, loadConfig } from './config.ts';
import { consoleExtras } from './console/console.ts';
import { createLogger, type Logger } from './ops/log.ts';
import { createRegistry } from './ops/metrics.ts';
import { configPeerBook } from './peer-book.ts';
import { notifyCommand } from './policy/notify.ts';
import { PartyPolicy } from './policy/party-policy.ts';
import { Router } from './session/router.ts';
import { Coordinator } from './signing/coordinator.ts';
import { type Policy, Signer } from './signing/signer.ts';
import { bindFailure } from './storage/bind-check.ts';
import { identitySignatures, loadOrCreateIdentity, peerIdOf } from './storage/identity.ts';
import { KeyStore } from './storage/keystore.ts';
import { openPartyStore } from './storage/store.ts';
import { type Host, prepareHost } from './transport/host.ts';
import { Liveness } from './transport/liveness.ts';
import { PeerNames } from './transport/peer-names.ts';
import type { Envelope } from './transport/wire.ts';

/** Written at start, removed at stop: where this party's API listens, for the CLI. */
export const RUNTIME_FILE = 'daemon.json';

export type DaemonOptions = {
  configPath: string;
  /** Otherwise read from the config's passphrase file or environment variable. */
  passphrase?: string;
  log?: Logger;
  policy?: Policy;
  /** Heartbeat interval; default 5 s. */
  heartbeatMs?: number;
  /**
   * The daemon's one clock, in milliseconds since the epoch (default Date.now): every decision by time reads it
   * (policy windows, approval and time-lock expiry, handed-out commitment and proposal expiry, early-message
   * and settlement deadlines, console sessions, liveness) and so does every timestamp it records (requests,
   * key records, backups, audit and log lines). A test sets it to run a real daemon on a clock it moves;
   * timers that only schedule work (round timeouts, the heartbeat, pauses) still run on real time. A `policy`
   * given in code keeps the clock it was made with, and a `log` given its own.
   */
  clock?: () => number;
  /**
   * Fault injection for adversarial tests: rewrites, delays or drops (undefined) every outbound envelope, so a
   * test can play a misbehaving party with the real code. Never set in operation.
   */
  transformOutbound?: (to: string, env: Envelope) => Promise<Envelope | undefined> | Envelope | undefined;
};

export type Daemon = {
  readonly peerId: string;
  readonly addrs: string[];
  readonly api: { host: string; port: number; url: string };
  stop(): Promise<void>;
};

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const cfg = await loadConfig(o.configPath);
  const config = new ConfigFile(o.configPath, cfg);
  // The daemon's one clock: every service that decides by time (expiries, deadlines, liveness) is given it.
  const clock = o.clock ?? Date.now;
  const log = o.log ?? createLogger({ level: cfg.logLevel, now: () => new Date(clock()) });
  const store = await openPartyStore(cfg, o.passphrase);
  const cleanups: (() => Promise<void>)[] = [() => store.close()];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    const privateKey = await loadOrCreateIdentity(store);
    const self = peerIdOf(privateKey);
    const keys = await KeyStore.open(store, clock);
    for (const e of keys.list()) if (e.recovery) checkStoredRecovery(e.name, e.recovery);
    const metrics = createRegistry();
    const plog = log.child({ party: self.slice(-8) });
    const { credentials, files } = await Credentials.open(cfg.dataDir);
    if (files.retiredLegacy)
      plog.warn('the single api-token is retired: the control API takes one token per scope now', {
        tokens: join(cfg.dataDir, TOKENS_DIR),
      });
    // Every configured peer gets an even share of the early-message buffer.
    const router = new Router(plog, { peers: () => config.current.peers.length, now: clock });
    // Without a policy given, the party's own policy file (<dataDir>/policy.json); none there allows all.
    const notify = cfg.notify && notifyCommand(cfg.notify.command, plog);
    const policy =
      o.policy ?? (await PartyPolicy.open({ dataDir: cfg.dataDir, self, log: plog, notify, clock }));
    const peerIds = () => config.current.peers.map((p) => p.id).filter((id) => id !== self);
    const heartbeatMs = o.heartbeatMs ?? 5000;
    // Constructed here, listening only once every service below has registered its handlers.
    const host: Host = await prepareHost({
      privateKey,
      listen: cfg.listen,
      peers: cfg.peers,
      maxFrameBytes: cfg.limits.maxFrameBytes,
      log: plog,
      metrics,
      onEnvelope: (env, from) => router.dispatch(env, from),
    });
    const transform = o.transformOutbound;
    const send = transform
      ? async (to: string, env: Envelope) => {
          const out = await transform(to, env);
          if (out) await host.send(to, out);
        }
      : (to: string, env: Envelope) => host.send(to, env);
    const liveness = new Liveness(host, peerIds, clock);

    const sessions = metrics.counter({
      name: 'frostnet_sessions_total',
      help: 'Ceremony sessions by ceremony and outcome',
      labelNames: ['ceremony', 'outcome'],
    });
    const latency = metrics.histogram({
      name: 'frostnet_session_seconds',
      help: 'Wall time of ceremonies this party took part in',
      labelNames: ['ceremony'],
    });
    metrics.gauge({
      name: 'frostnet_keys',
      help: 'Keys held by this party',
      collect: (g) => g.set(undefined, keys.list().length),
    });
    metrics.gauge({
      name: 'frostnet_early_message_bytes',
      help: 'Bytes held for sessions not open yet (payloads plus a fixed overhead per message)',
      collect: (g) => g.set(undefined, router.early.bytes),
    });
    metrics.gauge({
      name: 'frostnet_early_messages',
      help: 'Messages held for sessions not open yet',
      collect: (g) => g.set(undefined, router.early.messages),
    });
    metrics.gauge({
      name: 'process_resident_memory_bytes',
      help: 'Resident memory of the daemon process',
      collect: (g) => g.set(undefined, process.memoryUsage.rss()),
    });
    const observe = (ceremony: string, ok: boolean, ms: number) => {
      sessions.inc({ ceremony, outcome: ok ? 'ok' : 'failed' });
      latency.observe({ ceremony }, ms / 1000);
    };

    const signatures = identitySignatures(privateKey);
    const signer = new Signer({
      self,
      keys,
      router,
      send,
      policy,
      sessionTtlMs: cfg.limits.roundTimeoutMs * 2,
      maxSessionsPerPeer: cfg.limits.maxSessionsPerPeer,
      log: plog,
      onEpochBehind: (name) => void ceremonies.resolvePending(name).catch(() => {}),
      clock,
    });
    const coordinator = new Coordinator({
      self,
      keys,
      signer,
      router,
      send,
      rank: (p) => liveness.rank(p),
      roundTimeoutMs: cfg.limits.roundTimeoutMs,
      log: plog,
      onDisconnect: (listener) => host.onDisconnect(listener),
      clock,
    });
    const ceremonies = new KeyCeremonies({
      self,
      keys,
      router,
      send,
      signatures,
      approve: proposalApprover({ sign: (name, opts) => coordinator.sign(name, opts), clock }),
      // A policy given in code (tests, the bench's allow-all daemon) has no recovery rules: none is accepted.
      acceptRecovery: policy instanceof PartyPolicy ? (name, r) => policy.checkRecovery(name, r) : undefined,
      peers: peerIds,
      roundTimeoutMs: cfg.limits.roundTimeoutMs,
      log: plog,
      onOutcome: observe,
      onDisconnect: (listener) => host.onDisconnect(listener),
      clock,
    });
    const repairs = new Repairs({
      self,
      clock,
      keys,
      ceremonies,
      router,
      send,
      peers: peerIds,
      roundTimeoutMs: cfg.limits.roundTimeoutMs,
      log: plog,
    });
    const backups = new Backups({ self, identity: privateKey, keys, ceremonies, log: plog, clock });
    // Parties by the names of this party's config in every line for people (the config changes as it runs).
    const names = new PeerNames(self, () => config.current.peers);
    const requests = new Requests(cfg.limits.maxQueuedRequests, { names, clock });
    const api = new ControlApi(
      controlBackend({
        self,
        peerIds,
        peerBook: configPeerBook(config, host),
        host,
        liveness,
        router,
        keys,
        ceremonies,
        repairs,
        coordinator,
        backups,
        metrics,
        requests,
        approvals: policy instanceof PartyPolicy ? policy.approvals : undefined,
        log: plog,
        startedAt: new Date(clock()).toISOString(),
        wait: { clock },
      }),
      credentials,
      consoleExtras({ self, dataDir: cfg.dataDir, clock }),
    );

    // Every handler is registered: listen, then watch the peers. Stopped in reverse order (cleanups).
    cleanups.push(() => host.stop());
    await host.start();
    liveness.start(heartbeatMs);
    cleanups.push(async () => liveness.stop());

    // A pending epoch left by a crash is settled with the other members as soon as they answer.
    const settle = setInterval(() => {
      if (keys.list().some((e) => e.pending)) void ceremonies.resolveAllPending().catch(() => {});
    }, 2000);
    settle.unref?.();
    cleanups.push(async () => clearInterval(settle));

    const { host: apiHost, port: apiPort } = cfg.api;
    const where = await api.listen(apiHost, apiPort).catch(async (e) => {
      throw await bindFailure(e, 'the control API cannot listen on', [
        { ma: `${apiHost}:${apiPort}`, host: apiHost, port: apiPort },
      ]);
    });
    cleanups.push(() => api.close());
    const url = `http://${where.host}:${where.port}`;
    const runtime = join(cfg.dataDir, RUNTIME_FILE);
    await writeFile(
      runtime,
      JSON.stringify({ pid: process.pid, peerId: self, addrs: host.addrs(), api: url }, null, 2),
    );
    cleanups.push(() => rm(runtime, { force: true }));
    void ceremonies.resolveAllPending().catch(() => {});
    plog.info('daemon started', { api: url, addrs: host.addrs() });
    return { peerId: self, addrs: host.addrs(), api: { ...where, url }, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
