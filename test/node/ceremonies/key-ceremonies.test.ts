/**
 * The DKG / refresh engine over the in-memory network (test/helpers/mem-network.ts), driving interleavings the
 * daemon tests cannot: round-1 packages that reach a party before its invite, an abort in place of a commit
 * while the others settle, and two refreshes of one key started at once.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { codecs, ROUND } from '../../../node/session/messages.ts';
import { generateIdentity } from '../../../node/storage/identity.ts';
import { envelope } from '../../../node/transport/wire.ts';
import { bytesToHex } from '../../../protocol/curve.ts';
import { FrostnetError } from '../../../protocol/errors.ts';
import { groupKey } from '../../../protocol/keys.ts';
import { type Delivery, MemNetwork, MemStore } from '../../helpers/mem-network.ts';
import { seededBytes } from '../../helpers/seeded.ts';

const T = { timeout: 60_000 };
const open: MemNetwork[] = [];
afterEach(() => {
  for (const n of open.splice(0)) n.close();
});
const network = async (n: number, roundTimeoutMs?: number) => {
  const net = await MemNetwork.create(n, { roundTimeoutMs });
  open.push(net);
  return net;
};

const keyOf = (net: MemNetwork, i: number, name: string) => {
  const share = net.parties[i]?.keys.get(name)?.active;
  return share && { key: bytesToHex(groupKey(share.group).toBytes(true)), epoch: share.group.epoch };
};

/** Every party's view of `name`, once the network is quiet. */
async function views(net: MemNetwork, name: string) {
  await net.settle();
  return net.parties.map((_, i) => keyOf(net, i, name));
}

/** A certificate is complete: every participant of the epoch signed it. */
function assertCertified(net: MemNetwork, name: string): void {
  for (const p of net.parties) {
    const e = p.keys.get(name);
    if (!e?.active) continue;
    const participants = e.activeParticipants ?? e.active.group.members;
    const signed = Object.keys(e.activeCertificate?.signatures ?? {});
    assert.deepEqual(
      [...signed].sort(),
      [...participants].sort(),
      `${p.id} activated without a full certificate`,
    );
  }
}

describe('key ceremonies on the in-memory network', () => {
  test('round-1 packages that reach a party before its invite wait for its session', T, async () => {
    const net = await network(3);
    const late = net.ids[2] ?? '';
    const invite = net.hold(
      (d) => d.to === late && d.env.ceremony === 'DKG' && d.env.round === ROUND.session.invite,
    );
    const dkg = net.parties[0]?.ceremonies.dkg('early', 2, net.ids);
    // The others' round 1 reaches the late party while its invite is held.
    for (;;) {
      await net.settle();
      const early = net.delivered.filter(
        (d) => d.to === late && d.env.ceremony === 'DKG' && d.env.round === 1,
      );
      if (early.length === 2) break;
    }
    assert.equal(invite.count(), 1);
    assert.equal(net.parties[2]?.keys.get('early'), undefined);
    invite.release();
    await dkg;
    const v = await views(net, 'early');
    assert.ok(
      v.every((x) => x !== undefined && x.key === v[0]?.key && x.epoch === 0),
      JSON.stringify(v),
    );
    assertCertified(net, 'early');
  });

  test(
    'an abort in place of a commit: no party activates without a certificate; all settle alike',
    T,
    async () => {
      const net = await network(3);
      const [a, b, c] = net.parties;
      assert.ok(a && b && c);
      // c signs and keeps its commit, but tells the others it aborts instead of sending it.
      net.tamper = (d) => {
        if (d.from !== c.id || d.env.ceremony !== 'DKG' || d.env.round !== ROUND.vss.commit) return [d];
        const payload = codecs.abort.encode({
          code: 'INTERNAL',
          reason: 'crashed while committing',
          culprits: [],
        });
        return [
          {
            ...d,
            env: envelope(
              { sessionId: d.env.sessionId, ceremony: 'DKG', sender: c.id },
              ROUND.session.abort,
              payload,
            ),
          },
        ];
      };
      await a.ceremonies.dkg('settle', 2, net.ids).catch(() => {});
      await net.settle();
      assertCertified(net, 'settle');
      // c's commit never went over the wire, its abort did. Whatever a and b hold, they hold it pending or on a
      // full certificate (assertCertified above): c's signed commit reaches them only in a status answer.
      const fromC = net.delivered.filter((d) => d.from === c.id && d.env.ceremony === 'DKG');
      assert.equal(fromC.filter((d) => d.env.round === ROUND.vss.commit).length, 0);
      assert.ok(fromC.some((d) => d.env.round === ROUND.session.abort));
      for (const p of [a, b]) assert.ok(p.keys.get('settle'), `${p.id} keeps what it prepared`);
      net.tamper = (d) => [d];
      // Settling asks the others: c's signed commit completes the certificate at a and b.
      for (const p of net.parties) await p.ceremonies.resolvePending('settle').catch(() => 'waiting');
      const v = await views(net, 'settle');
      assert.ok(
        v.every((x) => x !== undefined && x.key === v[0]?.key),
        JSON.stringify(v),
      );
      assertCertified(net, 'settle');
    },
  );

  test(
    'two refreshes of one key started at once end with every party on one epoch of the same key',
    T,
    async () => {
      const net = await network(3);
      const [a, b] = net.parties;
      assert.ok(a && b);
      await a.ceremonies.dkg('race', 2, net.ids);
      const before = (await views(net, 'race'))[0];
      const outcomes = await Promise.allSettled([a.ceremonies.refresh('race'), b.ceremonies.refresh('race')]);
      assert.ok(
        outcomes.some((o) => o.status === 'fulfilled'),
        JSON.stringify(outcomes.map((o) => o.status)),
      );
      for (const o of outcomes)
        if (o.status === 'rejected')
          assert.match(String(o.reason?.code), /CONFLICT|EPOCH_MISMATCH|TIMEOUT|CONFIRMATION_MISMATCH/);
      for (const p of net.parties) await p.ceremonies.resolvePending('race').catch(() => 'waiting');
      const v = await views(net, 'race');
      assert.ok(
        v.every((x) => x?.key === before?.key),
        'the group key never changes',
      );
      assert.ok(
        v.every((x) => x?.epoch === v[0]?.epoch && (x?.epoch ?? 0) >= 1),
        JSON.stringify(v),
      );
      assertCertified(net, 'race');
    },
  );

  test(
    'a dealing round that cannot reach a member fails the ceremony at once, everywhere, naming it',
    T,
    async () => {
      // Rounds wait ten minutes: only the failed send can end this DKG within the test's timeout.
      const net = await network(3, 600_000);
      const [a, b, c] = net.parties;
      assert.ok(a && b && c);
      net.tamper = (d) => {
        if (d.from === a.id && d.to === c.id && d.env.ceremony === 'DKG' && d.env.round === 2)
          throw new FrostnetError('UNREACHABLE', `peer ${c.id} is unreachable`, [c.id]);
        return [d];
      };
      await assert.rejects(a.ceremonies.dkg('cut', 2, net.ids), (e: FrostnetError) => {
        assert.equal(e.code, 'UNREACHABLE');
        assert.deepEqual(e.culprits, [c.id]);
        return true;
      });
      await net.settle();
      // The others were told: no session is left waiting for a round, and no party holds the key.
      for (const p of net.parties) {
        assert.equal(p.router.openSessions, 0, `${p.id} still waits`);
        assert.equal(p.keys.get('cut')?.active, undefined);
      }
      const aborts = net.delivered.filter((d) => d.from === a.id && d.env.round === ROUND.session.abort);
      assert.deepEqual(aborts.map((d) => d.to).sort(), [b.id, c.id].sort());
    },
  );

  test('a member that says it cannot reach another is named with it', T, async () => {
    const net = await network(3, 600_000);
    const [a, b, c] = net.parties;
    assert.ok(a && b && c);
    // b (not the initiator) cannot deliver its round 2 to c: b aborts, and a's DKG names both.
    net.tamper = (d) => {
      if (d.from === b.id && d.to === c.id && d.env.ceremony === 'DKG' && d.env.round === 2)
        throw new FrostnetError('UNREACHABLE', `peer ${c.id} is unreachable`, [c.id]);
      return [d];
    };
    await assert.rejects(a.ceremonies.dkg('told', 2, net.ids), (e: FrostnetError) => {
      assert.equal(e.code, 'UNREACHABLE');
      assert.deepEqual([...e.culprits].sort(), [b.id, c.id].sort());
      return true;
    });
    await net.settle();
    for (const p of net.parties) assert.equal(p.router.openSessions, 0, `${p.id} still waits`);
  });
  // Round timeouts far beyond the test's own timeout: only the closed connection can end these sessions in time.
  const NEVER = 10 * 60_000;

  test(
    'a participant whose connection closes while the others wait for it ends the ceremony at once, as unreachable',
    T,
    async () => {
      const net = await network(3, NEVER);
      const [a, b, c] = net.parties;
      assert.ok(a && b && c);
      // c dies as the DKG starts: nothing of it goes over the wire, and once b has its invite (and a session
      // that waits for c), its connections close.
      net.tamper = (d) => (d.from === c.id && d.env.ceremony === 'DKG' ? [] : [d]);
      const dkg = a.ceremonies.dkg('gone', 2, net.ids);
      const invited = (x: Delivery) =>
        x.to === b.id && x.env.ceremony === 'DKG' && x.env.round === ROUND.session.invite;
      while (!net.delivered.some(invited)) await net.settle();
      net.disconnect(c.id);
      await assert.rejects(dkg, (e: unknown) => {
        assert.ok(e instanceof FrostnetError);
        assert.equal(e.code, 'UNREACHABLE', e.message);
        assert.deepEqual([...e.culprits], [c.id]);
        assert.match(e.message, /disconnected while this ceremony waited for it/);
        return true;
      });
      assert.deepEqual(await views(net, 'gone'), [undefined, undefined, undefined]);
      // b, waiting for c too, ended its session as well: a second DKG of the name, without c (whose in-memory
      // session lives on, as a dead party's would not), is not refused at a or b as running.
      net.tamper = (d) => [d];
      await b.ceremonies.dkg('gone', 2, [a.id, b.id]);
      const v = await views(net, 'gone');
      assert.ok(v[0] !== undefined && v[0].key === v[1]?.key, JSON.stringify(v));
    },
  );

  test('a party the ceremony does not wait for may disconnect: the ceremony goes on', T, async () => {
    const net = await network(4, NEVER);
    const [a, b, c, d] = net.parties;
    assert.ok(a && b && c && d);
    // d takes no part; a's round 2 to c is held until d's connections have closed.
    const held = net.hold(
      (x) => x.from === a.id && x.to === c.id && x.env.ceremony === 'DKG' && x.env.round === 2,
    );
    const dkg = a.ceremonies.dkg('stays', 2, [a.id, b.id, c.id]);
    while (held.count() === 0) await net.settle();
    net.disconnect(d.id);
    held.release();
    await dkg;
    const v = await views(net, 'stays');
    assert.ok(
      v.slice(0, 3).every((x) => x !== undefined && x.key === v[0]?.key),
      JSON.stringify(v),
    );
    assert.equal(v[3], undefined);
    assertCertified(net, 'stays');
  });

  test(
    'a participant the invite cannot reach ends the ceremony at once, at the initiator and the others',
    T,
    async () => {
      const net = await network(3, NEVER);
      const [a, b, c] = net.parties;
      assert.ok(a && b && c);
      // c died before the DKG: its connections closed while no session waited for it, and it cannot be reached.
      net.kill(c.id);
      await assert.rejects(a.ceremonies.dkg('unreached', 2, net.ids), (e: unknown) => {
        assert.ok(e instanceof FrostnetError);
        assert.equal(e.code, 'UNREACHABLE', e.message);
        assert.deepEqual([...e.culprits], [c.id]);
        assert.match(e.message, /was not reached by its invite/);
        return true;
      });
      // The initiator told b, whose session ended too: a DKG of the name by a and b alone is not refused as running.
      await b.ceremonies.dkg('unreached', 2, [a.id, b.id]);
      const v = await views(net, 'unreached');
      assert.ok(v[0] !== undefined && v[0].key === v[1]?.key && v[2] === undefined, JSON.stringify(v));
    },
  );

  test(
    'a survey of members that stay pending ends after one round timeout, though the clock stands still',
    T,
    async () => {
      const net = await MemNetwork.create(3, {
        roundTimeoutMs: 1000,
        clock: () => Date.parse('2030-01-01T00:00:00Z'),
      });
      open.push(net);
      const [a, b, c] = net.parties;
      assert.ok(a && b && c);
      const share = await a.ceremonies.dkg('survey', 2, net.ids);
      await net.settle();
      // b and c answer every status query as if still settling an epoch.
      let answers = 0;
      net.tamper = (d) => {
        if (d.env.ceremony !== 'CONTROL' || d.env.round !== ROUND.control.keyStatus) return [d];
        answers++;
        const s = codecs.keyStatus.decode(d.env.payload);
        return [{ ...d, env: { ...d.env, payload: codecs.keyStatus.encode({ ...s, hasPending: true }) } }];
      };
      const survey = await a.ceremonies.survey(share.group, [b.id, c.id]);
      assert.deepEqual([...survey.keys()].sort(), [b.id, c.id].sort());
      assert.ok(
        [...survey.values()].every((s) => s?.hasPending),
        'the last answers, as given',
      );
      // Asked again every 200 ms for 1000 ms: six rounds of two answers.
      assert.equal(answers, 12);
    },
  );

  test(
    'a DKG seeded with the same randomness replays byte for byte; another seed deals another key',
    T,
    async () => {
      const identities = await Promise.all([0, 1, 2].map(() => generateIdentity()));
      const run = async (seed: string) => {
        const net = await MemNetwork.create(3, {
          members: identities.map((identity) => ({ identity, store: new MemStore() })),
          rng: (i) => seededBytes(`${seed}/${i}`),
          clock: () => Date.parse('2030-01-01T00:00:00Z'),
        });
        open.push(net);
        const share = await net.parties[0]?.ceremonies.dkg('seeded', 2, net.ids);
        assert.ok(share);
        await net.settle();
        const wire = net.delivered
          .filter((d) => d.env.ceremony === 'DKG')
          .map(
            (d) =>
              `${d.from}>${d.to} ${d.env.round} ${bytesToHex(d.env.sessionId)} ${bytesToHex(d.env.payload)}`,
          )
          .sort();
        return { key: bytesToHex(groupKey(share.group).toBytes(true)), wire };
      };
      const first = await run('one');
      const again = await run('one');
      assert.equal(again.key, first.key);
      assert.deepEqual(again.wire, first.wire, 'every DKG message replays');
      const other = await run('two');
      assert.notEqual(other.key, first.key);
      assert.equal(
        other.wire.filter((w) => first.wire.includes(w)).length,
        0,
        'no message repeats under another seed',
      );
    },
  );
});
