/**
 * The other parties this one knows: `peers list` with their liveness, `peers add` to add or replace one (names
 * are unique), `peers remove` and `peers rename`.
 */
import { type Command, defineCommand } from '../command.ts';
import { ago, table, UsageError } from '../output.ts';
import type { PeerView } from '../parties.ts';

/** A table of peers with liveness, for people. */
export function peersTable(peers: readonly PeerView[], now = Date.now()): string {
  return table([
    ['NAME', 'PEER ID', 'CONNECTED', 'LAST SEEN', 'RTT', 'ADDRESSES'],
    ...peers.map((p) => [
      p.name ?? '-',
      p.id,
      p.connected ? 'yes' : 'no',
      ago(p.lastSeen, now),
      p.rttMs === undefined ? '-' : `${p.rttMs} ms`,
      p.addrs.length > 0 ? p.addrs.join(' ') : '(dials in)',
    ]),
  ]);
}

const list = defineCommand({
  name: 'peers list',
  summary:
    'Lists the parties this one knows, with liveness: connected, last answer to a heartbeat, round trip.',
  usage: '',
  daemon: 'read',
  options: {},
  async run({ out, client }) {
    const peers = await (await client()).get<PeerView[]>('/v1/peers');
    out.result(peers, () =>
      peers.length === 0 ? 'no peers yet; add them with "frostnet peers add"' : peersTable(peers),
    );
    return 0;
  },
});

/** A name a party can go by: unique (the daemon checks), not "self", a few safe characters. */
function checkName(cmd: string, name: string): void {
  if (!/^[\w.-]{1,64}$/.test(name))
    throw new UsageError(cmd, 'a name may hold letters, digits, "_", "-" and "." (at most 64)');
  if (name === 'self') throw new UsageError(cmd, '"self" always means this party; pick another name');
}

// A trailing /p2p/<id> names the peer, so `--addr` alone can be enough.
const P2P_SUFFIX = /\/p2p\/([^/]+)$/;

const add = defineCommand({
  name: 'peers add',
  summary: 'Adds another party (or replaces it, by peer id); saved in the config and applied at once.',
  usage: '[--id PEER_ID] --addr MULTIADDR [--addr ...] [--name NAME]',
  details: [
    'Only configured parties may connect to this one, so every party adds every other. The peer id can be',
    'left out when an address ends with /p2p/<peer id>, as the ones "frostnet init" prints do.',
  ].join('\n'),
  daemon: 'admin',
  options: {
    id: { type: 'string', arg: 'PEER_ID', help: "the party's peer id" },
    addr: {
      type: 'string',
      multiple: true,
      arg: 'MULTIADDR',
      help: 'where to dial it (none: it only dials in)',
    },
    name: { type: 'string', arg: 'NAME', help: 'a name to use for it in commands and output' },
  },
  async run({ values, out, client }) {
    const addrs = values.addr ?? [];
    const named = [...new Set(addrs.map((a) => P2P_SUFFIX.exec(a)?.[1]).filter((x) => x !== undefined))];
    if (named.length > 1)
      throw new UsageError('peers add', `the addresses name different peers: ${named.join(', ')}`);
    const id = values.id ?? named[0];
    if (id === undefined)
      throw new UsageError('peers add', 'give --id PEER_ID, or an --addr that ends with /p2p/<peer id>');
    if (values.name !== undefined) checkName('peers add', values.name);
    const peers = await (await client()).post<PeerView[]>('/v1/peers', {
      id,
      addrs,
      ...(values.name ? { name: values.name } : {}),
    });
    const added = peers.find((p) => p.id === id);
    out.result(added ?? { id, addrs, name: values.name }, () =>
      [
        `added ${values.name ? `${values.name} (${id})` : id}; this party now knows ${peers.length} peer(s)`,
        'the other party must add this one too ("frostnet peers add" on its side)',
      ].join('\n'),
    );
    return 0;
  },
});

const remove = defineCommand({
  name: 'peers remove',
  summary: 'Removes a party from the config (by name or peer id): it may no longer connect or be dialled.',
  usage: 'NAME|PEER_ID',
  details: [
    'For a party that is gone for good. The keys it is a member of still count it (a reshare moves a key to a',
    'new committee); the command names them. Default key generation no longer includes it.',
  ].join('\n'),
  daemon: 'admin',
  positionals: 1,
  options: {},
  async run({ positionals, out, client }) {
    const ref = positionals[0];
    if (ref === undefined) throw new UsageError('peers remove', 'name the peer to remove (name or peer id)');
    const r = await (await client()).post<{ removed: PeerView; memberOf: string[]; peers: PeerView[] }>(
      `/v1/peers/${encodeURIComponent(ref)}/remove`,
      {},
    );
    const who = r.removed.name ? `${r.removed.name} (${r.removed.id})` : r.removed.id;
    out.result(r, () =>
      [
        `removed ${who}; this party now knows ${r.peers.length} peer(s)`,
        ...(r.memberOf.length
          ? [
              `it is still a member of ${r.memberOf.join(', ')}: those keys count it until a reshare ("frostnet reshare") moves them`,
            ]
          : []),
      ].join('\n'),
    );
    return 0;
  },
});

const rename = defineCommand({
  name: 'peers rename',
  summary: 'Gives a party (by name or peer id) a new name; names are unique.',
  usage: 'NAME|PEER_ID NEW_NAME',
  daemon: 'admin',
  positionals: 2,
  options: {},
  async run({ positionals, out, client }) {
    const [ref, name] = positionals;
    if (ref === undefined || name === undefined)
      throw new UsageError('peers rename', 'give the peer (name or peer id) and its new name');
    checkName('peers rename', name);
    const peers = await (await client()).post<PeerView[]>(`/v1/peers/${encodeURIComponent(ref)}/rename`, {
      name,
    });
    const p = peers.find((x) => x.name === name);
    out.result(p ?? { name }, () => `${ref} is now called ${name}${p ? ` (${p.id})` : ''}`);
    return 0;
  },
});

export const commands: readonly Command[] = [list, add, remove, rename];
