/**
 * The control API's routes, one row each: method, path pattern (`:name` segments are parameters), the token
 * scope it needs (node/api/credentials.ts), how its body is checked, and what it does. The body check runs
 * before the handler, so a bad body is answered 400 before anything starts. Long ceremonies answer 202 with a
 * request id to follow (GET /v1/requests/:id?wait=ms, with change=1 until its next change).
 */
import type { NetworkName } from '../../chains/bitcoin/network-names.ts';
import type { RecoveryPolicyJson } from '../../chains/bitcoin/recovery.ts';
import { bytesToHex } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { groupKey, type KeyShare } from '../../protocol/keys.ts';
import type { BackupFile, RestoreOutcome } from '../ceremonies/backup.ts';
import type { ProposalOptions, ReshareOutcome } from '../ceremonies/key-ceremonies.ts';
import type { CeremonyReport } from '../ceremonies/proposals.ts';
import type { RepairOutcome, VouchOutcome } from '../ceremonies/repair.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../ops/metrics.ts';
import { DECISIONS } from '../policy/approvals.ts';
import type { ApprovalsBackend } from '../policy/party-policy.ts';
import type { SignPayload } from '../session/messages.ts';
import type { SignOptions, SignOutcome } from '../signing/coordinator.ts';
import type { HeldRequest } from '../signing/held.ts';
import { entryGroup, type KeyEntry } from '../storage/keystore.ts';
import type { NamedPeer } from '../transport/peer-names.ts';
import {
  abandonBody,
  backupExportBody,
  backupImportBody,
  decisionBody,
  eraseBody,
  keygenBody,
  keygenRecovery,
  type PartyView,
  peerBody,
  peerNameBody,
  refreshBody,
  repairBody,
  reshareBody,
  signBody,
  vouchBody,
} from './bodies.ts';
import type { RouteScope, TokenScope } from './credentials.ts';
import { ApiRefusal } from './refusal.ts';
import type { Requests } from './requests.ts';

/** What the API drives; the daemon wires it to its components. */
export interface ApiBackend {
  /** This party's peer id. */
  readonly self: string;
  /** The configured peers' ids. */
  peerIds(): readonly string[];
  status(): unknown;
  /** The configured peers (with their liveness): each has its id and, when the config gives one, its name. */
  peers(): readonly NamedPeer[];
  addPeer(p: { id: string; addrs: string[]; name?: string }): Promise<unknown>;
  /** Removes the peer with this id or name from the config; says which keys still list it as a member. */
  removePeer(ref: string): Promise<unknown>;
  renamePeer(ref: string, name: string): Promise<unknown>;
  keys(): KeyEntry[];
  key(name: string): KeyEntry | undefined;
  dkg(
    name: string,
    threshold: number,
    parties: string[],
    network: NetworkName,
    recovery?: RecoveryPolicyJson,
  ): Promise<KeyShare>;
  /**
   * Signs; while parties hold the request for their operators it waits (telling `held` who holds it) and asks
   * again, until t sign or too few could.
   */
  sign(name: string, opts: SignOptions, held?: (h: HeldRequest | undefined) => void): Promise<SignOutcome>;
  /**
   * The id of what `opts` asks the key to sign, as every party's approvals queue names it (a hash of the key
   * name and the decoded content); undefined when the request does not decode (it then fails as it runs).
   */
  requestIdOf(name: string, opts: SignOptions): Promise<string | undefined>;
  refresh(name: string, report: CeremonyReport, opts: ProposalOptions): Promise<KeyShare>;
  reshare(
    name: string,
    threshold: number,
    parties: string[],
    report: CeremonyReport,
    opts: ProposalOptions,
  ): Promise<ReshareOutcome>;
  repair(name: string, party: string, report: CeremonyReport, opts: ProposalOptions): Promise<RepairOutcome>;
  /** Drops this party's pending epoch of the key at its operator's word (see KeyCeremonies.abandonPending). */
  abandon(name: string): Promise<{ epoch: number; missing: string[]; creating: boolean }>;
  vouch(name: string, party: string, peer: string): Promise<VouchOutcome>;
  /** Deletes this party's share and record of the key; gives the epoch it held. */
  erase(name: string): Promise<number>;
  exportBackup(name: string, passphrase: string, withIdentity: boolean): Promise<BackupFile>;
  importBackup(file: unknown, passphrase: string): Promise<RestoreOutcome>;
  metrics(): string;
  requests: Requests;
  /** This party's approvals queue (node/policy); absent when the daemon runs with another policy. */
  approvals?: ApprovalsBackend;
}

export type Answer =
  | { status: 200 | 202; json: unknown }
  | { status: 200; text: string; contentType: string };

export type RouteContext = {
  b: ApiBackend;
  /** The scope of the caller's credential (a bearer token, or the console session it was bound to). */
  token: TokenScope;
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
};

export type Route = {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly scope: RouteScope;
  /** Checks the body (and what else the route needs) and does the work. */
  run(ctx: RouteContext, rawBody: unknown): Promise<Answer> | Answer;
};

type RouteSpec<T> = {
  method: 'GET' | 'POST';
  path: string;
  scope: RouteScope;
  /** The checked body; throws BAD_REQUEST naming the field, before `handle` runs. */
  body?: (raw: unknown, ctx: RouteContext) => T;
  handle(ctx: RouteContext, body: T): Promise<Answer> | Answer;
};

/** A route with its body type erased, as the table holds it. */
export function route<T>(spec: RouteSpec<T>): Route {
  return {
    method: spec.method,
    path: spec.path,
    scope: spec.scope,
    run: (ctx, raw) => spec.handle(ctx, spec.body ? spec.body(raw, ctx) : (undefined as T)),
  };
}

const ok = (json: unknown): Answer => ({ status: 200, json });
/** The largest EVM typed data a request view keeps for a second ask (`asked`). */
const MAX_KEPT_TYPED_DATA_CHARS = 16 * 1024;
const started = (json: unknown): Answer => ({ status: 202, json });

export function keyView(e: KeyEntry) {
  const g = entryGroup(e);
  return {
    name: e.name,
    createdAt: e.createdAt,
    network: e.network,
    ...(e.recovery && { recovery: e.recovery }),
    state: e.active ? 'active' : 'pending',
    groupKey: bytesToHex(groupKey(g).toBytes(true)),
    chainCode: bytesToHex(g.chainCode),
    threshold: g.threshold,
    members: [...g.members],
    epoch: g.epoch,
    pendingEpoch: e.pending && e.active ? e.pending.group.epoch : undefined,
  };
}

/** The key named by the route's `:name`; 404 when this party holds no such key. */
export function knownKey({ b, params }: RouteContext): KeyEntry {
  const e = b.key(params.name);
  if (!e)
    throw new FrostnetError('UNKNOWN_KEY', `no key named ${params.name} on this party (see "frostnet keys")`);
  return e;
}

/** A body check for a route of an existing key: 404 for another name, then `check`. */
const ofKnownKey =
  <T>(check: (raw: unknown, ctx: RouteContext) => T) =>
  (raw: unknown, ctx: RouteContext): T => {
    knownKey(ctx);
    return check(raw, ctx);
  };

const party = (b: ApiBackend): PartyView => ({ self: b.self, peers: b.peerIds() });

function approvals(b: ApiBackend): ApprovalsBackend {
  if (!b.approvals) throw new ApiRefusal('NOT_FOUND', 'this party runs without an approvals queue');
  return b.approvals;
}

export const ROUTES: readonly Route[] = [
  route({ method: 'GET', path: '/v1/status', scope: 'read', handle: ({ b }) => ok(b.status()) }),
  route({ method: 'GET', path: '/v1/peers', scope: 'read', handle: ({ b }) => ok(b.peers()) }),
  route({
    method: 'POST',
    path: '/v1/peers',
    scope: 'admin',
    body: (raw, { b }) => peerBody(raw, party(b)),
    handle: async ({ b }, p) => ok(await b.addPeer(p)),
  }),
  route({
    method: 'POST',
    path: '/v1/peers/:peer/remove',
    scope: 'admin',
    handle: async ({ b, params }) => ok(await b.removePeer(params.peer)),
  }),
  route({
    method: 'POST',
    path: '/v1/peers/:peer/rename',
    scope: 'admin',
    body: (raw) => peerNameBody(raw),
    handle: async ({ b, params }, { name }) => ok(await b.renamePeer(params.peer, name)),
  }),
  route({ method: 'GET', path: '/v1/keys', scope: 'read', handle: ({ b }) => ok(b.keys().map(keyView)) }),
  route({
    method: 'POST',
    path: '/v1/keys',
    scope: 'request',
    body: (raw, { b }) => keygenBody(raw, party(b)),
    handle: async ({ b }, { name, threshold, parties, network, recovery: asked }) => {
      const recovery = await keygenRecovery(asked);
      if (b.key(name))
        throw new FrostnetError('CONFLICT', `a key named ${name} already exists on this party`);
      return started(
        b.requests.start('keygen', async (progress) => {
          progress(
            `DKG for ${name}: ${threshold}-of-${parties.length} on ${network}${recovery ? ` with a recovery policy of ${recovery.leaves.length} leaf(s)` : ''}`,
          );
          await b.dkg(name, threshold, parties, network, recovery);
          // The record the DKG stored, as GET /v1/keys/:name shows it (dated by the party's clock).
          const stored = b.key(name);
          if (!stored)
            throw new FrostnetError(
              'INTERNAL',
              `the DKG of ${name} ended but this party stores no key ${name}`,
            );
          return keyView(stored);
        }),
      );
    },
  }),
  route({
    method: 'GET',
    path: '/v1/keys/:name',
    scope: 'read',
    handle: (ctx) => ok(keyView(knownKey(ctx))),
  }),
  route({
    method: 'POST',
    path: '/v1/keys/:name/sign',
    scope: 'request',
    body: (raw, ctx) => {
      const e = knownKey(ctx);
      return signBody(raw, { members: entryGroup(e).members, network: e.network });
    },
    handle: async ({ b, params }, { opts, finalize }) => {
      // A PSBT or EVM action asked again while the first ask runs, waits or is done is that same request.
      const chain = 'psbt' in opts.payload || 'typedData' in opts.payload;
      const id = chain ? await b.requestIdOf(params.name, opts) : undefined;
      const same = id && JSON.stringify([id, finalize, opts.signers ?? null]);
      // Kept for a second ask to find (evm send); a very large one is not, so the kept views stay small.
      const td =
        'typedData' in opts.payload && opts.payload.typedData.json.length <= MAX_KEPT_TYPED_DATA_CHARS
          ? opts.payload.typedData
          : undefined;
      return started(
        b.requests.start(
          'sign',
          async (progress, report) =>
            await signResult(await b.sign(params.name, opts, report.held), opts.payload, finalize, progress),
          same,
          { key: params.name, ...(td && { typedData: td.json, account: td.account }) },
        ),
      );
    },
  }),
  route({
    method: 'POST',
    path: '/v1/keys/:name/refresh',
    scope: 'request',
    body: ofKnownKey(refreshBody),
    handle: ({ b, params: { name } }, { opts }) =>
      started(
        b.requests.start('refresh', async (progress, report) => {
          const share = await b.refresh(name, { progress, ...report }, opts);
          return {
            name,
            epoch: share.group.epoch,
            groupKey: bytesToHex(groupKey(share.group).toBytes(true)),
          };
        }),
      ),
  }),
  route({
    method: 'POST',
    path: '/v1/keys/:name/reshare',
    scope: 'request',
    body: ofKnownKey((raw, { b }) => reshareBody(raw, party(b))),
    handle: ({ b, params: { name } }, { threshold, parties, opts }) =>
      started(
        b.requests.start('reshare', async (progress, report) => {
          progress(`reshare of ${name} to ${threshold}-of-${parties.length}`);
          const out = await b.reshare(name, threshold, parties, { progress, ...report }, opts);
          const g = out.result.group;
          if (out.notErased.length)
            progress(`removed members that took no part keep their old shares: ${out.notErased.join(', ')}`);
          return {
            name,
            epoch: g.epoch,
            groupKey: bytesToHex(groupKey(g).toBytes(true)),
            threshold: g.threshold,
            members: [...g.members],
            dealers: out.dealers,
            notErased: out.notErased,
            removed: 'removed' in out.result,
          };
        }),
      ),
  }),
  route({
    method: 'POST',
    path: '/v1/keys/:name/repair',
    scope: 'request',
    body: ofKnownKey(repairBody),
    handle: ({ b, params: { name } }, { party, opts }) =>
      started(
        b.requests.start('repair', (progress, report) =>
          b.repair(name, party, { progress, ...report }, opts),
        ),
      ),
  }),
  // The operator drops a pending epoch that no certificate settled (the CLI says what that risks).
  route({
    method: 'POST',
    path: '/v1/keys/:name/abandon',
    scope: 'admin',
    body: (raw, { params }) => abandonBody(raw, params.name),
    handle: async ({ b, params: { name } }) => ok({ name, abandoned: true, ...(await b.abandon(name)) }),
  }),
  route({
    method: 'POST',
    path: '/v1/keys/:name/vouch',
    scope: 'admin',
    body: ofKnownKey(vouchBody),
    handle: ({ b, params: { name } }, { party, peer }) =>
      started(b.requests.start('vouch', () => b.vouch(name, party, peer))),
  }),
  route({
    method: 'POST',
    path: '/v1/keys/:name/erase',
    scope: 'admin',
    body: (raw, { params }) => eraseBody(raw, params.name),
    handle: async ({ b, params: { name } }) => ok({ name, erased: true, epoch: await b.erase(name) }),
  }),
  route({
    method: 'POST',
    path: '/v1/keys/:name/backup',
    scope: 'admin',
    body: backupExportBody,
    handle: async ({ b, params: { name } }, { passphrase, withIdentity }) =>
      ok(await b.exportBackup(name, passphrase, withIdentity)),
  }),
  // Restores a backup of a key this party does not hold.
  route({
    method: 'POST',
    path: '/v1/backups',
    scope: 'admin',
    body: backupImportBody,
    handle: ({ b }, { backup, passphrase }) =>
      started(b.requests.start('restore', () => b.importBackup(backup, passphrase))),
  }),
  // The operator's side of the policy.
  route({
    method: 'GET',
    path: '/v1/approvals',
    scope: 'read',
    handle: async ({ b }) => ok(await approvals(b).list()),
  }),
  route({
    method: 'GET',
    path: '/v1/approvals/:id',
    scope: 'read',
    handle: async ({ b, params }) => ok(await approvals(b).show(params.id)),
  }),
  ...DECISIONS.map((decision) =>
    route({
      method: 'POST',
      path: `/v1/approvals/:id/${decision}`,
      scope: 'approve',
      body: decisionBody,
      handle: async ({ b, params }, { reason }) => ok(await approvals(b).decide(params.id, decision, reason)),
    }),
  ),
  // The requests this daemon runs or ran (newest first), e.g. to find an EVM action asked before, or for the
  // console's list. Readable like each request's own view (GET /v1/requests/:id).
  route({
    method: 'GET',
    path: '/v1/requests',
    scope: 'read',
    handle: ({ b, query }) => ok(b.requests.list(query.get('key') ?? undefined)),
  }),
  route({
    method: 'GET',
    path: '/v1/requests/:id',
    scope: 'read',
    handle: async ({ b, params, query }) => {
      const wait = Math.min(Number(query.get('wait') ?? 0) || 0, 600_000);
      const view = await b.requests.get(params.id, wait, query.get('change') === '1');
      if (!view) throw new ApiRefusal('NOT_FOUND', `no request ${params.id} on this party (did it restart?)`);
      return ok(view);
    },
  }),
  route({
    method: 'GET',
    path: '/metrics',
    scope: 'metrics',
    handle: ({ b }) => ({ status: 200, text: b.metrics(), contentType: PROMETHEUS_CONTENT_TYPE }),
  }),
];

const segmentsOf = (pattern: string) => pattern.split('/').filter(Boolean);

/** The path's segments, percent-decoded; a malformed escape is a 400, not a crash. */
export function pathSegments(rawPath: string): string[] {
  return rawPath
    .split('/')
    .filter(Boolean)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new FrostnetError(
          'BAD_REQUEST',
          `the path holds a malformed percent-escape: ${s.slice(0, 80)}`,
        );
      }
    });
}

/** The route `method` and `segments` name, with its parameters; NOT_FOUND or METHOD_NOT_ALLOWED otherwise. */
export function findRoute(
  method: string,
  segments: readonly string[],
  routes: readonly Route[] = ROUTES,
): { route: Route; params: Record<string, string> } {
  const methods: string[] = [];
  for (const r of routes) {
    const params = matchPath(segmentsOf(r.path), segments);
    if (!params) continue;
    if (r.method === method) return { route: r, params };
    methods.push(r.method);
  }
  if (methods.length)
    throw new ApiRefusal(
      'METHOD_NOT_ALLOWED',
      `${segments.join('/')} answers ${methods.join(', ')}, not ${method}`,
    );
  throw new ApiRefusal('NOT_FOUND', `no route ${method} /${segments.join('/')} (see docs/control-api.md)`);
}

function matchPath(
  pattern: readonly string[],
  segments: readonly string[],
): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, p] of pattern.entries()) {
    if (p.startsWith(':')) params[p.slice(1)] = segments[i];
    else if (p !== segments[i]) return undefined;
  }
  return params;
}

async function signResult(
  out: SignOutcome,
  payload: SignPayload,
  finalize: boolean,
  progress: (s: string) => void,
) {
  const base = {
    signatures: out.signatures.map(bytesToHex),
    signers: out.signers,
    excluded: out.excluded,
    attempts: out.attempts,
  };
  progress(`signed by ${out.signers.join(', ')}`);
  if (!('psbt' in payload) || out.resolved.kind !== 'psbt') return base;
  // bitcoinjs-lib loads with the first PSBT (node/signing/targets.ts decoded it with the same module).
  const { applyKeySignatures, finalizePsbt } = await import('../../chains/bitcoin/psbt.ts');
  const sigs = new Map(out.resolved.inputs.map((index, i) => [index, out.signatures[i]]));
  const signed = applyKeySignatures(payload.psbt.psbt, sigs);
  const result: Record<string, unknown> = { ...base, inputs: out.resolved.inputs, psbt: signed.toBase64() };
  if (finalize) {
    const tx = finalizePsbt(signed);
    Object.assign(result, {
      txHex: tx.txHex,
      txid: tx.txid,
      vsize: tx.vsize,
      weight: tx.weight,
      fee: tx.fee,
    });
  }
  return result;
}
