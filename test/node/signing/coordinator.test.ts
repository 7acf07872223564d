/**
 * The coordinator and signers on the in-memory network (test/helpers/mem-network.ts): a signature that
 * verifies under the key it is for, made by t of the n parties; a signer that stays silent during signing is
 * excluded as timed out and the others sign, and with too few left the request fails naming the silent ones; a
 * custody proposal's expiry is judged on the parties' injected clock.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { DRILL_PATH, drillMessage } from '../../../chains/domains.ts';
import type { SignersExhausted } from '../../../node/signing/coordinator.ts';
import { HeldError } from '../../../node/signing/hold-error.ts';
import { xOnly as xOnlyOf } from '../../../protocol/curve.ts';
import { derivePath } from '../../../protocol/derive.ts';
import { FrostnetError } from '../../../protocol/errors.ts';
import { groupKey } from '../../../protocol/keys.ts';
import { makeProposal, proposalDigest } from '../../../protocol/proposal.ts';
import { MemNetwork, type MemNetworkOptions } from '../../helpers/mem-network.ts';

const T = { timeout: 60_000 };
const open: MemNetwork[] = [];
afterEach(() => {
  for (const n of open.splice(0)) n.close();
});

async function keyed(n: number, t: number, o: MemNetworkOptions = {}) {
  const net = await MemNetwork.create(n, { roundTimeoutMs: 2000, ...o });
  open.push(net);
  const share = await net.parties[0]?.ceremonies.dkg('k', t, net.ids);
  assert.ok(share);
  await net.settle();
  const root = { key: groupKey(share.group), chainCode: share.group.chainCode };
  return { net, group: share.group, xOnly: xOnlyOf(derivePath(root, DRILL_PATH).key) };
}

/** A drill: signed under the drill key, over the drill's tagged hash of the challenge. */
const drill = (challenge: Uint8Array) => ({
  scheme: 'bip340' as const,
  payload: { drill: { challenge } },
});

describe('coordinator on the in-memory network', () => {
  test('signs a message with t of n parties; the signature verifies under the key it is for', T, async () => {
    const { net, xOnly } = await keyed(3, 2);
    const message = randomBytes(32);
    const out = await net.parties[1]?.coordinator.sign('k', drill(message));
    assert.ok(out);
    assert.equal(out.signatures.length, 1);
    assert.ok(schnorr.verify(out.signatures[0] ?? new Uint8Array(), drillMessage(message), xOnly));
    assert.equal(out.signers.length, 2);
    assert.deepEqual(out.excluded, []);
  });
});

describe('a signer that stays silent during signing', () => {
  test('is excluded as timed out, named, and t others sign; its silence stops nothing', T, async () => {
    const { net, xOnly } = await keyed(3, 2);
    const [a, b, c] = net.parties;
    assert.ok(a && b && c);
    // b takes every message and answers none of the signing ones: not its commitments, not its share.
    net.tamper = (d) => (d.from === b.id && d.env.ceremony === 'SIGN' ? [] : [d]);
    const message = randomBytes(32);
    const out = await a.coordinator.sign('k', { ...drill(message), signers: [a.id, b.id, c.id] });
    assert.ok(schnorr.verify(out.signatures[0] ?? new Uint8Array(), drillMessage(message), xOnly));
    assert.deepEqual([...out.signers].sort(), [a.id, c.id].sort());
    assert.deepEqual(
      out.excluded.map((x) => [x.party, x.code]),
      [[b.id, 'TIMEOUT']],
    );
    // Once it speaks again it signs as before.
    net.tamper = (d) => [d];
    const again = await a.coordinator.sign('k', { ...drill(message), signers: [b.id, c.id] });
    assert.deepEqual(again.excluded, []);
  });

  test('with too few others left, the request fails naming the silent ones', T, async () => {
    const { net } = await keyed(3, 2);
    const [a, b, c] = net.parties;
    assert.ok(a && b && c);
    net.tamper = (d) => (d.from !== a.id && d.env.ceremony === 'SIGN' ? [] : [d]);
    await assert.rejects(
      a.coordinator.sign('k', drill(randomBytes(32))),
      (e: Error & { code?: string; culprits?: string[] }) => {
        assert.equal(e.code, 'NOT_ENOUGH_SIGNERS');
        assert.deepEqual([...(e.culprits ?? [])].sort(), [b.id, c.id].sort());
        return true;
      },
    );
  });
});

describe("a custody proposal on the parties' clock", () => {
  test(
    'before its expiry on the injected clock it is signed; after it the coordinator refuses it and asks no one',
    T,
    async () => {
      // Ten years behind the wall clock: only the injected clock can find this proposal unexpired.
      let offset = -10 * 365 * 86_400_000;
      const { net, group } = await keyed(3, 2, { clock: () => Date.now() + offset });
      const [a] = net.parties;
      assert.ok(a);
      const now = Math.floor((Date.now() + offset) / 1000);
      const proposal = makeProposal(
        'refresh',
        'k',
        group,
        { threshold: group.threshold, members: group.members, dealers: group.members },
        { sessionId: randomBytes(32), proposer: a.id, expiresAt: now + 3600, now },
      );
      const request = { scheme: 'bip340' as const, payload: { proposal: { proposal } } };
      const out = await a.coordinator.sign('k', request);
      assert.ok(
        schnorr.verify(
          out.signatures[0] ?? new Uint8Array(),
          proposalDigest(proposal),
          xOnlyOf(groupKey(group)),
        ),
      );

      offset += 3601_000;
      const sent = net.delivered.length;
      await assert.rejects(a.coordinator.sign('k', request), { code: 'POLICY_DENIED', message: /expired/ });
      assert.equal(net.delivered.length, sent, 'no signer was asked');
    },
  );
});

describe('a request that cannot be signed now', () => {
  test(
    'every member it could still need is asked, so each answer is known (one round among t first)',
    T,
    async () => {
      // a refuses, b holds for approval, c refuses: no two can sign; a held request should end, not wait.
      let stance: (party: number) => void = () => {};
      const { net } = await keyed(3, 2, { policy: (i) => ({ check: () => stance(i) }) });
      const [a, b, c] = net.parties;
      assert.ok(a && b && c);
      // One signature first: every member hands out preprocessed nonces, so the next attempt is one round.
      await a.coordinator.sign('k', drill(randomBytes(32)));
      await net.settle();
      stance = (i) => {
        if (i === 1)
          throw new HeldError('APPROVAL_REQUIRED', 'awaits approval by its operator', undefined, []);
        throw new FrostnetError('POLICY_DENIED', 'refused by its policy');
      };
      await assert.rejects(
        a.coordinator.sign('k', { ...drill(randomBytes(32)), signers: [a.id, b.id, c.id] }),
        (e: SignersExhausted) => {
          assert.deepEqual(
            e.excluded.map((x) => [x.party, x.code]).sort(),
            [
              [a.id, 'POLICY_DENIED'],
              [b.id, 'APPROVAL_REQUIRED'],
              [c.id, 'POLICY_DENIED'],
            ].sort(),
          );
          return true;
        },
      );
    },
  );
});
