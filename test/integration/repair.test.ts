/**
 * Share repair on real daemons (issue 9): a party whose key records were deleted (it kept its identity) gets its
 * share back from t helpers and signs again. Attacks: a helper that sends a wrong sigma, or vouches for another
 * key group, gets nothing stored; a repair of a party that still holds its share, of a non-member or of oneself
 * is refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { commands } from '../../cli/commands/admin.ts';
import { codecs, ROUND } from '../../node/session/messages.ts';
import type { Envelope } from '../../node/transport/wire.ts';
import { Network } from '../helpers/network.ts';
import {
  assertSigns,
  runCommand,
  settledViews,
  UNATTENDED_CUSTODY,
  wipeKey,
  writePolicy,
} from '../helpers/network-extra.ts';

const KEY = 'treasury';

describe('share repair across daemons', () => {
  let net: Network;
  let key: { groupKey: string; chainCode: string; epoch: number };
  /** How the in-process helper (party 1) misbehaves with its sigmas. */
  let tamper: 'sigma' | 'group' | undefined;

  before(async () => {
    net = await Network.create(3, { roundTimeoutMs: 4000 });
    // These tests are about the ceremonies' mechanics; consent is attacked in custody-consent.test.ts.
    for (const i of net.parties.keys()) await writePolicy(net, i, UNATTENDED_CUSTODY);
    await net.startAll();
    const dkg = await net.keygen(0, KEY, 2);
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    key = dkg.result;
    await settledViews(net, KEY);
    await net.stop(2);
    await wipeKey(net, 2, KEY);
    await net.start(2);
  });
  after(async () => net?.close());

  const repair = (via: number, party: string) => net.run(via, `/v1/keys/${KEY}/repair`, { party });

  test('the wiped party holds nothing; repairs of a holder, a non-member or oneself are refused', async () => {
    assert.equal((await net.call(2, 'GET', `/v1/keys/${KEY}`)).status, 404);
    const holder = await repair(0, net.ids[1]);
    assert.equal(holder.state, 'failed');
    assert.equal(holder.error.code, 'CONFLICT', holder.error.message);
    const self = await repair(0, net.ids[0]);
    assert.equal(self.state, 'failed');
    assert.equal(self.error.code, 'INVALID_INPUT');
    const stranger = await repair(0, '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq');
    assert.equal(stranger.state, 'failed');
    assert.equal(stranger.error.code, 'INVALID_INPUT');
    const own = await repair(2, net.ids[2]);
    assert.equal(own.state, 'rejected', 'a party without the key cannot coordinate a repair');
  });

  test('a helper sending a wrong sigma, or vouching for another group, gets no share stored', async () => {
    await net.stop(1);
    await net.startInProcess(1, {
      transformOutbound: (_to: string, env: Envelope) => {
        if (!tamper || env.ceremony !== 'REPAIR' || env.round !== ROUND.repair.sigma) return env;
        const m = codecs.repairSigma.decode(env.payload);
        if (tamper === 'sigma') m.sigma = Uint8Array.from(m.sigma, (b, i) => (i === 31 ? b ^ 1 : b));
        else m.groupDigest = Uint8Array.from(m.groupDigest, (b) => b ^ 0xff);
        return { ...env, payload: codecs.repairSigma.encode(m) };
      },
    });
    try {
      for (const [mode, code] of [
        ['sigma', 'INVALID_SHARE'],
        ['group', 'INVALID_INPUT'],
      ] as const) {
        tamper = mode;
        const r = await repair(0, net.ids[2]);
        assert.equal(r.state, 'failed', mode);
        assert.equal(r.error.code, code, r.error.message);
        if (mode === 'group') assert.deepEqual(r.error.culprits, [net.ids[1]], 'the lying helper is named');
        assert.equal((await net.call(2, 'GET', `/v1/keys/${KEY}`)).status, 404, `${mode}: nothing stored`);
      }
    } finally {
      tamper = undefined;
      await net.stop(1);
      await net.start(1);
    }
  });

  test('frostnet repair rebuilds the share; the party signs with either other member', async () => {
    const run = await runCommand(commands, ['repair', '--key', KEY, '--party', net.ids[2], '--json'], {
      FROSTNET_DATA_DIR: net.parties[1].dataDir,
    });
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    assert.equal(out.party, net.ids[2]);
    assert.equal(out.epoch, key.epoch);
    assert.deepEqual(out.helpers, [net.ids[1], net.ids[0]]);
    const view = await net.call(2, 'GET', `/v1/keys/${KEY}`);
    assert.equal(view.status, 200);
    assert.equal(view.json.groupKey, key.groupKey);
    assert.equal(view.json.epoch, key.epoch);
    await assertSigns(net, 2, KEY, [2, 0], key);
    await assertSigns(net, 1, KEY, [1, 2], key);
    // Repaired, it is a full member again: a refresh with it goes through.
    const refresh = await net.run(2, `/v1/keys/${KEY}/refresh`, {});
    assert.equal(refresh.state, 'done', JSON.stringify(refresh.error));
  });
});
