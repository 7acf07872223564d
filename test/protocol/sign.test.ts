import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { bytesToHex, xOnly } from '../../protocol/curve.ts';
import { derivePath } from '../../protocol/derive.ts';
import { groupKey } from '../../protocol/keys.ts';
import {
  aggregateSignature,
  NonceStore,
  type SigningTarget,
  signingKey,
  signShare,
  verifyBip340,
  verifySignature,
} from '../../protocol/sign.ts';
import { taprootStep, tweakPublic } from '../../protocol/tweak.ts';
import { makeKey, signWith, subsets } from '../helpers/keys.ts';

const message = new TextEncoder().encode('frostnet signing test');

describe('every t-subset signs, t-1 cannot', () => {
  for (const [t, n] of [
    [2, 3],
    [3, 5],
    [5, 9],
  ]) {
    test(`${t}-of-${n}`, () => {
      const keys = makeKey(t, n);
      const members = [...keys.keys()];
      const group = keys.get(members[0])!.group;
      let count = 0;
      for (const signers of subsets(members, t)) {
        const scheme = count % 4 === 3 ? 'rfc9591' : 'bip340';
        const target: SigningTarget = { scheme, message, steps: [] };
        const sig = signWith(keys, signers, target);
        assert.ok(verifySignature(scheme, groupKey(group), message, sig), `${signers.join(',')} (${scheme})`);
        if (scheme === 'bip340') assert.ok(verifyBip340(sig, message, xOnly(groupKey(group))));
        count++;
      }
      assert.equal(count, binomial(n, t));
      // t-1 signers: the API refuses the package, and the algebra fails even when forced through.
      const few = members.slice(0, t - 1);
      assert.throws(() => signWith(keys, few, { scheme: 'bip340', message, steps: [] }), {
        code: 'INVALID_INPUT',
      });
      if (t - 1 >= 2) assert.equal(forcedSignature(keys, few), false);
    });
  }
});

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - i + 1)) / i;
  return r;
}

/** Bypasses every check by lying to noble that the threshold is t-1: the signature still does not verify. */
function forcedSignature(keys: ReturnType<typeof makeKey>, signers: string[]): boolean {
  const group = keys.get(signers[0])!.group;
  const pub = { ...group.public, signers: { min: signers.length, max: group.members.length } };
  const gen = signers.map((s) => secp256k1_FROST.commit(keys.get(s)!.secret));
  const commitments = gen.map((g) => g.commitments);
  const shares: Record<string, Uint8Array> = {};
  signers.forEach((s, i) => {
    const k = keys.get(s)!;
    shares[k.secret.identifier] = secp256k1_FROST.signShare(
      k.secret,
      pub,
      gen[i].nonces,
      commitments,
      message,
    );
  });
  try {
    const sig = secp256k1_FROST.aggregate(pub, commitments, message, shares);
    return secp256k1_FROST.verify(sig, message, group.public.commitments[0]);
  } catch {
    return false;
  }
}

describe('signing under tweaked keys', () => {
  const keys = makeKey(3, 5);
  const members = [...keys.keys()];
  const group = keys.get(members[0])!.group;
  const P = groupKey(group);

  test('Taproot output key (BIP341, empty script tree)', () => {
    const steps = [taprootStep(P)];
    const sig = signWith(keys, members.slice(1, 4), { scheme: 'bip340', message, steps });
    assert.ok(verifyBip340(sig, message, xOnly(signingKey(group, steps))));
    assert.ok(!verifyBip340(sig, message, xOnly(P)), 'must not verify under the internal key');
  });

  test('BIP32 child then Taproot, for both parities of the intermediate keys', () => {
    // Children until both parities have signed (the key is random: six children all of one parity is 1 in 32).
    const seen = new Set<number>();
    for (let i = 0; i < 64 && (i < 6 || seen.size < 2); i++) {
      const child = derivePath({ key: P, chainCode: group.chainCode }, [0, i]);
      const steps = [...child.steps, taprootStep(child.key)];
      const sig = signWith(keys, members.slice(0, 3), { scheme: 'bip340', message, steps });
      assert.ok(verifyBip340(sig, message, xOnly(signingKey(group, steps))));
      seen.add(child.key.toBytes(true)[0]);
    }
    assert.equal(seen.size, 2, 'the sample covers odd and even intermediate keys');
  });

  test('rfc9591 under a derived key', () => {
    const child = derivePath({ key: P, chainCode: group.chainCode }, [7]);
    const sig = signWith(keys, members.slice(2), { scheme: 'rfc9591', message, steps: child.steps });
    assert.ok(verifySignature('rfc9591', child.key, message, sig));
  });
});

describe('a signer releases a share only for what it checked itself', () => {
  const keys = makeKey(2, 3);
  const [a, b] = ['party-1', 'party-2'];
  const group = keys.get(a)!.group;
  const target: SigningTarget = { scheme: 'bip340', message, steps: [] };
  const setup = () => {
    const stores = { [a]: new NonceStore(), [b]: new NonceStore() };
    const commitments = [stores[a].commit(keys.get(a)!), stores[b].commit(keys.get(b)!)];
    return { stores, commitments, pkg: { epoch: 0, scheme: 'bip340' as const, message, commitments } };
  };

  test('a package for another message, scheme or epoch is refused, and the nonce survives', () => {
    const { stores, pkg } = setup();
    const cases = [
      [{ ...pkg, message: randomBytes(32) }, 'MESSAGE_MISMATCH'],
      [{ ...pkg, scheme: 'rfc9591' as const }, 'MESSAGE_MISMATCH'],
      [{ ...pkg, epoch: 1 }, 'EPOCH_MISMATCH'],
    ] as const;
    for (const [bad, code] of cases)
      assert.throws(() => signShare(keys.get(a)!, stores[a], bad, target), { code });
    assert.equal(stores[a].size, 1, 'a refused package must not burn the nonce');
    assert.ok(signShare(keys.get(a)!, stores[a], pkg, target).length === 32);
  });

  test('an altered own commitment is refused', () => {
    const { stores, commitments, pkg } = setup();
    const forged = { ...commitments[0], hiding: commitments[1].hiding };
    assert.throws(
      () => signShare(keys.get(a)!, stores[a], { ...pkg, commitments: [forged, commitments[1]] }, target),
      {
        code: 'NONCE_REUSED',
      },
    );
  });

  test('a package without this party is refused', () => {
    const { stores, pkg } = setup();
    const c = keys.get('party-3')!;
    const other = new NonceStore().commit(c);
    const pkg2 = { ...pkg, commitments: [pkg.commitments[1], other] };
    assert.throws(() => signShare(keys.get(a)!, stores[a], pkg2, target), { code: 'COMMITMENT_MISMATCH' });
  });

  test('the same nonce never signs twice: a second message, or the same package again', () => {
    const { stores, pkg } = setup();
    signShare(keys.get(a)!, stores[a], pkg, target);
    const other = randomBytes(32);
    assert.throws(
      () => signShare(keys.get(a)!, stores[a], { ...pkg, message: other }, { ...target, message: other }),
      {
        code: 'NONCE_REUSED',
      },
    );
    assert.throws(() => signShare(keys.get(a)!, stores[a], pkg, target), { code: 'NONCE_REUSED' });
  });

  test('the coordinator names exactly the party with a bad share', () => {
    const { stores, commitments, pkg } = setup();
    const good = signShare(keys.get(a)!, stores[a], pkg, target);
    const real = signShare(keys.get(b)!, stores[b], pkg, target);
    for (const bad of [
      randomBytes(32),
      real.map((x, i) => (i === 0 ? x ^ 0x80 : x)),
      new Uint8Array(31),
      new Uint8Array(32).fill(0xff),
    ]) {
      const shares = new Map([
        [a, good],
        [b, bad],
      ]);
      assert.throws(() => aggregateSignature(group, target, commitments, shares), {
        code: 'INVALID_SIGNATURE_SHARE',
        culprits: [b],
      });
    }
    const shares = new Map([
      [a, good],
      [b, real],
    ]);
    assert.equal(aggregateSignature(group, target, commitments, shares).length, 64);
  });

  test('malformed packages are typed errors', () => {
    const { stores, commitments, pkg } = setup();
    const bads = [
      { ...pkg, commitments: [commitments[0]] },
      { ...pkg, commitments: [commitments[0], commitments[0]] },
      { ...pkg, commitments: [commitments[0], { ...commitments[1], identifier: 'ff'.repeat(32) }] },
      { ...pkg, commitments: [commitments[0], { ...commitments[1], hiding: new Uint8Array(5) }] },
      { ...pkg, message: 'text' as never },
    ];
    for (const bad of bads)
      assert.throws(() => signShare(keys.get(a)!, stores[a], bad, target), { name: 'FrostnetError' });
  });

  test('tweaks move verifying shares with the key', () => {
    const steps = [taprootStep(groupKey(group))];
    const pub = tweakPublic(group.public, steps);
    assert.equal(bytesToHex(pub.commitments[0]), bytesToHex(signingKey(group, steps).toBytes(true)));
  });
});
