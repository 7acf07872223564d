/**
 * Recovery policies: Taproot script leaves "after N blocks without moving, key R can spend", the miniscript
 * and_v(v:pk(R),older(N)), that a key's addresses commit to besides the group's key path. R is an external
 * extended key (a hardware wallet, another group) derived alongside the group's own keys (R/<0;1>/*), or one
 * fixed x-only key. The policy is what every member agrees to and stores with the key; the tree, its merkle
 * root and so every output key follow from it alone, never from a request.
 *
 * Stored as JSON: {"version":1,"leaves":[{"key":"[d34db33f/48h/0h/0h/2h]xpub...","older":52560}]}.
 */
import { bytesToHex, equalBytes, hexToBytes, parsePoint, xOnly } from '../../protocol/curve.ts';
import { derivePath } from '../../protocol/derive.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { exactFields } from '../fields.ts';
import type { NetworkName } from './network.ts';
import { type LeafProof, TAPSCRIPT_LEAF_VERSION, type TapLeaf, type TapTree, treeInfo } from './taptree.ts';
import {
  checkOrigin,
  type ExtendedPublicKey,
  formatKeyOrigin,
  type KeyOrigin,
  keyFingerprint,
  parseKeyOrigin,
  parseXpub,
  serializeXpub,
} from './xpub.ts';

export const RECOVERY_POLICY_VERSION = 1;
/** More leaves than this is a policy nobody can review; the tree could hold far more. */
export const MAX_RECOVERY_LEAVES = 8;
/** BIP68: a relative lock-time in blocks is a 16-bit count (the time-based kind is not used). */
export const MAX_RECOVERY_BLOCKS = 0xffff;

/** The recovery key of a leaf: an extended key derived per address, or one fixed x-only key. */
export type RecoveryKey =
  | { readonly kind: 'xpub'; readonly xpub: ExtendedPublicKey; readonly origin: KeyOrigin }
  | { readonly kind: 'xonly'; readonly key: Uint8Array; readonly origin?: KeyOrigin };

/** and_v(v:pk(key),older(older)): `key` can spend once the coin has not moved for `older` blocks. */
export type RecoveryLeaf = { readonly key: RecoveryKey; readonly older: number };

/** The leaves in the order the tree and the descriptor hold them. */
export type RecoveryPolicy = { readonly leaves: readonly RecoveryLeaf[] };

export type RecoveryPolicyJson = {
  version: typeof RECOVERY_POLICY_VERSION;
  leaves: { key: string; older: number }[];
};

const invalid = (why: string) => new FrostnetError('INVALID_INPUT', `recovery policy: ${why}`);

/**
 * Parses a recovery key as a descriptor writes it: "[fingerprint/path]xpub" (an optional "/<0;1>/*" after it
 * is the derivation every recovery key gets anyway), a bare depth-0 xpub, or a 64-hex x-only key with an
 * optional origin. An xpub below depth 0 needs its origin: a hardware wallet signs only for derivations from
 * its own master fingerprint.
 */
export function parseRecoveryKey(text: string, what = 'recovery key'): RecoveryKey {
  if (typeof text !== 'string') throw invalid(`${what} is not a string`);
  const m = /^(?:\[([^\]]*)\])?([^[\]/]+)(\/.*)?$/.exec(text.trim());
  if (!m) throw invalid(`${what} "${text}" is not a key expression ([fingerprint/path]xpub)`);
  const [, originText, body, suffix] = m;
  const origin = originText === undefined ? undefined : parseKeyOrigin(originText, `${what} origin`);
  if (/^[0-9a-fA-F]{64}$/.test(body!)) {
    if (suffix !== undefined) throw invalid(`${what}: a fixed x-only key has no derivation`);
    const key = hexToBytes(body!.toLowerCase());
    parsePoint(Uint8Array.from([0x02, ...key]), `${what}: x-only key`);
    return origin ? { kind: 'xonly', key, origin } : { kind: 'xonly', key };
  }
  if (/^[0-9a-fA-F]{66}$/.test(body!))
    throw invalid(`${what}: give the 32-byte x-only key (the 64 hex digits after the 02 or 03)`);
  if (suffix !== undefined && suffix !== '/<0;1>/*')
    throw invalid(
      `${what}: a recovery key derives as KEY/<0;1>/*, like the group's own; give it without "${suffix}"`,
    );
  const xpub = parseXpub(body!, what);
  if (!origin && xpub.depth > 0)
    throw invalid(
      `${what} is at depth ${xpub.depth}: give it with its origin, [fingerprint/path]xpub, as its wallet exports it`,
    );
  const full = origin ?? { fingerprint: keyFingerprint(xpub.key), path: [] };
  checkOrigin(xpub, full, what);
  return { kind: 'xpub', xpub, origin: full };
}

/** The key expression of a recovery key, xpub or tpub for `network`, without its derivation suffix. */
export function formatRecoveryKey(key: RecoveryKey, network: NetworkName): string {
  if (key.kind === 'xonly') return `${key.origin ? formatKeyOrigin(key.origin) : ''}${bytesToHex(key.key)}`;
  return `${formatKeyOrigin(key.origin)}${serializeXpub(key.xpub, network)}`;
}

function parseOlder(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_RECOVERY_BLOCKS)
    throw invalid(
      `${what} must be a number of blocks from 1 to ${MAX_RECOVERY_BLOCKS} (BIP68; about 455 days at most)`,
    );
  return v;
}

const fields = (v: unknown, keys: readonly string[], what: string) => exactFields(v, keys, what, invalid);

/** Validates a stored or proposed policy (the JSON form) and parses every key in it. */
export function parseRecoveryPolicy(json: unknown): RecoveryPolicy {
  const top = fields(json, ['version', 'leaves'], 'the policy');
  if (top.version !== RECOVERY_POLICY_VERSION)
    throw invalid(`version ${String(top.version)} is not supported (expected ${RECOVERY_POLICY_VERSION})`);
  const list = top.leaves;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_RECOVERY_LEAVES)
    throw invalid(`leaves must be a list of 1 to ${MAX_RECOVERY_LEAVES}`);
  const leaves = list.map((item, i): RecoveryLeaf => {
    const leaf = fields(item, ['key', 'older'], `leaf ${i}`);
    return {
      key: parseRecoveryKey(leaf.key as string, `leaf ${i} key`),
      older: parseOlder(leaf.older, `leaf ${i} older`),
    };
  });
  const seen = leaves.map((l) => `${formatRecoveryKey(l.key, 'mainnet')} ${l.older}`);
  const twice = seen.findIndex((s, i) => seen.indexOf(s) !== i);
  if (twice >= 0) throw invalid(`leaf ${twice} repeats leaf ${seen.indexOf(seen[twice]!)}`);
  return { leaves };
}

/** The JSON form to store with a key; parseRecoveryPolicy reads it back to the same policy. */
export function recoveryPolicyJson(policy: RecoveryPolicy): RecoveryPolicyJson {
  return {
    version: RECOVERY_POLICY_VERSION,
    leaves: policy.leaves.map((l) => ({ key: formatRecoveryKey(l.key, 'mainnet'), older: l.older })),
  };
}

const OP_CHECKSIGVERIFY = 0xad;
const OP_CHECKSEQUENCEVERIFY = 0xb2;
/** OP_1 is 0x51 ... OP_16 is 0x60. */
const OP_RESERVED = 0x50;

/**
 * The minimal push of a positive script number (BIP62): OP_1 .. OP_16 for 1 to 16, else its little-endian
 * bytes with a zero byte added when the top bit is set (it would be the sign), after a length byte. Written
 * here for the one number a leaf holds, so that the daemon need not load a Bitcoin library to agree on a tree.
 */
function pushNumber(n: number): number[] {
  if (n >= 1 && n <= 16) return [OP_RESERVED + n];
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.push(v % 256);
  if ((bytes[bytes.length - 1]! & 0x80) !== 0) bytes.push(0);
  return [bytes.length, ...bytes];
}

/** <R> OP_CHECKSIGVERIFY <N> OP_CHECKSEQUENCEVERIFY, the tapscript of and_v(v:pk(R),older(N)). */
export function recoveryLeafScript(key: Uint8Array, older: number): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== 32) throw invalid('a leaf key is a 32-byte x-only key');
  parseOlder(older, 'older');
  return Uint8Array.from([32, ...key, OP_CHECKSIGVERIFY, ...pushNumber(older), OP_CHECKSEQUENCEVERIFY]);
}

/** The number a minimal push of 1 to MAX_RECOVERY_BLOCKS holds, or undefined for any other push. */
function readNumber(push: Uint8Array): number | undefined {
  if (push.length === 1) {
    const op = push[0]!;
    return op > OP_RESERVED && op <= OP_RESERVED + 16 ? op - OP_RESERVED : undefined;
  }
  const len = push[0]!;
  if (len < 1 || len > 3 || push.length !== len + 1) return undefined;
  let n = 0;
  for (let i = len; i >= 1; i--) n = n * 256 + push[i]!;
  return n;
}

/** The key and block count of a recovery leaf script, or undefined for any other script. */
export function parseRecoveryLeafScript(
  leafScript: Uint8Array,
): { key: Uint8Array; older: number } | undefined {
  const n = leafScript.length;
  if (n < 36 || leafScript[0] !== 32 || leafScript[33] !== OP_CHECKSIGVERIFY) return undefined;
  if (leafScript[n - 1] !== OP_CHECKSEQUENCEVERIFY) return undefined;
  const key = leafScript.slice(1, 33);
  const older = readNumber(leafScript.subarray(34, n - 1));
  if (older === undefined) return undefined;
  try {
    // The same bytes again, so that only the minimal encoding this module writes is recognised.
    if (!equalBytes(recoveryLeafScript(key, older), leafScript)) return undefined;
  } catch {
    return undefined;
  }
  return { key, older };
}

/** A balanced binary tree over `items`, in order: the first half left, the rest right. */
export type Tree<T> = T | readonly [Tree<T>, Tree<T>];
export function balancedTree<T>(items: readonly T[]): Tree<T> {
  if (items.length === 0) throw invalid('no leaves');
  if (items.length === 1) return items[0]!;
  const mid = Math.ceil(items.length / 2);
  return [balancedTree(items.slice(0, mid)), balancedTree(items.slice(mid))];
}

/** A policy leaf at one address: its recovery key there, its script, and its place in the tree. */
export type RecoveryLeafAt = {
  readonly leaf: RecoveryLeaf;
  /** The x-only recovery key this address's leaf names. */
  readonly key: Uint8Array;
  /** Where a wallet finds that key: its master fingerprint and full path; undefined for a bare fixed key. */
  readonly derivation?: KeyOrigin;
  readonly tapLeaf: TapLeaf;
  readonly proof: LeafProof;
};

/** The script tree of one address under a policy. */
export type RecoveryTreeAt = {
  readonly tree: TapTree;
  readonly merkleRoot: Uint8Array;
  /** In the policy's order, which is also the tree's. */
  readonly leaves: readonly RecoveryLeafAt[];
};

function keyAt(key: RecoveryKey, branch: number, index: number): { key: Uint8Array; derivation?: KeyOrigin } {
  if (key.kind === 'xonly') return { key: key.key, ...(key.origin && { derivation: key.origin }) };
  const child = derivePath(key.xpub, [branch, index]);
  return {
    key: xOnly(child.key),
    derivation: { fingerprint: key.origin.fingerprint, path: [...key.origin.path, branch, index] },
  };
}

/** The tree of address [branch, index]: each leaf's key derived at R/branch/index (fixed keys stay as they are). */
export function recoveryTreeAt(policy: RecoveryPolicy, branch: number, index: number): RecoveryTreeAt {
  const parts = policy.leaves.map((leaf) => {
    const at = keyAt(leaf.key, branch, index);
    const tapLeaf: TapLeaf = {
      script: recoveryLeafScript(at.key, leaf.older),
      leafVersion: TAPSCRIPT_LEAF_VERSION,
    };
    return { leaf, ...at, tapLeaf };
  });
  const tree = balancedTree(parts.map((p) => p.tapLeaf));
  const info = treeInfo(tree);
  return {
    tree,
    merkleRoot: info.merkleRoot,
    leaves: parts.map((p, k) => ({ ...p, proof: info.leaves[k]! })),
  };
}

/** The shortest lock of a policy: when its first leaf opens. */
export const earliestOlder = (policy: RecoveryPolicy): number =>
  Math.min(...policy.leaves.map((l) => l.older));

/** About how long N blocks take (10 minutes each), for people: "about 365 days". */
export function blocksDuration(blocks: number): string {
  const days = blocks / 144;
  return days >= 2 ? `about ${Math.round(days)} days` : `about ${Math.round((blocks * 10) / 60)} hours`;
}

/** Each leaf for people: "after 52560 blocks (about 365 days) without moving, [d34db33f/48h/0h/0h]xpub... can spend". */
export function describeRecovery(policy: RecoveryPolicy, network: NetworkName): string[] {
  return policy.leaves.map(
    (l) =>
      `after ${l.older} blocks (${blocksDuration(l.older)}) without moving, ${formatRecoveryKey(l.key, network)} can spend`,
  );
}
