/**
 * The party daemon, wired by composition: config -> passphrase -> encrypted store -> identity and keys ->
 * libp2p host -> session router -> ceremonies, signer and coordinator -> control API. Nothing here does
 * cryptography of its own.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Credentials, TOKENS_DIR } from './api/credentials.ts';
import { Requests } from './api/requests.ts';
import { ControlApi } from './api/server.ts';
import { Backups } from './ceremonies/backup.ts';
import { KeyCeremonies } from './ceremonies/key-ceremonies.ts';
import { proposalApprover } from './ceremonies/proposals.ts';
import { Repairs } from './ceremonies/repair.ts';
import { consoleExtras } from './console/console.ts';
import { createLogger, type Logger } from './ops/log.ts';
import { createRegistry } from './ops/metrics.ts';
import { PartyPolicy } from './policy/party-policy.ts';
import { Router } from './session/router.ts';
import { Coordinator } from './signing/coordinator.ts';
import { type Policy, Signer } from './signing/signer.ts';
import { type Config, ConfigFile, loadConfig } from './storage/config.ts';
import { identitySignatures, loadOrCreateIdentity, peerIdOf } from './storage/identity.ts';
import { KeyStore } from './storage/keystore.ts';
import { openStore, readPassphrase, type Store } from './storage/store.ts';
import { createHost, type Host } from './transport/host.ts';
import { Liveness } from './transport/liveness.ts';
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

export const storeDir = (cfg: Config) => join(cfg.dataDir, 'store');

/** Opens the party's store with its passphrase (the one place that reads it). */
export async function openPartyStore(cfg: Config, passphrase?: string): Promise<Store> {
  const secret = passphrase ?? (await readPassphrase({ env: cfg.passphraseEnv, file: cfg.passphraseFile }));
  return openStore(storeDir(cfg), secret);
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const cfg = await loadConfig(o.configPath);
  const config = new ConfigFile(o.configPath, cfg);
  const log = o.log ?? createLogger({ level: cfg.logLevel });
  const store = await openPartyStore(cfg, o.passphrase);
  const cleanups: (() => Promise<void>)[] = [() => store.close()];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    const privateKey = await loadOrCreateIdentity(store);
    const self = peerIdOf(privateKey);
    const keys = await KeyStore.open(store);
    const metrics = createRegistry();
    const plog = log.child({ party: self.slice(-8) });
    const { credentials, files } = await Credentials.open(cfg.dataDir);
    if (files.retiredLegacy)
      plog.warn('the single api-token is retired: the control API takes one token per scope now', {
        tokens: join(cfg.dataDir, TOKENS_DIR),
      });
    // Every configured peer gets an even share of the early-message buffer.
    const router = new Router(plog, { peers: () => config.current.peers.length });
    // Without a policy given, the party's own policy file (<dataDir>/policy.json); none there allows all.
    const policy = o.policy ?? (await PartyPolicy.open({ dataDir: cfg.dataDir, self, log: plog }));
    const peerIds = () => config.current.peers.map((p) => p.id).filter((id) => id !== self);
    const host: Host = await createHost({
      privateKey,
      listen: cfg.listen,
      peers: cfg.peers,
      maxFrameBytes: cfg.limits.maxFrameBytes,
      log: plog,
      metrics,
      onEnvelope: (env, from) => router.dispatch(env, from),
    });
    cleanups.push(() => host.stop());
    const transform = o.transformOutbound;
    const send = transform
      ? async (to: string, env: Envelope) => {
          const out = await transform(to, env);
          if (out) await host.send(to, out);
        }
      : (to: string, env: Envelope) => host.send(to, env);
    const liveness = new Liveness(host, peerIds);
    liveness.start(o.heartbeatMs ?? 5000);
    cleanups.push(async () => liveness.stop());

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
    });
    const ceremonies = new KeyCeremonies({
      self,
      keys,
      router,
      send,
      signatures,
      approve: proposalApprover({ sign: (name, opts) => coordinator.sign(name, opts), clock: Date.now }),
      peers: peerIds,
      roundTimeoutMs: cfg.limits.roundTimeoutMs,
      log: plog,
      onOutcome: observe,
    });
    const repairs = new Repairs({
      self,
      keys,
      ceremonies,
      router,
      send,
      peers: peerIds,
      roundTimeoutMs: cfg.limits.roundTimeoutMs,
      log: plog,
    });
    const backups = new Backups({ self, identity: privateKey, keys, ceremonies, log: plog });
    const requests = new Requests(cfg.limits.maxQueuedRequests);

    // A pending epoch left by a crash is settled with the other members as soon as they answer.
    const settle = setInterval(() => {
      if (keys.list().some((e) => e.pending)) void ceremonies.resolveAllPending().catch(() => {});
    }, 2000);
    settle.unref?.();
    cleanups.push(async () => clearInterval(settle));

    const api = new ControlApi(
      {
        self,
        peerIds,
        status: () => ({
          peerId: self,
          addrs: host.addrs(),
          keys: keys.list().length,
          peers: liveness.view(),
          sessions: router.openSessions,
          requestsRunning: requests.running,
        }),
        peers: () => {
          const live = new Map(liveness.view().map((l) => [l.id, l]));
          return config.current.peers.map((p) => ({ ...p, ...live.get(p.id) }));
        },
        addPeer: async (p) => {
          await config.update((current) => ({
            ...current,
            peers: [
              ...current.peers.filter((x) => x.id !== p.id),
              { id: p.id, addrs: p.addrs, ...(p.name ? { name: p.name } : {}) },
            ],
          }));
          // The latest list: a change saved after this one may already have replaced it.
          host.setPeers(config.current.peers);
          return config.current.peers;
        },
        keys: () => keys.list(),
        key: (name) => keys.get(name),
        dkg: (name, t, parties) => ceremonies.dkg(name, t, parties),
        sign: (name, opts) => coordinator.sign(name, opts),
        refresh: (name, report, opts) => ceremonies.refresh(name, report, opts),
        reshare: (name, t, parties, report, opts) => ceremonies.reshare(name, t, parties, report, opts),
        repair: (name, party, report, opts) => repairs.repair(name, party, report, opts),
        abandon: (name) => ceremonies.abandonPending(name),
        vouch: (name, party, peer) => repairs.vouch(name, party, peer),
        erase: async (name) => {
          const epoch = await keys.erase(name);
          plog.warn('key share erased by the operator', { key: name, epoch });
          return epoch;
        },
        exportBackup: (name, passphrase, withIdentity) => backups.export(name, passphrase, withIdentity),
        importBackup: (file, passphrase) => backups.import(file, passphrase),
        metrics: () => metrics.render(),
        requests,
        approvals: policy instanceof PartyPolicy ? policy.approvals : undefined,
      },
      credentials,
      consoleExtras({ self, dataDir: cfg.dataDir }),
    );
    const where = await api.listen(cfg.api.host, cfg.api.port);
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
