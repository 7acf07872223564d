/**
 * The control API's backend (node/api/control-backend.ts) where it has logic of its own, in front of the real
 * key ceremonies, repairs and coordinator of the in-memory network (test/helpers/mem-network.ts), with a fake
 * host and peer book: a removed peer is reported with every key that still lists it, active or pending; a DKG
 * or refresh with a member that does not answer fails UNREACHABLE, naming it, before anything goes out; a
 * refresh of a key this party does not hold gives the refresh's own error, whoever answers; a signing request
 * the members hold waits under the id their approvals queues compute, and signs once they let it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import { type ControlBackendDeps, controlBackend, type PeerBook } from '../../../node/api/control-backend.ts';
import { Requests } from '../../../node/api/requests.ts';
import { createLogger } from '../../../node/ops/log.ts';
import { requestId, shortId } from '../../../node/policy/describe.ts';
import { ROUND } from '../../../node/session/messages.ts';
import type { HeldRequest } from '../../../node/signing/held.ts';
import { HeldError } from '../../../node/signing/hold-error.ts';
import type { Policy } from '../../../node/signing/signer.ts';
import type { PeerInfo } from '../../../node/transport/host.ts';
import { FrostnetError } from '../../../protocol/errors.ts';
import { MemNetwork, type MemParty } from '../../helpers/mem-network.ts';

const T = { timeout: 60_000 };
const open: MemNetwork[] = [];
afterEach(() => {
  for (const n of open.splice(0)) n.close();
});
const network = async (n: number, policy?: (index: number) => Policy) => {
  const net = await MemNetwork.create(n, { roundTimeoutMs: 5000, policy });
  open.push(net);
  return net;
};

/** A network of three on which all three made the key `vault`, 2-of-3. */
async function withVault(policy?: (index: number) => Policy) {
  const net = await network(3, policy);
  const parties = net.parties as [MemParty, MemParty, MemParty];
  await parties[0].ceremonies.dkg('vault', 2, net.ids);
  await net.settle();
  return { net, parties };
}

const unused = (what: string) => async (): Promise<never> => {
  throw new Error(`${what} is not used by this test`);
};

/** A peer book in memory that removes (by id or name, refusing one it does not have); nothing else is used. */
function memPeerBook(initial: readonly PeerInfo[]): PeerBook {
  let peers = [...initial];
  return {
    current: () => peers,
    add: unused('add'),
    remove: async (ref) => {
      const removed = peers.find((x) => x.id === ref || x.name === ref);
      if (!removed) throw new FrostnetError('BAD_REQUEST', `no peer ${ref} in the test's peer book`);
      peers = peers.filter((x) => x !== removed);
      return { removed, peers };
    },
    rename: unused('rename'),
  };
}

/**
 * Party `p`'s backend, its other parties configured as peer-1, peer-2, ... in network order. The host answers
 * every ping but those of `down`, and records whom it pinged; every log line is kept.
 */
function backendOf(
  net: MemNetwork,
  p: MemParty,
  o: { down?: readonly string[]; pause?: () => Promise<void> } = {},
) {
  const others = net.ids.filter((id) => id !== p.id);
  const peers: PeerInfo[] = others.map((id, i) => ({ id, addrs: [], name: `peer-${i + 1}` }));
  const pinged: string[] = [];
  const logs: Record<string, unknown>[] = [];
  const deps: ControlBackendDeps = {
    self: p.id,
    peerIds: () => others,
    peerBook: memPeerBook(peers),
    host: {
      addrs: () => ['/ip4/127.0.0.1/tcp/4001'],
      ping: async (id) => {
        pinged.push(id);
        if (o.down?.includes(id)) throw new Error(`${id} does not answer`);
        return 1;
      },
    },
    liveness: { view: () => others.map((id) => ({ id, connected: !o.down?.includes(id) })) },
    router: p.router,
    keys: p.keys,
    ceremonies: p.ceremonies,
    repairs: p.repairs,
    coordinator: p.coordinator,
    backups: { export: unused('export'), import: unused('import') },
    metrics: { render: () => '' },
    requests: new Requests(16),
    log: createLogger({ level: 'debug', stream: { write: (l: string) => logs.push(JSON.parse(l)) } }),
    startedAt: new Date(0).toISOString(),
    wait: { clock: Date.now, ...(o.pause && { pause: o.pause }) },
  };
  return { backend: controlBackend(deps), pinged, logs, peers };
}

const unreachable = (id: string, name: string) => (e: unknown) => {
  assert.ok(e instanceof FrostnetError, String(e));
  assert.equal(e.code, 'UNREACHABLE');
  assert.deepEqual(e.culprits, [id]);
  assert.ok(e.message.includes(`${name} (${id})`), e.message);
  return true;
};

describe('the control backend of a party', () => {
  test(
    'removePeer reports every key that still lists the peer, active or pending, and logs it',
    T,
    async () => {
      const net = await network(3);
      const [a, b, c] = net.parties as [MemParty, MemParty, MemParty];
      await a.ceremonies.dkg('with-b', 2, net.ids);
      await a.ceremonies.dkg('without-b', 2, [a.id, c.id]);
      await net.settle();
      // A DKG whose commits to a are held: a keeps it pending only (creating), with b among its members.
      const commits = net.hold(
        (d) => d.to === a.id && d.env.ceremony === 'DKG' && d.env.round === ROUND.vss.commit,
      );
      const creating = a.ceremonies.dkg('creating', 2, net.ids);
      while (!a.keys.get('creating')?.pending) await net.settle();
      assert.equal(a.keys.get('creating')?.active, undefined);

      const { backend, logs, peers } = backendOf(net, a);
      const out = (await backend.removePeer('peer-1')) as {
        removed: PeerInfo;
        memberOf: string[];
        peers: PeerInfo[];
      };
      assert.equal(out.removed.id, b.id);
      assert.deepEqual([...out.memberOf].sort(), ['creating', 'with-b']);
      assert.deepEqual(out.peers, [peers[1]]);
      const warned = logs.find((l) => l.msg === 'peer removed by the operator');
      assert.ok(warned, JSON.stringify(logs));
      assert.equal(warned.peer, b.id);
      assert.deepEqual([...(warned.memberOf as string[])].sort(), ['creating', 'with-b']);

      const again = (await backend.removePeer(c.id)) as { memberOf: string[]; peers: PeerInfo[] };
      assert.deepEqual([...again.memberOf].sort(), ['creating', 'with-b', 'without-b']);
      assert.deepEqual(again.peers, []);
      await assert.rejects(backend.removePeer('peer-1'), /no peer peer-1/);

      commits.release();
      await creating;
    },
  );

  test(
    'a DKG with a member that does not answer fails UNREACHABLE naming it, before any round',
    T,
    async () => {
      const net = await network(3);
      const [a, , c] = net.parties as [MemParty, MemParty, MemParty];
      const { backend, pinged } = backendOf(net, a, { down: [c.id] });
      await assert.rejects(backend.dkg('vault', 2, net.ids, 'regtest'), unreachable(c.id, 'peer-2'));
      await net.settle();
      assert.deepEqual(
        [...pinged].sort(),
        net.ids.filter((id) => id !== a.id).sort(),
        'this party pings the others only',
      );
      assert.deepEqual(net.delivered, [], 'nothing went out');
      assert.ok(net.parties.every((p) => p.keys.get('vault') === undefined));

      // With every member answering, the same call runs the DKG itself.
      const up = backendOf(net, a);
      const share = await up.backend.dkg('vault', 2, net.ids, 'regtest');
      await net.settle();
      assert.equal(share.group.threshold, 2);
      assert.ok(net.parties.every((p) => p.keys.get('vault')?.active?.group.epoch === 0));
      assert.equal(a.keys.get('vault')?.network, 'regtest');
    },
  );

  test(
    'a refresh with a member that does not answer fails UNREACHABLE naming it, before any round',
    T,
    async () => {
      const { net, parties } = await withVault();
      const [a, b] = parties;
      const before = net.delivered.length;
      const { backend, pinged } = backendOf(net, a, { down: [b.id] });
      await assert.rejects(backend.refresh('vault', {}, {}), unreachable(b.id, 'peer-1'));
      await net.settle();
      assert.equal(net.delivered.length, before, 'no proposal and no round went out');
      assert.deepEqual([...pinged].sort(), net.ids.filter((id) => id !== a.id).sort());
      assert.ok(net.parties.every((p) => p.keys.get('vault')?.active?.group.epoch === 0));
    },
  );

  test(
    'a refresh of a key this party does not hold gives the refresh its own error, not UNREACHABLE',
    T,
    async () => {
      const net = await network(3);
      const [a, b, c] = net.parties as [MemParty, MemParty, MemParty];
      const { backend, pinged } = backendOf(net, a, { down: [b.id, c.id] });
      await assert.rejects(backend.refresh('nope', {}, {}), (e: unknown) => {
        assert.ok(e instanceof FrostnetError, String(e));
        assert.equal(e.code, 'UNKNOWN_KEY');
        assert.match(e.message, /no key named nope/);
        return true;
      });
      assert.deepEqual(pinged, [], 'no member to ping');
      assert.deepEqual(net.delivered, []);
    },
  );

  test(
    'a signing request the members hold waits under their approvals id, then signs once they let it',
    T,
    async () => {
      let holding = true;
      const seen: string[] = [];
      // Every party but the coordinator holds it for its operator, naming it as its approvals queue would.
      const policy = (index: number): Policy => ({
        check: ({ keyName, resolved }) => {
          if (index === 0 || !holding) return;
          const id = shortId(requestId(keyName, resolved));
          seen.push(id);
          throw new HeldError('APPROVAL_REQUIRED', `request ${id} awaits approval`);
        },
      });
      const {
        net,
        parties: [a, b, c],
      } = await withVault(policy);
      let pauses = 0;
      const { backend } = backendOf(net, a, {
        pause: async () => {
          pauses++;
          holding = false;
        },
      });
      const opts = { scheme: 'bip340' as const, payload: { drill: { challenge: randomBytes(32) } } };
      const reports: (HeldRequest | undefined)[] = [];
      const out = await backend.sign('vault', opts, (h) => reports.push(h));

      assert.equal(out.signatures.length, 1);
      assert.equal(pauses, 1);
      const id = await backend.requestIdOf('vault', opts);
      assert.ok(id, 'the request decodes to an id');
      assert.ok(seen.length > 0 && seen.every((s) => s === id), `${id} vs ${seen.join(', ')}`);
      assert.equal(reports.length, 2);
      const held = reports[0];
      assert.ok(held);
      assert.equal(held.id, id);
      assert.equal(held.kind, 'sign');
      assert.equal(held.needed, 2);
      assert.deepEqual(held.approvals, [a.id]);
      assert.deepEqual(held.holders.map((h) => h.party).sort(), [b.id, c.id].sort());
      assert.ok(held.holders.every((h) => h.code === 'APPROVAL_REQUIRED'));
      assert.equal(reports[1], undefined, 'told once it no longer waits');
    },
  );

  test(
    'requestIdOf is undefined for a request that does not decode, and for a key this party does not hold',
    T,
    async () => {
      const {
        net,
        parties: [a],
      } = await withVault();
      const { backend } = backendOf(net, a);
      const drill = { scheme: 'bip340' as const, payload: { drill: { challenge: randomBytes(32) } } };
      assert.equal(await backend.requestIdOf('nope', drill), undefined);
      assert.equal(
        await backend.requestIdOf('vault', {
          ...drill,
          payload: { psbt: { psbt: new Uint8Array([1, 2, 3]), network: 'regtest' } },
        }),
        undefined,
      );
      assert.match((await backend.requestIdOf('vault', drill)) ?? '', /^[0-9a-f]+$/);
    },
  );

  test(
    'erase deletes the share, gives its epoch and logs it; status and peers read the services',
    T,
    async () => {
      const {
        net,
        parties: [a, b, c],
      } = await withVault();
      const { backend, logs } = backendOf(net, a, { down: [c.id] });
      assert.deepEqual(backend.status(), {
        peerId: a.id,
        startedAt: new Date(0).toISOString(),
        addrs: ['/ip4/127.0.0.1/tcp/4001'],
        keys: 1,
        peers: [
          { id: b.id, connected: true },
          { id: c.id, connected: false },
        ],
        sessions: a.router.openSessions,
        requestsRunning: 0,
      });
      assert.deepEqual(backend.peers(), [
        { id: b.id, addrs: [], name: 'peer-1', connected: true },
        { id: c.id, addrs: [], name: 'peer-2', connected: false },
      ]);
      assert.equal(await backend.erase('vault'), 0);
      assert.equal(a.keys.get('vault'), undefined);
      assert.ok(
        logs.some((l) => l.msg === 'key share erased by the operator' && l.key === 'vault' && l.epoch === 0),
      );
    },
  );
});
