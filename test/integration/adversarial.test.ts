/**
 * A misbehaving party among real daemons (issue 7): one party runs the real daemon code in this process with
 * a fault-injecting transform on everything it sends, and plays each published attack in turn.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { drillMessage } from '../../chains/domains.ts';
import {
  codecs,
  decodeSignOneRound,
  encodeVss,
  ROUND,
  type SignPackageMsg,
} from '../../node/session/messages.ts';
import type { Envelope } from '../../node/transport/wire.ts';
import { G, hexToBytes } from '../../protocol/curve.ts';
import { createDkg } from '../../protocol/dkg.ts';
import { verifyBip340 } from '../../protocol/sign.ts';
import { Network } from '../helpers/network.ts';
import { drillKeyOf, settledViews } from '../helpers/network-extra.ts';

type Attack = (to: string, env: Envelope) => Promise<Envelope | undefined> | Envelope | undefined;
const honestly: Attack = (_to, env) => env;
const hex = (s: string) => hexToBytes(s);
const ROGUE = 3;

describe('one misbehaving party among four daemons', () => {
  let net: Network;
  let attack: Attack = honestly;
  let rogue: string;
  const rValues = new Set<string>();
  let signatures = 0;

  before(async () => {
    net = await Network.create(4, { roundTimeoutMs: 6000 });
    await Promise.all([0, 1, 2].map((i) => net.start(i)));
    await net.startInProcess(ROGUE, { transformOutbound: (to, env) => attack(to, env) });
    rogue = net.ids[ROGUE];
  });
  after(async () => net?.close());

  /** Every honest party holds no key named `name` once the failed DKG has settled. */
  async function assertNoHonestKey(name: string) {
    for (let tries = 0; ; tries++) {
      const views = await Promise.all([0, 1, 2].map((i) => net.call(i, 'GET', `/v1/keys/${name}`)));
      if (views.every((v) => v.status === 404)) return;
      assert.ok(tries < 40, `honest parties still hold ${name}: ${JSON.stringify(views.map((v) => v.json))}`);
      await sleep(250);
    }
  }

  async function dkgUnderAttack(name: string, a: Attack, code: RegExp) {
    attack = a;
    try {
      const r = await net.keygen(0, name, 2);
      assert.equal(r.state, 'failed', 'the DKG must not complete');
      assert.deepEqual(r.error.culprits, [rogue], JSON.stringify(r.error));
      assert.match(r.error.code + r.error.message, code);
      await assertNoHonestKey(name);
    } finally {
      attack = honestly;
    }
  }

  const onRound1 =
    (
      fn: (
        m: { commitment: Uint8Array[]; proof: Uint8Array },
        to: string,
        env: Envelope,
      ) => Envelope | undefined,
    ): Attack =>
    (to, env) =>
      env.ceremony === 'DKG' && env.round === 1 ? fn(codecs.vss1.decode(env.payload), to, env) : env;

  test('DKG: commitments of the wrong length (threshold raising)', async () => {
    await dkgUnderAttack(
      'raise',
      onRound1((m, _to, env) => ({
        ...env,
        payload: codecs.vss1.encode({ ...m, commitment: [...m.commitment, G.multiply(5n).toBytes(true)] }),
      })),
      /INVALID_COMMITMENT|commitment/,
    );
  });

  test('DKG: an invalid proof of knowledge, and a missing one', async () => {
    await dkgUnderAttack(
      'badproof',
      onRound1((m, _to, env) => ({
        ...env,
        payload: codecs.vss1.encode({ ...m, proof: m.proof.map((b, i) => (i === 50 ? b ^ 1 : b)) }),
      })),
      /PROOF|proof/,
    );
    await dkgUnderAttack(
      'noproof',
      onRound1((m, _to, env) => ({ ...env, payload: codecs.vss1.encode({ ...m, proof: new Uint8Array() }) })),
      /PROOF|proof/,
    );
  });

  test('DKG: a proof replayed from another session', async () => {
    let old: { commitment: Uint8Array[]; proof: Uint8Array } | undefined;
    // Capture the rogue's honest round 1 of one session (which it then abandons: in place of its round 2 it
    // says it aborts, so the others end the session at once instead of waiting out the round timeout, and it
    // sends nothing else in it)...
    attack = (_to, env) => {
      if (env.ceremony !== 'DKG') return env;
      if (env.round === 1) old ??= codecs.vss1.decode(env.payload);
      if (env.round !== 2) return env.round === 1 ? env : undefined;
      const abandoned = { code: 'ABORTED', reason: 'the rogue abandons this session', culprits: [] };
      return { ...env, round: ROUND.session.abort, payload: codecs.abort.encode(abandoned) };
    };
    const capture = await net.keygen(0, 'capture', 2);
    assert.equal(capture.state, 'failed', 'the abandoned DKG does not complete');
    const captured = old;
    assert.ok(captured);
    await assertNoHonestKey('capture');
    // ...and send its commitment and proof in a new one, under the new session's context hash: only the proof,
    // bound to the session it was made for, can give the replay away. (With the old context hash as well, the
    // context check catches it first wherever it arrives before the last honest package.)
    await dkgUnderAttack(
      'replayed',
      onRound1((m, _to, env) => ({
        ...env,
        payload: codecs.vss1.encode({ ...m, commitment: captured.commitment, proof: captured.proof }),
      })),
      /PROOF|proof/,
    );
  });

  test('DKG: different valid round-1 packages to different parties (equivocation)', async () => {
    await dkgUnderAttack(
      'split',
      onRound1((_m, to, env) => {
        if (to !== net.ids[2]) return env;
        const twin = createDkg({
          kind: 'dkg',
          sessionId: env.sessionId,
          threshold: 2,
          dealers: net.ids,
          receivers: net.ids,
          self: rogue,
        });
        const context = { context: twin.contextHash };
        return { ...env, payload: encodeVss(twin.start().send[0].message, context).payload };
      }),
      /EQUIVOCATION|differently|aborted/,
    );
  });

  test('DKG: a bad share to one party', async () => {
    await dkgUnderAttack(
      'badshare',
      (to, env) => {
        if (env.ceremony !== 'DKG' || env.round !== 2 || to !== net.ids[1]) return env;
        const m = codecs.vss2.decode(env.payload);
        return {
          ...env,
          payload: codecs.vss2.encode({ ...m, share: m.share.map((b, i) => (i === 31 ? b ^ 1 : b)) }),
        };
      },
      /SHARE|share/,
    );
  });

  describe('signing with the misbehaving party among the signers', () => {
    let key: { groupKey: string; chainCode: string };
    before(async () => {
      const dkg = await net.keygen(0, 'shared', 2);
      assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
      key = dkg.result;
    });

    /** Signs through party 0 with the rogue tried second; the result must verify and name the rogue. */
    async function signDespite(a: Attack, code: string) {
      attack = a;
      try {
        const message = randomBytes(32).toString('hex');
        const r = await net.run(0, '/v1/keys/shared/sign', {
          drill: message,
          signers: [net.ids[0], rogue, net.ids[1], net.ids[2]],
        });
        assert.equal(r.state, 'done', JSON.stringify(r.error));
        assert.ok(verifyBip340(hex(r.result.signatures[0]), drillMessage(hex(message)), drillKeyOf(key)));
        assert.ok(!r.result.signers.includes(rogue));
        assert.deepEqual(
          r.result.excluded.map((x: { party: string }) => x.party),
          [rogue],
        );
        assert.equal(r.result.excluded[0].code, code);
        rValues.add(r.result.signatures[0].slice(0, 64));
        signatures++;
      } finally {
        attack = honestly;
      }
    }

    test('a garbage signature share: excluded by name, signature completes', async () => {
      await signDespite(
        (_to, env) =>
          env.ceremony === 'SIGN' && env.round === 4
            ? { ...env, payload: codecs.signShares.encode({ shares: [randomBytes(32)] }) }
            : env,
        'INVALID_SIGNATURE_SHARE',
      );
    });

    test('a crash after round one (no share ever comes)', async () => {
      await signDespite(
        (_to, env) => (env.ceremony === 'SIGN' && env.round === 4 ? undefined : env),
        'TIMEOUT',
      );
    });

    test('a late answer', async () => {
      // Its commitments (two rounds) or its shares (one round, preprocessed) come after the round timeout.
      await signDespite(async (_to, env) => {
        if (env.ceremony === 'SIGN' && (env.round === 2 || env.round === 4)) await sleep(7000);
        return env;
      }, 'TIMEOUT');
    });
  });

  describe('the misbehaving party as coordinator', () => {
    before(async () => {
      const dkg = await net.keygen(0, 'coord', 2);
      assert.equal(dkg.state, 'done', JSON.stringify(dkg.error));
      // The rogue coordinates next: wait until it, too, has activated the key (its certificate may come later).
      await settledViews(net, 'coord');
    });

    /** Rewrites the package in a two-round (round 3) or one-round (round 7) message. */
    const rewritePackage = (env: Envelope, edit: (pkg: SignPackageMsg) => SignPackageMsg): Envelope => {
      if (env.round === 3)
        return { ...env, payload: codecs.signPackage.encode(edit(codecs.signPackage.decode(env.payload))) };
      const m = decodeSignOneRound(env.payload, rogue);
      return {
        ...env,
        payload: codecs.signOneRound.encode({ request: m.request, package: edit(m.package) } as never),
      };
    };

    test('a package with another message than requested: the signer refuses, no share', async () => {
      attack = (_to, env) =>
        env.ceremony === 'SIGN' && (env.round === 3 || env.round === 7)
          ? rewritePackage(env, (pkg) => ({ ...pkg, messages: [randomBytes(32)] }))
          : env;
      try {
        const r = await net.run(ROGUE, '/v1/keys/coord/sign', {
          drill: 'cd'.repeat(32),
          signers: [rogue, net.ids[1]],
        });
        assert.equal(r.state, 'failed');
        assert.equal(r.error.code, 'NOT_ENOUGH_SIGNERS');
        assert.match(r.error.message, /MESSAGE_MISMATCH|other messages/);
      } finally {
        attack = honestly;
      }
    });

    test('commitments reused with a second request: the signer refuses, the nonce is gone', async () => {
      const message = 'ef'.repeat(32);
      // Honest signatures first, so that the rogue holds preprocessed commitments and signs in one round.
      for (let i = 0; i < 2; i++) {
        const warm = await net.run(ROGUE, '/v1/keys/coord/sign', {
          drill: message,
          signers: [rogue, net.ids[1]],
        });
        assert.equal(warm.state, 'done', JSON.stringify(warm.error));
        rValues.add(warm.result.signatures[0].slice(0, 64));
        signatures++;
      }
      // The first package (with its commitments) is captured; every later package is swapped for it.
      let captured: SignPackageMsg | undefined;
      attack = (_to, env) => {
        if (env.ceremony !== 'SIGN' || (env.round !== 3 && env.round !== 7)) return env;
        return rewritePackage(env, (pkg) => {
          captured ??= pkg;
          return captured;
        });
      };
      try {
        const first = await net.run(ROGUE, '/v1/keys/coord/sign', {
          drill: message,
          signers: [rogue, net.ids[1]],
        });
        assert.equal(first.state, 'done', JSON.stringify(first.error));
        rValues.add(first.result.signatures[0].slice(0, 64));
        signatures++;
        // Same message, new session: the old package (old commitments) is sent instead of the new one.
        const second = await net.run(ROGUE, '/v1/keys/coord/sign', {
          drill: message,
          signers: [rogue, net.ids[1]],
        });
        assert.equal(second.state, 'failed');
        assert.match(second.error.message, /NONCE_REUSED|not an unused nonce/);
      } finally {
        attack = honestly;
      }
    });
  });

  test('every signature made under attack has its own nonce', () => {
    assert.ok(signatures >= 4);
    assert.equal(rValues.size, signatures);
  });
});
