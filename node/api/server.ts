/**
 * The control API: HTTP + JSON on 127.0.0.1 for the CLI and other local programs, every route but /metrics
 * behind the bearer token created at init. Long ceremonies return a request id to follow
 * (GET /v1/requests/:id?wait=ms). Errors are `{ error: { code, message, culprits } }` with a fitting status.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { applyKeySignatures, finalizePsbt } from '../../chains/bitcoin/psbt.ts';
import { bytesToHex, hexToBytes } from '../../protocol/curve.ts';
import { type ErrorCode, FrostnetError, isFrostnetError } from '../../protocol/errors.ts';
import { groupKey, type KeyShare } from '../../protocol/keys.ts';
import { MAX_PROPOSAL_SECONDS } from '../../protocol/proposal.ts';
import { parseScheme } from '../../protocol/sign.ts';
import type { BackupFile, RestoreOutcome } from '../ceremonies/backup.ts';
import type { ProposalOptions, ReshareOutcome } from '../ceremonies/key-ceremonies.ts';
import type { CeremonyReport } from '../ceremonies/proposals.ts';
import type { RepairOutcome, VouchOutcome } from '../ceremonies/repair.ts';
import { PROMETHEUS_CONTENT_TYPE } from '../ops/metrics.ts';
import { DECISIONS, type Decision } from '../policy/approvals.ts';
import type { ApprovalsBackend } from '../policy/party-policy.ts';
import type { SignPayload } from '../session/messages.ts';
import type { SignOptions, SignOutcome } from '../signing/coordinator.ts';
import type { KeyEntry } from '../storage/keystore.ts';
import type { Requests } from './requests.ts';

const MAX_BODY = 8 * 1024 * 1024;

/** What the API drives; the daemon wires it to its components. */
export interface ApiBackend {
  status(): unknown;
  peers(): unknown;
  addPeer(p: { id: string; addrs: string[]; name?: string }): Promise<unknown>;
  keys(): KeyEntry[];
  key(name: string): KeyEntry | undefined;
  dkg(name: string, threshold: number, parties: string[]): Promise<KeyShare>;
  sign(name: string, opts: SignOptions): Promise<SignOutcome>;
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

const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  POLICY_DENIED: 403,
  APPROVAL_REQUIRED: 403,
  TIME_LOCKED: 403,
  UNKNOWN_KEY: 404,
  CONFLICT: 409,
  EPOCH_MISMATCH: 409,
  NOT_ENOUGH_SIGNERS: 503,
  UNREACHABLE: 503,
  TIMEOUT: 504,
};

export function keyView(e: KeyEntry) {
  const share = e.active ?? e.pending!;
  const g = share.group;
  return {
    name: e.name,
    createdAt: e.createdAt,
    state: e.active ? 'active' : 'pending',
    groupKey: bytesToHex(groupKey(g).toBytes(true)),
    chainCode: bytesToHex(g.chainCode),
    threshold: g.threshold,
    members: [...g.members],
    epoch: g.epoch,
    pendingEpoch: e.pending && e.active ? e.pending.group.epoch : undefined,
  };
}

export class ControlApi {
  private readonly server: Server;
  private readonly backend: ApiBackend;
  private readonly token: Buffer;

  constructor(backend: ApiBackend, token: string) {
    this.backend = backend;
    this.token = Buffer.from(`Bearer ${token}`);
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private authorized(req: IncomingMessage): boolean {
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === this.token.length && timingSafeEqual(given, this.token);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method === 'GET' && url.pathname === '/metrics') {
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE });
        res.end(this.backend.metrics());
        return;
      }
      if (!this.authorized(req))
        throw new FrostnetError(
          'UNAUTHORIZED',
          'missing or wrong API token (see the token file in the data dir)',
        );
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      const { status, json } = await this.route(req.method ?? 'GET', url, body);
      send(res, status, json);
    } catch (e) {
      const err = isFrostnetError(e) ? e : new FrostnetError('INTERNAL', (e as Error).message);
      send(res, STATUS[err.code] ?? 500, { error: err.toJSON() });
    }
  }

  private async route(method: string, url: URL, body: unknown): Promise<{ status: number; json: unknown }> {
    const b = this.backend;
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const ok = (json: unknown) => ({ status: 200, json });
    const started = (json: unknown) => ({ status: 202, json });
    if (parts[0] !== 'v1') throw notFound();
    const [, resource, name, action] = parts;
    if (resource === 'status' && method === 'GET' && !name) return ok(b.status());
    if (resource === 'peers' && !name) {
      if (method === 'GET') return ok(b.peers());
      if (method === 'POST') return ok(await b.addPeer(peerBody(body)));
    }
    if (resource === 'keys') {
      if (!name && method === 'GET') return ok(b.keys().map(keyView));
      if (!name && method === 'POST') {
        const { name: keyName, threshold, parties } = dkgBody(body);
        return started(
          b.requests.start('keygen', async (progress) => {
            progress(`DKG for ${keyName}: ${threshold}-of-${parties.length}`);
            const share = await b.dkg(keyName, threshold, parties);
            return keyView({ name: keyName, createdAt: new Date().toISOString(), active: share });
          }),
        );
      }
      if (name && !action && method === 'GET') {
        const e = b.key(name);
        if (!e)
          throw new FrostnetError('UNKNOWN_KEY', `no key named ${name} on this party (see "frostnet keys")`);
        return ok(keyView(e));
      }
      if (name && action === 'sign' && method === 'POST') {
        const { opts, finalize } = signBody(body);
        b.key(name) ??
          (() => {
            throw new FrostnetError('UNKNOWN_KEY', `no key named ${name} on this party`);
          })();
        return started(
          b.requests.start('sign', async (progress) =>
            signResult(await b.sign(name, opts), opts.payload, finalize, progress),
          ),
        );
      }
      if (name && action === 'refresh' && method === 'POST') {
        const opts = proposalOptions(body);
        b.key(name) ??
          (() => {
            throw new FrostnetError('UNKNOWN_KEY', `no key named ${name} on this party`);
          })();
        return started(
          b.requests.start('refresh', async (progress, report) => {
            const share = await b.refresh(name, { progress, ...report }, opts);
            return {
              name,
              epoch: share.group.epoch,
              groupKey: bytesToHex(groupKey(share.group).toBytes(true)),
            };
          }),
        );
      }
    }
    if (resource === 'keys' && name && action && method === 'POST') {
      const admin = await this.adminRoute(name, action, body);
      if (admin) return admin;
    }
    // POST /v1/backups {backup, passphrase}: restores a backup of a key this party does not hold.
    if (resource === 'backups' && !name && method === 'POST') {
      const { backup, passphrase } = backupBody(body);
      return started(b.requests.start('restore', () => b.importBackup(backup, passphrase)));
    }
    // The operator's side of the policy: GET /v1/approvals[/:id], POST /v1/approvals/:id/(approve|reject|cancel).
    if (resource === 'approvals' && b.approvals) {
      if (!name && method === 'GET') return ok(await b.approvals.list());
      if (name && !action && method === 'GET') return ok(await b.approvals.show(name));
      if (name && method === 'POST' && DECISIONS.includes(action as Decision))
        return ok(await b.approvals.decide(name, action as Decision));
    }
    if (resource === 'requests' && name && method === 'GET') {
      const wait = Math.min(Number(url.searchParams.get('wait') ?? 0) || 0, 600_000);
      const view = await b.requests.get(name, wait, url.searchParams.get('change') === '1');
      if (!view) throw notFound(`no request ${name}`);
      return ok(view);
    }
    throw notFound();
  }

  /** POST /v1/keys/:name/(reshare|repair|vouch|erase|backup): changing who holds a key; this party's share. */
  private async adminRoute(
    name: string,
    action: string,
    body: unknown,
  ): Promise<{ status: number; json: unknown } | undefined> {
    const b = this.backend;
    if (action === 'reshare') {
      const { threshold, parties } = reshareBody(body);
      const opts = proposalOptions(body);
      b.key(name) ?? unknownKey(name);
      const view = b.requests.start('reshare', async (progress, report) => {
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
      });
      return { status: 202, json: view };
    }
    if (action === 'repair') {
      const party = obj(body).party;
      if (typeof party !== 'string') throw new FrostnetError('BAD_REQUEST', 'party (a peer id) is required');
      const opts = proposalOptions(body);
      b.key(name) ?? unknownKey(name);
      return {
        status: 202,
        json: b.requests.start('repair', (progress, report) =>
          b.repair(name, party, { progress, ...report }, opts),
        ),
      };
    }
    // The operator drops a pending epoch that no certificate settled (the CLI says what that risks).
    if (action === 'abandon') {
      if (obj(body).confirm !== name)
        throw new FrostnetError(
          'BAD_REQUEST',
          `confirm must repeat the key name (${name}) to abandon its pending epoch`,
        );
      return { status: 200, json: { name, abandoned: true, ...(await b.abandon(name)) } };
    }
    if (action === 'vouch') {
      const { party, peer } = obj(body);
      if (typeof party !== 'string' || typeof peer !== 'string')
        throw new FrostnetError(
          'BAD_REQUEST',
          'party (the member replaced) and peer (its new peer id) are required',
        );
      b.key(name) ?? unknownKey(name);
      return { status: 202, json: b.requests.start('vouch', () => b.vouch(name, party, peer)) };
    }
    if (action === 'erase') {
      if (obj(body).confirm !== name)
        throw new FrostnetError(
          'BAD_REQUEST',
          `confirm must repeat the key name (${name}) to erase its share`,
        );
      return { status: 200, json: { name, erased: true, epoch: await b.erase(name) } };
    }
    if (action === 'backup') {
      const { passphrase, withIdentity = false } = obj(body);
      if (typeof passphrase !== 'string') throw new FrostnetError('BAD_REQUEST', 'passphrase is required');
      if (typeof withIdentity !== 'boolean')
        throw new FrostnetError('BAD_REQUEST', 'withIdentity must be true or false');
      return { status: 200, json: await b.exportBackup(name, passphrase, withIdentity) };
    }
    return undefined;
  }
}

const unknownKey = (name: string): never => {
  throw new FrostnetError('UNKNOWN_KEY', `no key named ${name} on this party`);
};

/** How long the custody proposal of a refresh, reshare or repair stays valid (expiresInSeconds). */
function proposalOptions(body: unknown): ProposalOptions {
  const v = obj(body).expiresInSeconds;
  if (v === undefined) return {};
  if (!Number.isSafeInteger(v) || (v as number) < 60 || (v as number) > MAX_PROPOSAL_SECONDS)
    throw new FrostnetError(
      'BAD_REQUEST',
      `expiresInSeconds must be a whole number of seconds from 60 to ${MAX_PROPOSAL_SECONDS}`,
    );
  return { expiresInSeconds: v as number };
}

function reshareBody(body: unknown) {
  const b = obj(body);
  if (!Number.isSafeInteger(b.threshold))
    throw new FrostnetError('BAD_REQUEST', 'threshold must be a whole number');
  return { threshold: b.threshold as number, parties: strings(b.parties, 'parties') };
}

function backupBody(body: unknown) {
  const b = obj(body);
  if (typeof b.passphrase !== 'string') throw new FrostnetError('BAD_REQUEST', 'passphrase is required');
  if (typeof b.backup !== 'object' || b.backup === null)
    throw new FrostnetError('BAD_REQUEST', 'backup (the backup file, as JSON) is required');
  return { backup: b.backup, passphrase: b.passphrase };
}

const notFound = (what = 'no such endpoint') => new FrostnetError('BAD_REQUEST', what);

function send(res: ServerResponse, status: number, json: unknown): void {
  const text = JSON.stringify(json, (_k, v) =>
    typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? bytesToHex(v) : v,
  );
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new FrostnetError('BAD_REQUEST', 'request body too large');
    chunks.push(c as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new FrostnetError('BAD_REQUEST', 'request body is not JSON');
  }
}

const obj = (body: unknown): Record<string, unknown> => {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new FrostnetError('BAD_REQUEST', 'request body must be a JSON object');
  return body as Record<string, unknown>;
};

const strings = (v: unknown, what: string): string[] => {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))
    throw new FrostnetError('BAD_REQUEST', `${what} must be a list of strings`);
  return v as string[];
};

function hexField(v: unknown, what: string): Uint8Array {
  if (typeof v !== 'string' || !/^(0x)?([0-9a-fA-F]{2})*$/.test(v))
    throw new FrostnetError('BAD_REQUEST', `${what} must be hex`);
  return hexToBytes(v.replace(/^0x/, '').toLowerCase());
}

function peerBody(body: unknown) {
  const b = obj(body);
  if (typeof b.id !== 'string') throw new FrostnetError('BAD_REQUEST', 'id (peer id) is required');
  return {
    id: b.id,
    addrs: strings(b.addrs ?? [], 'addrs'),
    name: typeof b.name === 'string' ? b.name : undefined,
  };
}

function dkgBody(body: unknown) {
  const b = obj(body);
  if (typeof b.name !== 'string') throw new FrostnetError('BAD_REQUEST', 'name is required');
  if (!Number.isSafeInteger(b.threshold))
    throw new FrostnetError('BAD_REQUEST', 'threshold must be a whole number');
  return { name: b.name, threshold: b.threshold as number, parties: strings(b.parties, 'parties') };
}

function signBody(body: unknown): { opts: SignOptions; finalize: boolean } {
  const b = obj(body);
  const scheme = parseScheme(b.scheme ?? 'bip340');
  const signers = b.signers === undefined ? undefined : strings(b.signers, 'signers');
  let payload: SignPayload;
  const given = ['message', 'psbt', 'typedData'].filter((k) => b[k] !== undefined);
  if (given.length !== 1)
    throw new FrostnetError('BAD_REQUEST', 'give exactly one of message, psbt or typedData');
  if (b.message !== undefined) {
    const path = b.path === undefined ? [] : b.path;
    if (!Array.isArray(path) || path.some((i) => !Number.isSafeInteger(i) || i < 0 || i >= 2 ** 31))
      throw new FrostnetError('BAD_REQUEST', 'path must be a list of unhardened indexes');
    payload = {
      raw: { message: hexField(b.message, 'message'), path: path as number[], taproot: b.taproot === true },
    };
  } else if (b.psbt !== undefined) {
    if (typeof b.psbt !== 'string') throw new FrostnetError('BAD_REQUEST', 'psbt must be base64 text');
    payload = {
      psbt: {
        psbt: Buffer.from(b.psbt, 'base64'),
        network: typeof b.network === 'string' ? b.network : 'mainnet',
      },
    };
  } else {
    const json = typeof b.typedData === 'string' ? b.typedData : JSON.stringify(b.typedData);
    const account = b.account ?? 0;
    if (!Number.isSafeInteger(account) || (account as number) < 0 || (account as number) >= 2 ** 31)
      throw new FrostnetError('BAD_REQUEST', 'account must be an unhardened index');
    payload = { typedData: { json, account: account as number } };
  }
  return { opts: { scheme, payload, signers }, finalize: b.finalize === true };
}

function signResult(
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
