/**
 * Share repair (node/ceremonies/repair.ts) on the in-memory network: a member that erased its share gets the
 * very same share back from t helpers and signs with it; a helper's deltas that reach another helper before
 * its invite wait for its session; two repairs of one lost share asked of two helpers at once leave the lost
 * party with that one share; and a helper that sends a wrong sigma gets the lost party to refuse and keep
 * nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { DRILL_PATH, drillMessage } from '../../../chains/domains.ts';
import { codecs, ROUND } from '../../../node/session/messages.ts';
import { xOnly } from '../../../protocol/curve.ts';
import { derivePath } from '../../../protocol/derive.ts';
import { groupKey, type KeyShare } from '../../../protocol/keys.ts';
import { MemNetwork, type MemNetwork as Net } from '../../helpers/mem-network.ts';

const T = { timeout: 60_000 };
const open: Net[] = [];
afterEach(() => {
  for (const n of open.splice(0)) n.close();
});

/** A 2-of-3 key `k` whose third member erased its share; `lost` is what it held. */
async function erasedAtThird() {
  const net = await MemNetwork.create(3, { roundTimeoutMs: 2000 });
  open.push(net);
  const [a, b, c] = net.parties;
  assert.ok(a && b && c);
  await a.ceremonies.dkg('k', 2, net.ids);
  await net.settle();
  const lost: KeyShare = c.keys.active('k');
  await c.keys.erase('k');
  assert.throws(() => c.keys.active('k'), { code: 'UNKNOWN_KEY' });
  return { net, a, b, c, lost };
}

const repairRounds = (net: Net, to: string, round: number) =>
  net.delivered.filter((d) => d.to === to && d.env.ceremony === 'REPAIR' && d.env.round === round);

describe('repair on the in-memory network', () => {
  test('an erased share comes back from t helpers, equal to the one lost, and signs', T, async () => {
    const { net, a, c, lost } = await erasedAtThird();
    const out = await a.repairs.repair('k', c.id);
    assert.equal(out.party, c.id);
    assert.equal(out.helpers.length, 2);
    assert.ok(!out.helpers.includes(c.id));
    await net.settle();
    assert.deepEqual(c.keys.active('k'), lost, 'the same share, for the same group and epoch');
    // It signs with a helper, coordinating itself.
    const g = lost.group;
    const drillKey = xOnly(derivePath({ key: groupKey(g), chainCode: g.chainCode }, DRILL_PATH).key);
    const challenge = randomBytes(32);
    const other = out.helpers.find((h) => h !== a.id) ?? a.id;
    const sig = await c.coordinator.sign('k', {
      scheme: 'bip340',
      payload: { drill: { challenge } },
      signers: [c.id, other],
    });
    assert.deepEqual([...sig.signers].sort(), [c.id, other].sort());
    assert.ok(schnorr.verify(sig.signatures[0] ?? new Uint8Array(), drillMessage(challenge), drillKey));
  });

  test("a helper's deltas that reach another helper before its invite wait for its session", T, async () => {
    const { net, a, b, c, lost } = await erasedAtThird();
    const invite = net.hold(
      (d) => d.to === b.id && d.env.ceremony === 'REPAIR' && d.env.round === ROUND.session.invite,
    );
    const repair = a.repairs.repair('k', c.id);
    for (;;) {
      await net.settle();
      if (repairRounds(net, b.id, ROUND.repair.delta).length === 1) break;
    }
    assert.equal(invite.count(), 1, "b has a's delta and no invite yet");
    invite.release();
    await repair;
    await net.settle();
    assert.deepEqual(c.keys.active('k'), lost);
  });

  test(
    'two repairs of one lost share asked of two helpers at once leave it with that one share',
    T,
    async () => {
      const { net, a, b, c, lost } = await erasedAtThird();
      const outcomes = await Promise.allSettled([a.repairs.repair('k', c.id), b.repairs.repair('k', c.id)]);
      assert.ok(
        outcomes.some((o) => o.status === 'fulfilled'),
        JSON.stringify(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok'))),
      );
      for (const o of outcomes)
        if (o.status === 'rejected')
          assert.match(String(o.reason?.code), /CONFLICT|TIMEOUT|UNEXPECTED_SENDER|EPOCH_MISMATCH/);
      await net.settle();
      assert.deepEqual(c.keys.active('k'), lost);
      for (const p of [a, b])
        assert.equal(p.keys.active('k').group.epoch, lost.group.epoch, 'no epoch moved');
    },
  );

  test(
    'a helper that sends a wrong sigma: the lost party refuses the share and keeps nothing',
    T,
    async () => {
      const { net, a, b, c } = await erasedAtThird();
      net.tamper = (d) => {
        if (
          d.from !== b.id ||
          d.to !== c.id ||
          d.env.ceremony !== 'REPAIR' ||
          d.env.round !== ROUND.repair.sigma
        )
          return [d];
        const m = codecs.repairSigma.decode(d.env.payload, { from: b.id });
        const sigma = Uint8Array.from(m.sigma);
        sigma[31] = (sigma[31] ?? 0) ^ 1;
        return [{ ...d, env: { ...d.env, payload: codecs.repairSigma.encode({ ...m, sigma }) } }];
      };
      await assert.rejects(a.repairs.repair('k', c.id));
      await net.settle();
      assert.throws(() => c.keys.active('k'), { code: 'UNKNOWN_KEY' }, 'no share was stored');
      assert.equal(c.keys.removed('k')?.erased, true, 'the erased marker stays');
      assert.equal(repairRounds(net, a.id, ROUND.repair.done).length, 0, 'the lost party never said done');
    },
  );
});
