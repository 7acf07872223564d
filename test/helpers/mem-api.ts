/**
 * The control API of one party of the in-memory network (test/helpers/mem-network.ts): the real server and
 * route table (node/api/) in front of that party's real key store, key ceremonies, repairs and coordinator,
 * listening on 127.0.0.1. What a party only does as a daemon (peers in its config, backups, metrics, held
 * requests) answers 404 here: these tests are about routes that start work on the network.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Credentials, type TokenScope } from '../../node/api/credentials.ts';
import { ApiRefusal } from '../../node/api/refusal.ts';
import { Requests } from '../../node/api/requests.ts';
import type { ApiBackend } from '../../node/api/routes.ts';
import { ControlApi } from '../../node/api/server.ts';
import type { MemNetwork, MemParty } from './mem-network.ts';

export type MemApi = {
  url: string;
  call(method: string, path: string, body?: unknown, as?: TokenScope): Promise<ApiAnswer>;
  /** The view of request `id` once it has ended (long polls until then). */
  finished(id: string): Promise<ApiAnswer['json']>;
  close(): Promise<void>;
};

export type ApiAnswer = {
  status: number;
  json: { error?: { code: string; message: string } } & Record<string, unknown>;
};

function backendOf(net: MemNetwork, p: MemParty): ApiBackend {
  const daemonOnly = (what: string) => async (): Promise<never> => {
    throw new ApiRefusal('NOT_FOUND', `${what} is not on the in-memory network`);
  };
  return {
    self: p.id,
    peerIds: () => net.ids.filter((id) => id !== p.id),
    status: () => ({ peerId: p.id }),
    peers: () => [],
    addPeer: daemonOnly('addPeer'),
    removePeer: daemonOnly('removePeer'),
    renamePeer: daemonOnly('renamePeer'),
    keys: () => p.keys.list(),
    key: (name) => p.keys.get(name),
    dkg: (name, t, parties, network) => p.ceremonies.dkg(name, t, parties, {}, network),
    sign: (name, opts) => p.coordinator.sign(name, opts),
    requestIdOf: async () => undefined,
    refresh: (name, report, opts) => p.ceremonies.refresh(name, report, opts),
    reshare: (name, t, parties, report, opts) => p.ceremonies.reshare(name, t, parties, report, opts),
    repair: (name, party, report, opts) => p.repairs.repair(name, party, report, opts),
    abandon: (name) => p.ceremonies.abandonPending(name),
    vouch: (name, party, peer) => p.repairs.vouch(name, party, peer),
    erase: (name) => p.keys.erase(name),
    exportBackup: daemonOnly('exportBackup'),
    importBackup: daemonOnly('importBackup'),
    metrics: () => '',
    requests: new Requests(16),
  };
}

/** Serves party `p`'s control API; close() it when the test is done. */
export async function memApi(net: MemNetwork, p: MemParty): Promise<MemApi> {
  const dir = await mkdtemp(join(tmpdir(), 'frostnet-mem-api-'));
  const { credentials, files } = await Credentials.open(dir);
  const api = new ControlApi(backendOf(net, p), credentials);
  const { port } = await api.listen('127.0.0.1', 0);
  const url = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown, as: TokenScope = 'request') => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${files.tokens[as]}` },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      json: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : {},
    };
  };
  return {
    url,
    call,
    async finished(id) {
      for (;;) {
        const { json } = await call('GET', `/v1/requests/${id}?wait=30000`);
        if (json.state === 'done' || json.state === 'failed') return json;
      }
    },
    async close() {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
