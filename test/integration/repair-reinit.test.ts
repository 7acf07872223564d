/**
 * Repair of a party whose whole data dir is gone, identity included (issue 9), on real daemons of a 2-of-4 key:
 * it is initialised again under a new peer id, the other members vouch for it (`frostnet vouch`), and a repair
 * gives it its old identifier's share back; it signs again under the same key and Taproot address.
 * Attacks: one member's vouch is not enough, even when a member that did not vouch answers status as if it had,
 * so that the coordinator invites it (it refuses on its own check); vouching for a member that still holds its
 * share, for an unconfigured peer, for oneself, or twice is refused. A member that has not vouched signs nothing
 * with the new peer and refuses a refresh, naming the mismatch, until it vouches too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { commands as adminCommands } from '../../cli/commands/admin.ts';
import { commands as peerCommands } from '../../cli/commands/peers.ts';
import { membersDigest } from '../../node/ceremonies/key-ceremonies.ts';
import { codecs, ROUND } from '../../node/session/messages.ts';
import type { Envelope } from '../../node/transport/wire.ts';
import { type KeyGroup, numberedIdentifier } from '../../protocol/keys.ts';
import { Network } from '../helpers/network.ts';
import {
  assertSigns,
  runCommand,
  settledViews,
  signVia,
  taprootAddress,
  UNATTENDED_CUSTODY,
  writePolicy,
} from '../helpers/network-extra.ts';

const KEY = 'family';
const LOST = 3;

describe('repair of a re-initialised party that the others vouch for', () => {
  let net: Network;
  let key: { groupKey: string; chainCode: string; epoch: number };
  let lostId: string;
  let address: string;

  const cli = (i: number, args: string[], commands = adminCommands) =>
    runCommand(commands, [...args, '--json'], { FROSTNET_DATA_DIR: net.parties[i].dataDir });
  const vouch = (i: number) => cli(i, ['vouch', '--key', KEY, '--party', lostId, '--peer', 'party-4b']);
  const holdsNothing = async () =>
    assert.equal(
      (await net.call(LOST, 'GET', `/v1/keys/${KEY}`)).status,
      404,
      'the new party holds no share',
    );
  const repairVia = (i: number) => net.run(i, `/v1/keys/${KEY}/repair`, { party: net.ids[LOST] });
  /** The member list once party 4's new peer id holds its place. */
  const vouchedMembers = () => net.ids;

  before(async () => {
    net = await Network.create(4, { roundTimeoutMs: 4000, configuredOutsiders: 1 });
    // These tests are about the ceremonies' mechanics; consent is attacked in custody-consent.test.ts.
    for (const i of net.parties.keys()) await writePolicy(net, i, UNATTENDED_CUSTODY);
    await net.startAll();
    const dkg = await net.keygen(0, KEY, 2, net.ids, 'testnet');
    assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
    key = dkg.result;
    address = taprootAddress(key);
    await settledViews(net, KEY);
    lostId = net.ids[LOST];
    // Party 4's device is lost: a new one is set up from nothing, and its operator hands the new peer id and
    // address to the others, who add it.
    await net.reinit(LOST);
    await net.start(LOST);
    assert.notEqual(net.ids[LOST], lostId);
    const addr = net.parties[LOST].listen;
    for (const i of [0, 1, 2]) {
      const args = ['peers', 'add', '--id', net.ids[LOST], '--addr', addr, '--name', 'party-4b'];
      const add = await cli(i, args, peerCommands);
      assert.equal(add.code, 0, add.stderr);
    }
  });
  after(async () => net?.close());

  test('before any vouch the new peer is no member; vouches with bad arguments are refused', async () => {
    const early = await repairVia(0);
    assert.equal(early.state, 'failed');
    assert.equal(early.error.code, 'INVALID_INPUT', early.error.message);
    const cases: [party: string, peer: string, code: string][] = [
      [net.ids[1], 'outsider-1', 'CONFLICT'], // party 2 answers holding its share
      [lostId, 'self', 'INVALID_INPUT'], // this party cannot take another's place
      [net.ids[0], 'party-4b', 'INVALID_INPUT'], // nor vouch for its own replacement
    ];
    for (const [party, peer, code] of cases) {
      const run = await cli(0, ['vouch', '--key', KEY, '--party', party, '--peer', peer]);
      assert.equal(run.code, 1, `vouch ${party} -> ${peer} must fail: ${run.stdout}`);
      assert.equal(JSON.parse(run.stdout).error.code, code, run.stderr);
    }
    const unconfigured = await net.run(0, `/v1/keys/${KEY}/vouch`, {
      party: lostId,
      peer: '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq',
    });
    assert.equal(unconfigured.state, 'failed');
    assert.equal(unconfigured.error.code, 'INVALID_INPUT', unconfigured.error.message);
    const view = await net.call(0, 'GET', `/v1/keys/${KEY}`);
    assert.ok(view.json.members.includes(lostId), 'refused vouches changed nothing');
    await holdsNothing();
  });

  test('one vouch is not enough: the coordinator finds no second helper, and a lying one is refused', async () => {
    const first = await vouch(0);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout).members, vouchedMembers());
    const again = await vouch(0);
    assert.equal(again.code, 1, 'a second vouch is refused: the old member is no member any more');
    assert.equal(JSON.parse(again.stdout).error.code, 'INVALID_INPUT');
    assert.match(JSON.parse(again.stdout).error.message, /vouched for already/);

    const honest = await repairVia(0);
    assert.equal(honest.state, 'failed');
    assert.equal(honest.error.code, 'UNREACHABLE', honest.error.message);
    assert.deepEqual(honest.error.culprits, [net.ids[1], net.ids[2]], 'the members that did not vouch');
    await holdsNothing();

    // Party 2, not vouching, answers status as if it had: the coordinator now asks it to approve the repair,
    // and it refuses on its own check, before anything runs.
    const vouched = {
      members: vouchedMembers(),
      identifiers: [1, 2, 3, 4].map(numberedIdentifier),
    } as unknown as KeyGroup;
    await net.stop(1);
    await net.startInProcess(1, {
      transformOutbound: (_to: string, env: Envelope) => {
        if (env.ceremony !== 'CONTROL' || env.round !== ROUND.control.keyStatus) return env;
        const m = codecs.keyStatus.decode(env.payload);
        return { ...env, payload: codecs.keyStatus.encode({ ...m, membersDigest: membersDigest(vouched) }) };
      },
    });
    try {
      const tricked = await repairVia(0);
      assert.equal(tricked.state, 'failed');
      assert.equal(tricked.error.code, 'POLICY_DENIED', tricked.error.message);
      assert.ok(tricked.error.culprits.includes(net.ids[1]), 'the lying member is named');
      assert.match(tricked.error.message, /another key group than this party holds/);
      await holdsNothing();
    } finally {
      await net.stop(1);
      await net.start(1);
    }
  });

  test('with t vouches the new party gets its share back and signs under the same key and address', async () => {
    const second = await vouch(1);
    assert.equal(second.code, 0, second.stderr);
    const run = await cli(1, ['repair', '--key', KEY, '--party', 'party-4b']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).party, net.ids[LOST]);
    for (const i of [0, 1, LOST]) {
      const v = await net.call(i, 'GET', `/v1/keys/${KEY}`);
      assert.equal(v.status, 200);
      assert.equal(v.json.groupKey, key.groupKey);
      assert.equal(v.json.epoch, key.epoch);
      assert.equal(taprootAddress(v.json), address);
      assert.equal(
        v.json.network,
        'testnet',
        'the repaired party holds the key on its network, as its helpers said',
      );
      assert.deepEqual(v.json.members, vouchedMembers());
    }
    await assertSigns(net, LOST, KEY, [LOST, 0], key);
    await assertSigns(net, 0, KEY, [1, LOST], key);
  });

  test('a member that has not vouched signs nothing with the new peer and refuses a refresh until it vouches', async () => {
    const withThird = await signVia(net, LOST, KEY, [LOST, 2]);
    assert.equal(withThird.state, 'failed', 'party 3 does not sign for a peer it does not know as a member');
    const early = await net.run(0, `/v1/keys/${KEY}/refresh`, {});
    assert.equal(early.state, 'failed');
    assert.equal(early.error.code, 'EPOCH_MISMATCH', early.error.message);
    assert.match(early.error.message, /lists other members/);
    assert.deepEqual(early.error.culprits, [net.ids[2]]);
    for (const v of await settledViews(net, KEY)) assert.equal(v.json.epoch, key.epoch, 'nobody moved on');

    const third = await vouch(2);
    assert.equal(third.code, 0, third.stderr);
    // The advice after a lost device: once everyone vouched, a refresh makes the old share useless.
    const refresh = await net.run(LOST, `/v1/keys/${KEY}/refresh`, {});
    assert.equal(refresh.state, 'done', JSON.stringify(refresh.error));
    for (const v of await settledViews(net, KEY)) {
      assert.equal(v.json.epoch, key.epoch + 1);
      assert.deepEqual(v.json.members, vouchedMembers());
    }
    await assertSigns(net, LOST, KEY, [LOST, 2], key);
  });
});
