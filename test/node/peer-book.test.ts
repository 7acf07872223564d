/**
 * The daemon's peer book (node/peer-book.ts) on a real config file and a host that records what its connection
 * gate is given: each edit is saved before the gate takes the list as saved; a refused edit changes neither
 * the file nor the gate; a rename leaves the gate alone (as the daemon always did: the host's own log lines keep
 * a renamed peer's old name until the next add or remove).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigFile, defaultConfig, loadConfig, saveConfig } from '../../node/config.ts';
import { configPeerBook } from '../../node/peer-book.ts';
import { generateIdentity, peerIdOf } from '../../node/storage/identity.ts';
import type { PeerInfo } from '../../node/transport/host.ts';
import { FrostnetError } from '../../protocol/errors.ts';

const dir = await mkdtemp(join(tmpdir(), 'frostnet-peer-book-'));
after(() => rm(dir, { recursive: true, force: true }));
const [BOB, CAROL, DAVE] = await Promise.all([1, 2, 3].map(async () => peerIdOf(await generateIdentity())));

/** A peer book over a new config file listing bob and carol; `gate` holds every list the host was given. */
async function book(name: string) {
  const file = join(dir, `${name}.json`);
  const cfg = {
    ...defaultConfig(join(dir, name)),
    peers: [
      { id: BOB, addrs: [`/ip4/127.0.0.1/tcp/4002/p2p/${BOB}`], name: 'bob' },
      { id: CAROL, addrs: [], name: 'carol' },
    ],
  };
  await saveConfig(file, cfg);
  const config = new ConfigFile(file, cfg);
  const gate: PeerInfo[][] = [];
  const peers = configPeerBook(config, { setPeers: (p) => void gate.push(p) });
  const saved = async () => (await loadConfig(file)).peers;
  return { peers, gate, saved, config };
}

const code = (c: string, pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof FrostnetError, String(e));
  assert.equal(e.code, c);
  assert.match(e.message, pattern);
  return true;
};

describe('the peer book of a daemon', () => {
  test('add saves the peer, then hands the gate the saved list; a taken name changes nothing', async () => {
    const { peers, gate, saved } = await book('add');
    const dave = { id: DAVE, addrs: [], name: 'dave' };
    const after = await peers.add(dave);
    assert.deepEqual(
      after.map((p) => p.name),
      ['bob', 'carol', 'dave'],
    );
    assert.deepEqual(await saved(), after);
    assert.deepEqual(gate, [after]);
    assert.deepEqual(peers.current(), after);

    await assert.rejects(
      peers.add({ id: DAVE, addrs: [], name: 'bob' }),
      code('CONFLICT', /bob already names/),
    );
    assert.deepEqual(await saved(), after);
    assert.equal(gate.length, 1, 'the gate is not told of a refused edit');
  });

  test('remove gives the removed peer and the list left, saved, and hands the gate that list', async () => {
    const { peers, gate, saved } = await book('remove');
    const { removed, peers: left } = await peers.remove('bob');
    assert.equal(removed.id, BOB);
    assert.deepEqual(
      left.map((p) => p.id),
      [CAROL],
    );
    assert.deepEqual(await saved(), left);
    assert.deepEqual(gate, [left]);

    await assert.rejects(peers.remove('bob'), code('BAD_REQUEST', /no peer bob/));
    assert.equal(gate.length, 1);
    const again = await peers.remove(CAROL);
    assert.equal(again.removed.name, 'carol');
    assert.deepEqual(await saved(), []);
    assert.deepEqual(gate.at(-1), []);
  });

  test('rename saves the new name and leaves the gate as it is', async () => {
    const { peers, gate, saved } = await book('rename');
    const after = await peers.rename(CAROL, 'caroline');
    assert.deepEqual(
      after.map((p) => p.name),
      ['bob', 'caroline'],
    );
    assert.deepEqual(await saved(), after);
    assert.deepEqual(gate, []);
    await assert.rejects(peers.rename('bob', 'caroline'), code('CONFLICT', /caroline already names/));
  });

  test('edits at once are all saved, and the gate ends on the peers they leave', async () => {
    const { peers, gate, saved } = await book('concurrent');
    await Promise.all([peers.add({ id: DAVE, addrs: [] }), peers.remove('bob'), peers.rename('carol', 'c')]);
    const ids = (l: readonly PeerInfo[]) => l.map((p) => p.id).sort();
    assert.deepEqual(ids(await saved()), [CAROL, DAVE].sort());
    assert.equal((await saved()).find((p) => p.id === CAROL)?.name, 'c');
    // The gate is given the peers (ids and addresses) as saved; a rename is not passed on (see the header).
    assert.deepEqual(ids(gate.at(-1) ?? []), [CAROL, DAVE].sort());
  });
});
