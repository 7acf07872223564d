/**
 * The control API's backend for a running party: what each route drives (ApiBackend, routes.ts), wired to the
 * party's services, which it takes as explicit deps. Most of it passes a call through. What it adds of its own:
 * a DKG or refresh, which needs every member, fails UNREACHABLE at once, naming the members that do not
 * answer, before any round; a removed peer is reported with the keys that still list it as a member; a signing
 * request that parties hold for their operators waits for them (signWhenCleared) under the id their approvals
 * queues show; an erased share is logged.
 */
import type { Backups } from '../ceremonies/backup.ts';
import type { KeyCeremonies } from '../ceremonies/key-ceremonies.ts';
import type { Repairs } from '../ceremonies/repair.ts';
import type { Logger } from '../ops/log.ts';
import type { Registry } from '../ops/metrics.ts';
import { requestId, shortId } from '../policy/describe.ts';
import type { ApprovalsBackend } from '../policy/party-policy.ts';
import type { Router } from '../session/router.ts';
import type { Coordinator, SignOptions } from '../signing/coordinator.ts';
import { signWhenCleared, type WaitDeps } from '../signing/held.ts';
import { resolveRequest } from '../signing/targets.ts';
import type { KeyStore } from '../storage/keystore.ts';
import type { Host, PeerInfo } from '../transport/host.ts';
import { type Liveness, requireReachable } from '../transport/liveness.ts';
import type { Requests } from './requests.ts';
import type { ApiBackend } from './routes.ts';

/** A signing request held by parties is asked again at most this far apart (from 1 s, doubling). */
const HELD_SIGN_MAX_PAUSE_MS = 5000;

/**
 * The party's configured peers and its operator's edits of them. The daemon's (node/peer-book.ts) saves each
 * edit to the config file and hands the saved list to the host's connection gate.
 */
export interface PeerBook {
  /** The peers as the last saved edit left them. */
  current(): readonly PeerInfo[];
  /** Adds `p`, or replaces the peer with its id; gives the peers after the edit. */
  add(p: { id: string; addrs: string[]; name?: string }): Promise<readonly PeerInfo[]>;
  /** Removes the peer whose id or name is `ref`; gives it and the peers after the edit. */
  remove(ref: string): Promise<{ removed: PeerInfo; peers: readonly PeerInfo[] }>;
  rename(ref: string, name: string): Promise<readonly PeerInfo[]>;
}

export type ControlBackendDeps = {
  self: string;
  /** The configured peers' ids, this party's left out. */
  peerIds: () => string[];
  peerBook: PeerBook;
  host: Pick<Host, 'addrs' | 'ping'>;
  liveness: Pick<Liveness, 'view'>;
  router: Pick<Router, 'openSessions'>;
  keys: Pick<KeyStore, 'list' | 'get' | 'active' | 'erase'>;
  ceremonies: Pick<KeyCeremonies, 'dkg' | 'refresh' | 'reshare' | 'abandonPending'>;
  repairs: Pick<Repairs, 'repair' | 'vouch'>;
  coordinator: Pick<Coordinator, 'sign'>;
  backups: Pick<Backups, 'export' | 'import'>;
  metrics: Pick<Registry, 'render'>;
  requests: Requests;
  /** This party's approvals queue; absent when the daemon runs with a policy given in code. */
  approvals?: ApprovalsBackend;
  log: Logger;
  /** When the daemon started (ISO 8601), for the status. */
  startedAt: string;
  /**
   * The party's clock (a held request's wait, a proposal's expiry), and the wait's pause between asks (a timer
   * unless a test gives one).
   */
  wait: WaitDeps;
};

export function controlBackend(d: ControlBackendDeps): ApiBackend {
  const { self, keys, ceremonies, host } = d;

  const requestIdOf = async (name: string, opts: SignOptions): Promise<string | undefined> => {
    try {
      const { group } = keys.active(name);
      const { network, recovery } = keys.get(name) ?? {};
      return shortId(
        requestId(
          name,
          await resolveRequest({ group, network, recovery }, opts.scheme, opts.payload, d.wait.clock()),
        ),
      );
    } catch {
      return undefined;
    }
  };

  /** Fails UNREACHABLE at once, naming them by name, unless every one of `parties` but this one answers. */
  const everyoneAnswers = (parties: readonly string[], why: string) =>
    requireReachable(
      host,
      parties.filter((p) => p !== self),
      (id) => d.peerBook.current().find((p) => p.id === id)?.name,
      why,
    );

  return {
    self,
    peerIds: d.peerIds,
    status: () => ({
      peerId: self,
      startedAt: d.startedAt,
      addrs: host.addrs(),
      keys: keys.list().length,
      peers: d.liveness.view(),
      sessions: d.router.openSessions,
      requestsRunning: d.requests.running,
    }),
    peers: () => {
      const live = new Map(d.liveness.view().map((l) => [l.id, l]));
      return d.peerBook.current().map((p) => ({ ...p, ...live.get(p.id) }));
    },
    addPeer: (p) => d.peerBook.add(p),
    removePeer: async (ref) => {
      const { removed, peers } = await d.peerBook.remove(ref);
      const memberOf = keys
        .list()
        .filter((e) => (e.active ?? e.pending)?.group.members.includes(removed.id))
        .map((e) => e.name);
      d.log.warn('peer removed by the operator', { peer: removed.id, memberOf });
      return { removed, memberOf, peers };
    },
    renamePeer: (ref, name) => d.peerBook.rename(ref, name),
    keys: () => keys.list(),
    key: (name) => keys.get(name),
    dkg: async (name, t, parties, network, recovery) => {
      // Every member must take part: one that cannot be reached fails the DKG now, by name, not after a round.
      await everyoneAnswers(parties, `the DKG of ${name} needs every member`);
      return ceremonies.dkg(name, t, parties, {}, network, recovery);
    },
    sign: async (name, opts, held) => {
      const { group } = keys.active(name);
      return signWhenCleared(
        () => d.coordinator.sign(name, opts),
        {
          id: (await requestIdOf(name, opts)) ?? '',
          kind: 'sign',
          members: opts.signers ? [...new Set(opts.signers)] : group.members,
          threshold: group.threshold,
          maxPauseMs: HELD_SIGN_MAX_PAUSE_MS,
        },
        held,
        d.wait,
      );
    },
    requestIdOf,
    refresh: async (name, report, opts) => {
      // A refresh runs among all members, like a DKG: one that cannot be reached fails it now, by name.
      // An unknown or unsettled key is the refresh's own error to give.
      let members: readonly string[] = [];
      try {
        members = keys.active(name).group.members;
      } catch {}
      await everyoneAnswers(members, `the refresh of ${name} needs every member`);
      return ceremonies.refresh(name, report, opts);
    },
    reshare: (name, t, parties, report, opts) => ceremonies.reshare(name, t, parties, report, opts),
    repair: (name, party, report, opts) => d.repairs.repair(name, party, report, opts),
    abandon: (name) => ceremonies.abandonPending(name),
    vouch: (name, party, peer) => d.repairs.vouch(name, party, peer),
    erase: async (name) => {
      const epoch = await keys.erase(name);
      d.log.warn('key share erased by the operator', { key: name, epoch });
      return epoch;
    },
    exportBackup: (name, passphrase, withIdentity) => d.backups.export(name, passphrase, withIdentity),
    importBackup: (file, passphrase) => d.backups.import(file, passphrase),
    metrics: () => d.metrics.render(),
    requests: d.requests,
    approvals: d.approvals,
  };
}
