/**
 * Differential tests of this project's FROST signing (protocol/frost.ts through protocol/sign.ts) against
 * @noble/curves' own FROST API: random keys, random signer sets from 2-of-3 to 11-of-15, both schemes, with and
 * without tweaks. Commitments, shares and signatures must be byte-identical, and a corrupted share must be named
 * exactly as noble's cheater detection names it. Everything random comes from one seeded generator, so a
 * failure reproduces.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FROST, NonceCommitments } from '@noble/curves/abstract/frost.js';
import { schnorr_FROST, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { type Bytes, bytesToHex, Fn, hexToBytes } from '../../protocol/curve.ts';
import { derivePath } from '../../protocol/derive.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { SigningSession } from '../../protocol/frost.ts';
import { groupKey, type KeyGroup, type KeyShare } from '../../protocol/keys.ts';
import {
  aggregateSignature,
  NonceStore,
  type Scheme,
  type SigningTarget,
  signShare,
} from '../../protocol/sign.ts';
import { type TweakStep, taprootStep, tweakPublic, tweakSecret } from '../../protocol/tweak.ts';
import { seededBytes } from '../helpers/seeded.ts';

const SUITES: Record<Scheme, FROST> = { bip340: schnorr_FROST, rfc9591: secp256k1_FROST };

/** The seeded byte stream (test/helpers/seeded.ts), and integers below a bound from it. */
function seeded(seed: string) {
  const bytes = seededBytes(seed);
  const int = (below: number) => Number(BigInt(`0x${bytesToHex(bytes(6))}`) % BigInt(below));
  return { bytes, int };
}
type Rng = ReturnType<typeof seeded>;

/** A t-of-n key dealt by noble (identifiers 1..n), as this project's key shares. */
function dealKey(t: number, n: number, rng: Rng): KeyShare[] {
  const ids = Array.from({ length: n }, (_, i) => secp256k1_FROST.Identifier.fromNumber(i + 1));
  const deal = secp256k1_FROST.trustedDealer({ min: t, max: n }, ids, undefined, rng.bytes);
  const group: KeyGroup = {
    threshold: t,
    members: ids.map((_, i) => `party-${i + 1}`),
    identifiers: ids,
    public: deal.public,
    chainCode: rng.bytes(32),
    epoch: 0,
    transcript: new Uint8Array(32),
  };
  return ids.map((id) => ({ group, secret: deal.secretShares[id] }));
}

/** No tweak, a BIP32 child, a Taproot output key, or both, as the daemons sign for addresses. */
function randomSteps(group: KeyGroup, rng: Rng): TweakStep[] {
  const P = groupKey(group);
  switch (rng.int(4)) {
    case 0:
      return [];
    case 1:
      return derivePath({ key: P, chainCode: group.chainCode }, [rng.int(1000)]).steps as TweakStep[];
    case 2:
      return [taprootStep(P)];
    default: {
      const child = derivePath({ key: P, chainCode: group.chainCode }, [rng.int(2), rng.int(1000)]);
      return [...child.steps, taprootStep(child.key)];
    }
  }
}

/** Picks k of the shares at random, in member order. */
function pick(keys: KeyShare[], k: number, rng: Rng): KeyShare[] {
  const chosen = new Set<number>();
  while (chosen.size < k) chosen.add(rng.int(keys.length));
  return [...chosen].sort((a, b) => a - b).map((i) => keys[i]);
}

/**
 * One case: the same signers sign the same target with this project's code and with noble's, from the same
 * nonce randomness. Returns the number of byte comparisons made.
 */
function signBoth(keys: KeyShare[], signers: KeyShare[], target: SigningTarget, rng: Rng, corrupt?: number) {
  const group = keys[0].group;
  const suite = SUITES[target.scheme];
  const randomness = signers.map(() => [rng.bytes(32), rng.bytes(32)]);
  const replay = (i: number) => {
    const queue = [...randomness[i]];
    return () => queue.shift() as Bytes;
  };
  // Round 1.
  const stores = signers.map(() => new NonceStore());
  const ours = signers.map((k, i) => stores[i].commit(k, { scheme: target.scheme, rng: replay(i) }));
  const theirs = signers.map((k, i) => suite.commit(k.secret, replay(i)));
  ours.forEach((c, i) => {
    assert.equal(bytesToHex(c.hiding), bytesToHex(theirs[i].commitments.hiding), 'hiding commitment');
    assert.equal(bytesToHex(c.binding), bytesToHex(theirs[i].commitments.binding), 'binding commitment');
  });
  // Round 2: noble signs with the tweaked package, as protocol/sign.ts did before it had its own core.
  const pub = tweakPublic(group.public, target.steps);
  const pkg = { epoch: group.epoch, scheme: target.scheme, message: target.message, commitments: ours };
  const nobleList: NonceCommitments[] = theirs.map((g) => g.commitments);
  const shares = new Map<string, Uint8Array>();
  const nobleShares: Record<string, Bytes> = {};
  signers.forEach((k, i) => {
    const share = signShare(k, stores[i], pkg, target);
    const secret = tweakSecret(k.secret, groupKey(group), target.steps);
    const reference = suite.signShare(secret, pub, theirs[i].nonces, nobleList, target.message);
    assert.equal(bytesToHex(share), bytesToHex(reference), 'signature share');
    shares.set(group.members[group.identifiers.indexOf(k.secret.identifier)], share);
    nobleShares[k.secret.identifier] = reference;
  });
  if (corrupt !== undefined) {
    const victim = signers[corrupt];
    const party = group.members[group.identifiers.indexOf(victim.secret.identifier)];
    const bad = Fn.toBytes(Fn.add(Fn.fromBytes(shares.get(party)!), 1n)) as Bytes;
    shares.set(party, bad);
    nobleShares[victim.secret.identifier] = bad;
    let cheaters: string[] = [];
    assert.throws(
      () => suite.aggregate(pub, nobleList, target.message, nobleShares),
      (e: unknown) => {
        cheaters = (e as { cheaters: string[] }).cheaters;
        return true;
      },
    );
    assert.throws(
      () => aggregateSignature(group, target, ours, shares),
      (e: unknown) => {
        assert.ok(e instanceof FrostnetError);
        assert.equal(e.code, 'INVALID_SIGNATURE_SHARE');
        assert.deepEqual(
          [...e.culprits],
          cheaters.map((id) => group.members[group.identifiers.indexOf(id)]),
        );
        assert.deepEqual([...e.culprits], [party]);
        return true;
      },
    );
    return;
  }
  const signature = aggregateSignature(group, target, ours, shares);
  const reference = suite.aggregate(pub, nobleList, target.message, nobleShares);
  assert.equal(bytesToHex(signature), bytesToHex(reference), 'signature');
}

// 1,000 cases, weighted towards the small groups the daemons use most, every size in both schemes.
const SIZES: [t: number, n: number, cases: number][] = [
  [2, 3, 450],
  [3, 5, 300],
  [5, 7, 120],
  [7, 10, 80],
  [11, 15, 50],
];

describe('signing is byte-identical to @noble/curves FROST', () => {
  for (const [t, n, cases] of SIZES) {
    test(`${t}-of-${n}: ${cases} random cases, both schemes, with and without tweaks`, () => {
      const rng = seeded(`frost ${t}-of-${n}`);
      let keys = dealKey(t, n, rng);
      for (let c = 0; c < cases; c++) {
        if (c % 25 === 24) keys = dealKey(t, n, rng); // a fresh key now and then
        const scheme: Scheme = c % 2 === 0 ? 'bip340' : 'rfc9591';
        const group = keys[0].group;
        const target: SigningTarget = {
          scheme,
          message: rng.bytes(c % 7 === 6 ? 1 + rng.int(100) : 32),
          steps: randomSteps(group, rng),
        };
        const signers = pick(keys, t + (c % 5 === 4 && t < n ? 1 : 0), rng);
        signBoth(keys, signers, target, rng, c % 10 === 9 ? rng.int(signers.length) : undefined);
      }
    });
  }

  test('a key and its negation share the BIP340 binding prefix, never a remembered session', () => {
    const rng = seeded('negated key');
    const keys = dealKey(2, 3, rng);
    const list = keys.slice(0, 2).map((k) => new NonceStore().commit(k, { rng: rng.bytes }));
    const P = groupKey(keys[0].group);
    const message = rng.bytes(32);
    const a = SigningSession.open('bip340', P, list, message);
    const b = SigningSession.open('bip340', P.negate(), list, message);
    assert.notEqual(a.negatedKey, b.negatedKey);
    assert.ok(a.key.equals(b.key));
  });

  test('the identifiers of vectors and of derived identifiers sort and hash the same', () => {
    // Identifiers need not be 1..n: noble's derived identifiers are arbitrary scalars.
    const rng = seeded('derived identifiers');
    const ids = ['alice', 'bob', 'carol'].map((s) => secp256k1_FROST.Identifier.derive(s));
    const deal = secp256k1_FROST.trustedDealer({ min: 2, max: 3 }, ids, undefined, rng.bytes);
    const group: KeyGroup = {
      threshold: 2,
      members: ['alice', 'bob', 'carol'],
      identifiers: ids,
      public: deal.public,
      chainCode: new Uint8Array(32),
      epoch: 0,
      transcript: new Uint8Array(32),
    };
    const keys = ids.map((id) => ({ group, secret: deal.secretShares[id] }));
    for (const scheme of ['bip340', 'rfc9591'] as const)
      for (const signers of [keys.slice(0, 2), keys.slice(1), [keys[0], keys[2]]])
        signBoth(keys, signers, { scheme, message: rng.bytes(32), steps: [] }, rng);
    assert.ok(hexToBytes(ids[0]).length === 32);
  });
});
