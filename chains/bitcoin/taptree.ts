/**
 * BIP341 script trees: leaf and branch hashes, the merkle root an output key commits to, and the control block
 * that proves one leaf under an output key. Pure hashing over a tree given in full; the shape of a tree is its
 * builder's choice (a recovery policy fixes its own in recovery.ts).
 */
import { equalBytes, hasEvenY, type Point, parsePoint, taggedHash, xOnly } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { taprootStep, tweakPoint } from '../../protocol/tweak.ts';

/** BIP342 tapscript, the only leaf version the network's own trees use. */
export const TAPSCRIPT_LEAF_VERSION = 0xc0;
/** BIP341: a control block holds at most 128 hashes, so no leaf lies deeper. */
export const MAX_TREE_DEPTH = 128;

export type TapLeaf = { readonly script: Uint8Array; readonly leafVersion: number };
/** A leaf, or a branch of two subtrees (in the order a descriptor writes them; the hash sorts them). */
export type TapTree = TapLeaf | readonly [TapTree, TapTree];

/** One leaf with the sibling hashes from it up to the root: what its control block carries. */
export type LeafProof = {
  readonly leaf: TapLeaf;
  readonly leafHash: Uint8Array;
  /** Sibling hashes, the leaf's first, the root's child last. */
  readonly path: readonly Uint8Array[];
};

/** The merkle root and every leaf's proof, leaves in the tree's order (depth first, left before right). */
export type TreeInfo = { readonly merkleRoot: Uint8Array; readonly leaves: readonly LeafProof[] };

export const isLeaf = (tree: TapTree): tree is TapLeaf => !Array.isArray(tree);

/** Bitcoin's CompactSize length prefix. */
function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >> 8);
  const out = new Uint8Array(5);
  out[0] = 0xfe;
  new DataView(out.buffer).setUint32(1, n, true);
  return out;
}

function checkLeafVersion(v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xfe || (v & 1) !== 0)
    throw new FrostnetError('INVALID_INPUT', `tap leaf version ${v}: expected an even byte`);
}

/** hash_TapLeaf(leaf version || compact size || script). */
export function tapLeafHash(leaf: TapLeaf): Uint8Array {
  checkLeafVersion(leaf.leafVersion);
  if (!(leaf.script instanceof Uint8Array))
    throw new FrostnetError('INVALID_INPUT', 'tap leaf: script must be bytes');
  return taggedHash('TapLeaf', Uint8Array.of(leaf.leafVersion), compactSize(leaf.script.length), leaf.script);
}

/** hash_TapBranch of two child hashes, smaller one first. */
export function tapBranchHash(a: Uint8Array, b: Uint8Array): Uint8Array {
  return Buffer.compare(a, b) <= 0 ? taggedHash('TapBranch', a, b) : taggedHash('TapBranch', b, a);
}

/** The merkle root of a tree and the proof of each of its leaves. */
export function treeInfo(tree: TapTree): TreeInfo {
  const walk = (node: TapTree, depth: number): { hash: Uint8Array; leaves: LeafProof[] } => {
    if (depth > MAX_TREE_DEPTH)
      throw new FrostnetError('INVALID_INPUT', `script tree deeper than ${MAX_TREE_DEPTH}`);
    if (isLeaf(node)) {
      const leafHash = tapLeafHash(node);
      return { hash: leafHash, leaves: [{ leaf: node, leafHash, path: [] }] };
    }
    if (node.length !== 2) throw new FrostnetError('INVALID_INPUT', 'a script tree branch has two children');
    const [left, right] = [walk(node[0], depth + 1), walk(node[1], depth + 1)];
    const under = (side: typeof left, sibling: Uint8Array) =>
      side.leaves.map((p) => ({ ...p, path: [...p.path, sibling] }));
    return {
      hash: tapBranchHash(left.hash, right.hash),
      leaves: [...under(left, right.hash), ...under(right, left.hash)],
    };
  };
  const { hash, leaves } = walk(tree, 0);
  return { merkleRoot: hash, leaves };
}

/** The x-only output key of `internalKey` under a tree's merkle root, and its parity (1 for odd y). */
export function outputKeyOf(internalKey: Point, merkleRoot: Uint8Array): { key: Uint8Array; parity: 0 | 1 } {
  const Q = tweakPoint(internalKey, [taprootStep(internalKey, merkleRoot)]);
  return { key: xOnly(Q), parity: hasEvenY(Q) ? 0 : 1 };
}

/** The control block of a leaf: leaf version | output parity, x-only internal key, the proof's path. */
export function controlBlock(internalKey: Point, merkleRoot: Uint8Array, proof: LeafProof): Uint8Array {
  const { parity } = outputKeyOf(internalKey, merkleRoot);
  const out = new Uint8Array(33 + 32 * proof.path.length);
  out[0] = proof.leaf.leafVersion | parity;
  out.set(xOnly(internalKey), 1);
  proof.path.forEach((h, i) => {
    out.set(h, 33 + 32 * i);
  });
  return out;
}

/**
 * BIP341 script-path verification of a leaf against the x-only output key it claims to spend: the control
 * block's path must lead from the leaf to a merkle root under which its internal key tweaks to exactly that key,
 * with that parity. Throws, saying what does not hold.
 */
export function verifyControlBlock(outputKey: Uint8Array, script: Uint8Array, block: Uint8Array): void {
  const fail = (why: string) => new FrostnetError('INVALID_INPUT', `control block: ${why}`);
  if (!(block instanceof Uint8Array) || block.length < 33 || (block.length - 33) % 32 !== 0)
    throw fail('expected 33 + 32m bytes');
  const depth = (block.length - 33) / 32;
  if (depth > MAX_TREE_DEPTH) throw fail(`more than ${MAX_TREE_DEPTH} hashes`);
  const internal = (() => {
    const compressed = new Uint8Array(33);
    compressed[0] = 0x02;
    compressed.set(block.subarray(1, 33), 1);
    try {
      return parsePoint(compressed);
    } catch {
      throw fail('its internal key is not a point');
    }
  })();
  const first = block[0]!;
  let hash = tapLeafHash({ script, leafVersion: first & 0xfe });
  for (let i = 0; i < depth; i++) hash = tapBranchHash(hash, block.subarray(33 + 32 * i, 65 + 32 * i));
  const { key, parity } = outputKeyOf(internal, hash);
  if (!equalBytes(key, outputKey)) throw fail('the leaf does not lie under this output key');
  if ((first & 1) !== parity) throw fail('its parity bit does not match the output key');
}
