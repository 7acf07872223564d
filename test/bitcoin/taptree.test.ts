/**
 * BIP341 script trees against the BIP341 wallet vectors (test/vectors/bip-0341_wallet-test-vectors.json): leaf
 * hashes, merkle roots, tweaks, output keys, control blocks; and the tweaked secret of inputs with a tree.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { p2trAddress, p2trScript } from '../../chains/bitcoin/address.ts';
import { keyAtPath } from '../../chains/bitcoin/keys.ts';
import {
  controlBlock,
  type TapTree,
  tapLeafHash,
  treeInfo,
  verifyControlBlock,
} from '../../chains/bitcoin/taptree.ts';
import {
  bytesToHex,
  G,
  hexToBytes,
  parsePoint,
  parseScalar,
  scalarToBytes,
  xOnly,
} from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { taprootStep, tweakSecretKey } from '../../protocol/tweak.ts';
import { loadVector } from '../helpers/vectors.ts';

type VectorLeaf = { id: number; script: string; leafVersion: number };
type VectorTree = VectorLeaf | [VectorTree, VectorTree];
type Vectors = {
  scriptPubKey: {
    given: { internalPubkey: string; scriptTree: VectorTree | null };
    intermediary: { leafHashes?: string[]; merkleRoot: string | null; tweak: string; tweakedPubkey: string };
    expected: { scriptPubKey: string; bip350Address: string; scriptPathControlBlocks?: string[] };
  }[];
  keyPathSpending: {
    inputSpending: {
      given: { internalPrivkey: string; merkleRoot: string | null };
      intermediary: { tweakedPrivkey: string };
    }[];
  }[];
};

const vectors = loadVector<Vectors>('bip-0341_wallet-test-vectors.json');

/** The vector's tree as a TapTree, and its leaves' ids in the tree's order. */
function toTree(t: VectorTree, ids: number[] = []): { tree: TapTree; ids: number[] } {
  if (!Array.isArray(t)) {
    ids.push(t.id);
    return { tree: { script: hexToBytes(t.script), leafVersion: t.leafVersion }, ids };
  }
  return { tree: [toTree(t[0], ids).tree, toTree(t[1], ids).tree], ids };
}

const withTree = vectors.scriptPubKey.filter((v) => v.given.scriptTree !== null);

test('scriptPubKey vectors with a script tree: leaf hashes, merkle root, tweak, output key, address', () => {
  assert.ok(withTree.length >= 6);
  for (const v of withTree) {
    const { tree, ids } = toTree(v.given.scriptTree!);
    const info = treeInfo(tree);
    assert.equal(bytesToHex(info.merkleRoot), v.intermediary.merkleRoot);
    // leafHashes are listed by leaf id.
    for (const [k, proof] of info.leaves.entries())
      assert.equal(bytesToHex(proof.leafHash), v.intermediary.leafHashes![ids[k]]);
    const root = {
      key: parsePoint(hexToBytes(`02${v.given.internalPubkey}`)),
      chainCode: new Uint8Array(32),
    };
    assert.equal(bytesToHex(scalarToBytes(taprootStep(root.key, info.merkleRoot).add)), v.intermediary.tweak);
    const key = keyAtPath(root, [], info.merkleRoot);
    assert.equal(bytesToHex(key.outputKey), v.intermediary.tweakedPubkey);
    assert.deepEqual(key.merkleRoot, info.merkleRoot);
    assert.equal(bytesToHex(p2trScript(key.outputKey)), v.expected.scriptPubKey);
    assert.equal(p2trAddress(key.outputKey, 'mainnet'), v.expected.bip350Address);
  }
});

test('control blocks of every leaf match the vectors and prove their leaf under the output key', () => {
  for (const v of withTree) {
    const { tree, ids } = toTree(v.given.scriptTree!);
    const info = treeInfo(tree);
    const internal = parsePoint(hexToBytes(`02${v.given.internalPubkey}`));
    const outputKey = hexToBytes(v.intermediary.tweakedPubkey);
    for (const [k, proof] of info.leaves.entries()) {
      const block = controlBlock(internal, info.merkleRoot, proof);
      assert.equal(bytesToHex(block), v.expected.scriptPathControlBlocks![ids[k]]);
      verifyControlBlock(outputKey, proof.leaf.script, block);
      // Another leaf's script, a flipped parity, a changed path hash, or another output key fail.
      const other = info.leaves[(k + 1) % info.leaves.length].leaf.script;
      if (info.leaves.length > 1)
        assert.throws(() => verifyControlBlock(outputKey, other, block), /does not lie under/);
      const flipped = Uint8Array.from(block);
      flipped[0] ^= 1;
      assert.throws(() => verifyControlBlock(outputKey, proof.leaf.script, flipped), /parity/);
      if (block.length > 33) {
        const bent = Uint8Array.from(block);
        bent[40] ^= 1;
        assert.throws(() => verifyControlBlock(outputKey, proof.leaf.script, bent), FrostnetError);
      }
      assert.throws(() => verifyControlBlock(xOnly(G), proof.leaf.script, block), /does not lie under/);
    }
  }
});

test('keyPathSpending vectors with a merkle root: the tweaked secret', () => {
  const inputs = vectors.keyPathSpending.flatMap((s) => s.inputSpending);
  const treed = inputs.filter((i) => i.given.merkleRoot !== null);
  assert.ok(treed.length >= 5);
  for (const input of treed) {
    const secret = parseScalar(hexToBytes(input.given.internalPrivkey));
    const step = taprootStep(G.multiply(secret), hexToBytes(input.given.merkleRoot!));
    assert.equal(
      bytesToHex(scalarToBytes(tweakSecretKey(secret, [step]))),
      input.intermediary.tweakedPrivkey,
    );
  }
});

test('malformed trees, leaf versions, merkle roots and control blocks are refused', () => {
  const leaf = { script: hexToBytes('51'), leafVersion: 0xc0 };
  assert.throws(() => tapLeafHash({ ...leaf, leafVersion: 0xc1 }), /even byte/);
  assert.throws(() => tapLeafHash({ ...leaf, leafVersion: 0x100 }), /even byte/);
  assert.throws(() => treeInfo([leaf] as unknown as TapTree), /two children/);
  let deep: TapTree = leaf;
  for (let i = 0; i < 129; i++) deep = [deep, leaf];
  assert.throws(() => treeInfo(deep), /deeper than 128/);
  assert.throws(() => taprootStep(G, new Uint8Array(31)), /merkle root: expected 32 bytes/);
  assert.throws(() => verifyControlBlock(xOnly(G), leaf.script, new Uint8Array(34)), /33 \+ 32m/);
  const noPoint = new Uint8Array(33);
  noPoint[0] = 0xc0;
  noPoint.fill(0xff, 1);
  assert.throws(() => verifyControlBlock(xOnly(G), leaf.script, noPoint), /not a point/);
});
