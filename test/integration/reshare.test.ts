/**
 * Reshare on real daemons (issue 9): 2-of-3 -> 3-of-5 (two newcomers), 3-of-5 -> 2-of-3 (two removed),
 * 2-of-3 -> 2-of-3 with one member swapped, and a daemon killed in the middle of one. Each keeps the group key
 * and the Taproot address; every t-subset of the new committee signs; removed parties hold no share and cannot
 * sign; old and new shares taken from the daemons (through their backups) do not combine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { commands } from '../../cli/commands/admin.ts';
import { openBackup } from '../../node/ceremonies/backup.ts';
import { ROUND } from '../../node/session/messages.ts';
import type { Envelope } from '../../node/transport/wire.ts';
import { Fn, G, hexToBytes, parsePoint } from '../../protocol/curve.ts';
import { identifierScalar, type KeyShare } from '../../protocol/keys.ts';
import { lagrangeCoefficient } from '../../protocol/vss.ts';
import { subsets } from '../helpers/keys.ts';
import { Network } from '../helpers/network.ts';
import {
  assertSigns,
  holders,
  runCommand,
  settledViews,
  shareRecords,
  signVia,
  taprootAddress,
  UNATTENDED_CUSTODY,
  writePolicy,
} from '../helpers/network-extra.ts';

const KEY = 'vault';
const BACKUP_PASSPHRASE = 'reshare test backup passphrase';

/** Interpolates the shares at 0: the only way shares combine into the group secret. */
function combinesToKey(shares: readonly KeyShare[], groupKey: string): boolean {
  const xs = shares.map((k) => identifierScalar(k.secret.identifier));
  const secret = shares.reduce(
    (acc, k, i) => Fn.add(acc, Fn.mul(lagrangeCoefficient(xs, xs[i]), Fn.fromBytes(k.secret.signingShare))),
    0n,
  );
  return secret !== 0n && G.multiply(secret).equals(parsePoint(hexToBytes(groupKey)));
}

describe('reshare across daemons', () => {
  let net: Network;
  let key: { groupKey: string; chainCode: string };
  let address: string;

  before(async () => {
    net = await Network.create(5, { roundTimeoutMs: 4000, processes: true });
    // These tests are about the ceremonies' mechanics; consent is attacked in custody-consent.test.ts.
    for (const i of net.parties.keys()) await writePolicy(net, i, UNATTENDED_CUSTODY);
    await net.startAll();
    // A signet key: newcomers learn its network from the invite, bound into the ceremony context.
    const dkg = await net.keygen(0, KEY, 2, net.ids.slice(0, 3), 'signet');
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    key = dkg.result;
    address = taprootAddress(key);
  });
  after(async () => net?.close());

  /** Reshares through party `via` and checks the settled outcome: who holds what, the key and address kept. */
  async function reshare(via: number, threshold: number, members: number[]) {
    const before = (await settledViews(net, KEY)).find((v) => v.status === 200)!.json;
    const r = await net.run(via, `/v1/keys/${KEY}/reshare`, {
      threshold,
      parties: members.map((i) => net.ids[i]),
    });
    assert.equal(r.state, 'done', JSON.stringify(r.error));
    assert.equal(r.result.groupKey, key.groupKey);
    const views = await settledViews(net, KEY);
    assert.deepEqual(holders(views), [...members].sort());
    for (const i of members) {
      const v = views[i].json;
      assert.equal(v.epoch, before.epoch + 1);
      assert.equal(v.threshold, threshold);
      assert.deepEqual(
        v.members,
        members.map((m) => net.ids[m]),
      );
      assert.equal(v.groupKey, key.groupKey);
      assert.equal(v.chainCode, key.chainCode);
      assert.equal(v.network, 'signet', 'every holder, newcomers included, holds it as a signet key');
      assert.equal(taprootAddress(v), address, 'the Taproot address is unchanged');
    }
    return { result: r.result, epoch: before.epoch + 1 };
  }

  /** Every t-subset signs, each coordinated by one of its members. */
  async function everySubsetSigns(members: number[], t: number) {
    for (const [k, signers] of [...subsets(members, t)].entries())
      await assertSigns(net, signers[k % t], KEY, signers, key);
  }

  /**
   * A removed party cannot start a signing and nobody can make it sign; with `store` its daemon is stopped to
   * show that no share record of the key remains ('restart' starts it again).
   */
  async function assertRemoved(i: number, via: number, signer: number, store?: 'stop' | 'restart') {
    const view = await net.call(i, 'GET', `/v1/keys/${KEY}`);
    assert.equal(view.status, 404);
    const own = await signVia(net, i, KEY, [i, signer]);
    assert.equal(own.state, 'rejected');
    assert.equal(own.error.code, 'UNKNOWN_KEY');
    const asked = await signVia(net, via, KEY, [via, i]);
    // Refused up front: the member's own view of the key does not list the removed party.
    assert.equal(asked.state, 'rejected', 'a member will not sign with a removed party');
    assert.equal(asked.status, 400);
    assert.match(asked.error.message, /"signers" names parties that are not members of the key/);
    assert.ok(asked.error.message.includes(net.ids[i]), 'the removed party is named');
    if (!store) return;
    await net.stop(i);
    try {
      assert.deepEqual(await shareRecords(net, i, KEY), [], 'no share of the key remains in its store');
    } finally {
      if (store === 'restart') await net.start(i);
    }
  }

  test('2-of-3 -> 3-of-5: two newcomers; every 3 of the 5 sign', async () => {
    await reshare(0, 3, [0, 1, 2, 3, 4]);
    await everySubsetSigns([0, 1, 2, 3, 4], 3);
  });

  test('3-of-5 -> 2-of-3: two removed parties erase their shares and cannot sign', async () => {
    const { result } = await reshare(2, 2, [0, 2, 3]);
    assert.deepEqual(result.dealers, net.ids, 'every reachable current member deals');
    assert.deepEqual(result.notErased, []);
    await everySubsetSigns([0, 2, 3], 2);
    await assertRemoved(1, 0, 2, 'restart');
    await assertRemoved(4, 3, 0, 'restart');
  });

  test('2-of-3 -> 2-of-3 with one member swapped (frostnet reshare); old and new shares do not combine', async () => {
    const env = (i: number) => ({
      FROSTNET_DATA_DIR: net.parties[i].dataDir,
      FROSTNET_BACKUP_PASSPHRASE: BACKUP_PASSPHRASE,
    });
    const exportShare = async (i: number) => {
      const file = await net.call(i, 'POST', `/v1/keys/${KEY}/backup`, { passphrase: BACKUP_PASSPHRASE });
      assert.equal(file.status, 200, JSON.stringify(file.json));
      return (await openBackup(file.json, BACKUP_PASSPHRASE)).share;
    };
    const old = await Promise.all([0, 2, 3].map(exportShare));
    // Party 1 was removed before: it comes back as a newcomer, with a new identifier.
    const run = await runCommand(
      commands,
      [
        'reshare',
        '--key',
        KEY,
        '--threshold',
        '2',
        '--parties',
        `self,${net.ids[2]},${net.ids[1]}`,
        '--json',
      ],
      env(0),
    );
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    assert.equal(out.groupKey, key.groupKey);
    assert.deepEqual(out.removedMembers, [net.ids[3]]);
    const views = await settledViews(net, KEY);
    assert.deepEqual(holders(views), [0, 1, 2]);
    for (const i of [0, 1, 2]) assert.equal(taprootAddress(views[i].json), address);
    await everySubsetSigns([0, 2, 1], 2);
    await assertRemoved(3, 1, 2);

    const fresh = await Promise.all([0, 2, 1].map(exportShare));
    const oldIds = old.map((k) => k.secret.identifier);
    assert.ok(!oldIds.includes(fresh[2].secret.identifier), 'the newcomer got an identifier never used');
    for (const pair of subsets(fresh, 2)) assert.ok(combinesToKey(pair, key.groupKey), 'new shares combine');
    for (const pair of subsets(old, 2)) assert.ok(combinesToKey(pair, key.groupKey), 'old shares combined');
    let mixed = 0;
    for (const o of old)
      for (const f of fresh) {
        if (o.secret.identifier === f.secret.identifier) continue;
        assert.ok(!combinesToKey([o, f], key.groupKey), 'an old and a new share do not combine');
        mixed++;
      }
    assert.ok(mixed >= 6);
  });

  test('a newcomer killed in the middle of a reshare: after its restart every party is on one epoch', async (t) => {
    // [0, 2, 1] 2-of-3 -> 3-of-4 with party 4, killed early: the others may already hold the outcome pending, the
    // newcomer holds nothing. The pending cases are forced in the next test.
    const victim = 3;
    const before = await settledViews(net, KEY);
    const committee = holders(before);
    const epoch = before[committee[0]].json.epoch;
    const members = [...committee, victim];
    const started = await net.call(0, 'POST', `/v1/keys/${KEY}/reshare`, {
      threshold: 3,
      parties: members.map((i) => net.ids[i]),
    });
    assert.equal(started.status, 202, JSON.stringify(started.json));
    await sleep(30);
    await net.kill(victim);
    // Restarted once the reshare ended at the initiator, or settles there (then it waits for the victim).
    await net.untilNotRunning(0, started.json.id);
    await net.start(victim);
    const views = await settledViews(net, KEY);
    const now = holders(views);
    const epochs = new Set(now.map((i) => views[i].json.epoch));
    assert.equal(epochs.size, 1, `epochs ${[...epochs]}`);
    const [e] = epochs;
    if (e === epoch) assert.deepEqual(now, committee, 'the old committee holds the key');
    else {
      assert.equal(e, epoch + 1);
      assert.deepEqual(now, [...members].sort(), 'the new committee holds the key');
    }
    for (const i of now) assert.equal(views[i].json.groupKey, key.groupKey);
    t.diagnostic(`party ${victim + 1} killed, every party settled on epoch ${e}`);
    const threshold = views[now[0]].json.threshold;
    const signers = now.includes(victim) ? [victim, ...now.filter((i) => i !== victim)] : now;
    await assertSigns(net, signers[0], KEY, signers.slice(0, threshold), key);
  });

  test('a party killed -9 while its new epoch is pending (staying or removed) settles with the others', async (t) => {
    // Party 1 (the initiator, run in this process) keeps its commit from the victim. The victim is killed the
    // moment party 1 commits: every participant has prepared the outcome by then (party 1 saw every round 3),
    // whether the victim committed too or not. After its restart the victim and the others complete the
    // certificate from each other's status answers.
    let withholdFrom: string | undefined;
    let committed: () => void = () => {};
    await net.stop(0);
    await net.startInProcess(0, {
      transformOutbound: (to: string, env: Envelope) => {
        if (env.ceremony !== 'RESHARE' || env.round !== ROUND.vss.commit || to !== withholdFrom) return env;
        committed();
        return undefined;
      },
    });
    for (const removed of [false, true]) {
      const before = await settledViews(net, KEY);
      const committee = holders(before);
      const epoch = before[committee[0]].json.epoch;
      const victim = committee.find((i) => i !== 0)!;
      const newcomer = [0, 1, 2, 3, 4].find((i) => !committee.includes(i))!;
      const members = [...committee.filter((i) => !removed || i !== victim), newcomer];
      withholdFrom = net.ids[victim];
      const commit = new Promise<void>((r) => (committed = r));
      const started = await net.call(0, 'POST', `/v1/keys/${KEY}/reshare`, {
        threshold: 2,
        parties: members.map((i) => net.ids[i]),
      });
      assert.equal(started.status, 202, JSON.stringify(started.json));
      await commit;
      await net.kill(victim);
      withholdFrom = undefined;
      await net.start(victim);
      let done: { state: string };
      do done = (await net.call(0, 'GET', `/v1/requests/${started.json.id}?wait=15000&change=1`)).json;
      while (done.state === 'running' || done.state === 'settling');
      assert.equal(done.state, 'done', JSON.stringify(done));
      const views = await settledViews(net, KEY);
      assert.deepEqual(holders(views), [...members].sort());
      for (const i of members)
        assert.equal(views[i].json.epoch, epoch + 1, `party ${i + 1} on the new epoch`);
      t.diagnostic(
        `party ${victim + 1} (${removed ? 'removed' : 'staying'}) killed while pending; all on epoch ${epoch + 1}`,
      );
      // The last use of the victim: its store is checked without starting it again.
      if (removed) await assertRemoved(victim, members[0], members[1], 'stop');
      const signers = removed ? members.slice(0, 2) : [victim, members.find((i) => i !== victim)!];
      await assertSigns(net, signers[0], KEY, signers, key);
    }
  });
});
