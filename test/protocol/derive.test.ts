/**
 * derivePath remembers the children it derived: asked again, it answers what deriving step by step gives, and
 * a different parent (key or chain code) or path never gets another's answer.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { G } from '../../protocol/curve.ts';
import { deriveChild, derivePath, type ExtendedKey } from '../../protocol/derive.ts';

const stepByStep = (root: ExtendedKey, path: number[]) => {
  let node: ExtendedKey = root;
  const adds: bigint[] = [];
  for (const i of path) {
    const c = deriveChild(node, i);
    adds.push(c.tweak);
    node = c;
  }
  return { key: node.key.toHex(true), chainCode: Buffer.from(node.chainCode).toString('hex'), adds };
};

const seen = (root: ExtendedKey, path: number[]) => {
  const d = derivePath(root, path);
  return {
    key: d.key.toHex(true),
    chainCode: Buffer.from(d.chainCode).toString('hex'),
    adds: d.steps.map((s) => s.add),
  };
};

test('a remembered child is the one derived step by step, for its own parent and path only', () => {
  const root: ExtendedKey = { key: G.multiply(12345n), chainCode: new Uint8Array(randomBytes(32)) };
  const otherCode: ExtendedKey = { key: root.key, chainCode: new Uint8Array(randomBytes(32)) };
  const otherKey: ExtendedKey = { key: G.multiply(54321n), chainCode: root.chainCode };
  for (const path of [[0], [0, 7], [7, 0], [1, 2, 3], [12, 3]])
    for (let round = 0; round < 2; round++)
      for (const r of [root, otherCode, otherKey]) assert.deepEqual(seen(r, path), stepByStep(r, path));
  assert.notDeepEqual(seen(root, [1, 2, 3]), seen(otherCode, [1, 2, 3]));
  assert.notDeepEqual(seen(root, [1, 23]), seen(root, [12, 3]));
  assert.ok(Object.isFrozen(derivePath(root, [0])) && Object.isFrozen(derivePath(root, [0]).steps));
});
