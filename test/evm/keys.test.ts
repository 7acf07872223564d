/** The EVM account key: its own BIP32 branch of the group key, usable by the threshold signing as it is. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { HDKey } from '@scure/bip32';
import { EVM_BRANCH, evmKey, evmKeyPath } from '../../chains/evm/keys.ts';
import { singleKeySigner } from '../../chains/evm/signer.ts';
import { Fn, G, hasEvenY, pointToBytes, xOnly } from '../../protocol/curve.ts';
import { derivePath, type ExtendedKey, HARDENED } from '../../protocol/derive.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { groupKey } from '../../protocol/keys.ts';
import { taprootStep, tweakPoint, tweakSecretKey } from '../../protocol/tweak.ts';
import { makeKey, signWith } from '../helpers/keys.ts';

function randomRoot(): { secret: bigint; root: ExtendedKey } {
  const secret = Fn.fromBytes(schnorr.utils.randomSecretKey());
  return { secret, root: { key: G.multiply(secret), chainCode: randomBytes(32) } };
}

test('the EVM branch is "EVM" in ASCII, unhardened, followed by the account number', () => {
  assert.equal(EVM_BRANCH, Buffer.from('EVM', 'ascii').readUIntBE(0, 3));
  assert.ok(EVM_BRANCH < HARDENED);
  assert.deepEqual(evmKeyPath(7), [EVM_BRANCH, 7]);
});

test('evmKey is the BIP32 child at the EVM path (checked against @scure/bip32), normalised to even y', () => {
  for (const account of [0, 1, 2 ** 31 - 1]) {
    const { secret, root } = randomRoot();
    const { px, steps } = evmKey(root, account);
    const hd = new HDKey({ publicKey: pointToBytes(root.key), chainCode: root.chainCode });
    const expected = hd.deriveChild(EVM_BRANCH).deriveChild(account).publicKey;
    assert.ok(expected);
    assert.deepEqual(px, expected.subarray(1));
    assert.deepEqual(px, xOnly(derivePath(root, evmKeyPath(account)).key));
    const key = tweakPoint(root.key, steps);
    assert.ok(hasEvenY(key));
    assert.deepEqual(xOnly(key), px);
    // A whole secret key moved by the same steps signs for px.
    assert.deepEqual(singleKeySigner(tweakSecretKey(secret, steps)).px, px);
  }
});

test('EVM keys of one group are unlinked: per account, and from the root and its Taproot key', () => {
  const { root } = randomRoot();
  const taproot = xOnly(tweakPoint(root.key, [taprootStep(root.key)]));
  const keys = [0, 1, 2].map((a) => Buffer.from(evmKey(root, a).px).toString('hex'));
  assert.equal(
    new Set([...keys, Buffer.from(taproot).toString('hex'), Buffer.from(xOnly(root.key)).toString('hex')])
      .size,
    5,
  );
});

test('hardened or malformed account numbers are refused', () => {
  const { root } = randomRoot();
  for (const account of [HARDENED, -1, 1.5])
    assert.throws(
      () => evmKey(root, account),
      (e) => e instanceof FrostnetError && e.code === 'INVALID_INPUT',
    );
});

test('a 2-of-3 group signs a digest under its EVM key with the protocol signing and the evmKey steps', async () => {
  const shares = makeKey(2, 3);
  const [first, second] = [...shares.keys()];
  const group = shares.get(first)!.group;
  const { px, steps } = evmKey({ key: groupKey(group), chainCode: group.chainCode }, 0);
  const digest = randomBytes(32);
  const signature = signWith(shares, [first, second], { scheme: 'bip340', message: digest, steps });
  assert.ok(schnorr.verify(signature, digest, px));
});
