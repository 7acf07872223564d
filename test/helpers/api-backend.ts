/**
 * A control API backend for tests of the HTTP layer (node/api/server.ts, node/console): the key "vault" of three
 * real peer ids, and a record of every call that would start work, so a test can tell that a refused request
 * started nothing.
 */
import { Requests } from '../../node/api/requests.ts';
import type { ApiBackend } from '../../node/api/routes.ts';
import { generateIdentity, peerIdOf } from '../../node/storage/identity.ts';
import type { KeyEntry } from '../../node/storage/keystore.ts';
import { makeKey } from './keys.ts';

const share = makeKey(2, 3).get('party-1')!;
const ids = await Promise.all(Array.from({ length: 4 }, async () => peerIdOf(await generateIdentity())));
const [SELF, BOB, CAROL] = ids;
/** The key `vault`, a regtest key with real peer ids as its members. */
const vault: KeyEntry = {
  name: 'vault',
  createdAt: new Date(0).toISOString(),
  network: 'regtest',
  active: { ...share, group: { ...share.group, members: [SELF, BOB, CAROL] } },
};

/** A backend that records every call that would start work. */
export function recordingBackend() {
  const started: string[] = [];
  const work =
    <T>(what: string, value: T) =>
    async () => {
      started.push(what);
      return value;
    };
  const backend: ApiBackend = {
    self: SELF,
    peerIds: () => [BOB, CAROL],
    status: () => ({ peerId: SELF }),
    peers: () => [],
    addPeer: work('addPeer', []),
    removePeer: work('removePeer', {}),
    renamePeer: work('renamePeer', []),
    keys: () => [vault],
    key: (name) => (name === 'vault' ? vault : undefined),
    dkg: work('dkg', share),
    sign: work('sign', { signatures: [], signers: [], excluded: [], attempts: 1, resolved: {} as never }),
    requestIdOf: async () => undefined,
    refresh: work('refresh', share),
    reshare: work('reshare', {} as never),
    repair: work('repair', {} as never),
    abandon: work('abandon', {} as never),
    vouch: work('vouch', {} as never),
    erase: work('erase', 0),
    exportBackup: work('exportBackup', {} as never),
    importBackup: work('importBackup', {} as never),
    metrics: () => 'frostnet_keys 1\n',
    requests: new Requests(16),
    approvals: {
      list: work('approvals.list', []),
      show: work('approvals.show', {} as never),
      decide: work('approvals.decide', {} as never),
    },
  };
  return { backend, started };
}

/** The fixture's peer ids (self, two members, a stranger) and key. */
export const API_FIXTURE = { ids, vault, share };
