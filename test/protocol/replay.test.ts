/**
 * Captured messages replayed across sessions, keys and schemes (issue 7): each is rejected, and nothing signed
 * for one context verifies in another.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { type CeremonyContext, contextHash } from '../../protocol/context.ts';
import { bytesToHex } from '../../protocol/curve.ts';
import { createDkg } from '../../protocol/dkg.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { groupKey, type KeyGroup, replaceMember } from '../../protocol/keys.ts';
import { createRefresh } from '../../protocol/refresh.ts';
import {
  aggregateSignature,
  NonceStore,
  type SigningTarget,
  signShare,
  verifySignature,
} from '../../protocol/sign.ts';
import type { CeremonyMessage } from '../../protocol/vss.ts';
import { dkgContexts, makeKey, partyNames } from '../helpers/keys.ts';
import { runCeremony } from '../helpers/router.ts';

/** Every message one DKG (or refresh) sends, captured with its sender and receiver. */
function capture(parties: Map<string, ReturnType<typeof createDkg>>) {
  const seen: { from: string; to: string; message: CeremonyMessage }[] = [];
  runCeremony(parties, (e) => {
    seen.push(e);
    return [e];
  });
  return seen;
}

describe('ceremony messages do not cross sessions', () => {
  test('every DKG message of one session is refused by another session of the same members', () => {
    const members = partyNames(3);
    const old = capture(new Map(dkgContexts(2, members).map((c) => [c.self, createDkg(c)])));
    const fresh = dkgContexts(2, members);
    // Proofs of knowledge are checked together once every round-1 package is in (before party-1 deals): the
    // replayed package, with the current session's from the other party, is refused naming its sender.
    const current = new Map(fresh.map((c) => [c.self, createDkg(c)]));
    const round1 = new Map(
      [...current].map(([p, c]) => [p, c.start().send.find((o) => o.to === 'party-1')?.message]),
    );
    for (const m of old.filter((e) => e.message.round === 1 && e.to === 'party-1')) {
      const victim = createDkg(fresh[0]);
      victim.start();
      const other = m.from === 'party-2' ? 'party-3' : 'party-2';
      victim.receive(other, round1.get(other)!);
      assert.throws(
        () => victim.receive(m.from, m.message),
        (e: FrostnetError) =>
          e.code === 'INVALID_PROOF' && e.culprits.length === 1 && e.culprits[0] === m.from,
      );
    }
    // Round 2 and 3 messages from another session do not fit this session's transcript either.
    const parties = new Map(fresh.map((c) => [c.self, createDkg(c)]));
    const replayed = old.filter((e) => e.message.round >= 2 && e.to === 'party-1' && e.from === 'party-2');
    const out = runCeremony(parties, (e) =>
      e.from === 'party-2' && e.to === 'party-1' && e.message.round >= 2
        ? replayed.filter((r) => r.message.round === e.message.round)
        : [e],
    );
    assert.ok(!out.results.has('party-1'), 'party-1 must not accept a key built from another session');
    assert.ok(out.errors.get('party-1') instanceof FrostnetError);
  });

  test('refresh messages of one key are refused by a refresh of another key', () => {
    const a = makeKey(2, 3);
    const b = makeKey(2, 3);
    const sessionId = randomBytes(32);
    const old = capture(new Map([...a].map(([p, k]) => [p, createRefresh(sessionId, p, k)])));
    const victim = createRefresh(sessionId, 'party-1', b.get('party-1')!);
    victim.start();
    // Same session id, same members, another key: the round-1 digests bind the key, so the round-2 check fails.
    for (const m of old.filter((e) => e.to === 'party-1' && e.message.round === 1))
      victim.receive(m.from, m.message);
    const round2 = old.filter((e) => e.to === 'party-1' && e.message.round === 2);
    assert.throws(() => {
      for (const m of round2) victim.receive(m.from, m.message);
    }, FrostnetError);
    assert.ok(!victim.done);
  });
});

describe('the context of a refresh or reshare binds all of the base group a party holds', () => {
  test('another chain code, a member replaced by a vouch, or swapped identifiers give another context', () => {
    const base = makeKey(2, 3).get('party-1')!.group;
    const ctx = (g: KeyGroup): CeremonyContext => ({
      kind: 'refresh',
      sessionId: new Uint8Array(32).fill(1),
      threshold: 2,
      dealers: ['party-1', 'party-2', 'party-3'],
      receivers: ['party-1', 'party-2', 'party-3'],
      self: 'party-1',
      base: g,
    });
    const seen = new Set([bytesToHex(contextHash(ctx(base)))]);
    for (const g of [
      { ...base, chainCode: new Uint8Array(32).fill(7) },
      replaceMember(base, 'party-3', 'party-3b'),
      { ...base, identifiers: [base.identifiers[0], base.identifiers[2], base.identifiers[1]] },
    ]) {
      const h = bytesToHex(contextHash(ctx(g)));
      assert.ok(!seen.has(h), 'a distinct context');
      seen.add(h);
    }
    assert.ok(seen.has(bytesToHex(contextHash(ctx({ ...base })))), 'the same group gives the same context');
  });
});

describe('signing material does not cross keys or schemes', () => {
  const message = randomBytes(32);

  test('a share made for one key is refused by the coordinator of another, naming the signer', () => {
    const a = makeKey(2, 3);
    const b = makeKey(2, 3);
    const target: SigningTarget = { scheme: 'bip340', message, steps: [] };
    const stores = ['party-1', 'party-2'].map(() => new NonceStore());
    const commitments = ['party-1', 'party-2'].map((p, i) => stores[i].commit(a.get(p)!));
    const pkg = { epoch: 0, scheme: 'bip340' as const, message, commitments };
    const shares = new Map(
      ['party-1', 'party-2'].map((p, i) => [p, signShare(a.get(p)!, stores[i], pkg, target)]),
    );
    assert.throws(() => aggregateSignature(b.get('party-1')!.group, target, commitments, shares), {
      code: 'INVALID_SIGNATURE_SHARE',
    });
  });

  test('a bip340 package replayed as rfc9591 is refused by the signer; signatures do not verify across schemes', () => {
    const keys = makeKey(2, 3);
    const k = keys.get('party-1')!;
    const store = new NonceStore();
    const c = store.commit(k);
    const other = new NonceStore().commit(keys.get('party-2')!);
    const pkg = { epoch: 0, scheme: 'bip340' as const, message, commitments: [c, other] };
    assert.throws(() => signShare(k, store, pkg, { scheme: 'rfc9591', message, steps: [] }), {
      code: 'MESSAGE_MISMATCH',
    });
    const sig = (() => {
      const stores = [new NonceStore(), new NonceStore()];
      const cs = ['party-1', 'party-2'].map((p, i) => stores[i].commit(keys.get(p)!));
      const p2 = { epoch: 0, scheme: 'bip340' as const, message, commitments: cs };
      const t: SigningTarget = { scheme: 'bip340', message, steps: [] };
      const shares = new Map(
        ['party-1', 'party-2'].map((p, i) => [p, signShare(keys.get(p)!, stores[i], p2, t)]),
      );
      return aggregateSignature(k.group, t, cs, shares);
    })();
    assert.ok(verifySignature('bip340', groupKey(k.group), message, sig));
    assert.ok(!verifySignature('rfc9591', groupKey(k.group), message, sig));
  });
});
