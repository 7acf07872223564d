/** k-subsets of n members, for the recovery drill: all of them, or a random sample when there are too many. */
import { randomBytes } from '@noble/curves/utils.js';
import { at } from './indexing.ts';

/** A uniform integer in [0, max) from crypto randomness (rejection sampling over 32 bits). */
function randomBelow(max: number): number {
  if (!Number.isSafeInteger(max) || max <= 0 || max > 2 ** 32) throw new RangeError(`bad bound ${max}`);
  const limit = 2 ** 32 - (2 ** 32 % max);
  for (;;) {
    const b = randomBytes(4);
    const v = ((b[0] ?? 0) * 2 ** 24 + (b[1] ?? 0) * 2 ** 16 + (b[2] ?? 0) * 2 ** 8 + (b[3] ?? 0)) >>> 0;
    if (v < limit) return v % max;
  }
}

/** C(n, k), exactly. */
export function countCombinations(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let c = 1n;
  for (let i = 1; i <= k; i++) c = (c * BigInt(n - k + i)) / BigInt(i);
  return c;
}

/** Every k-subset of [0, n) as sorted indexes, in lexicographic order. */
export function* combinations(n: number, k: number): Generator<number[]> {
  if (k < 0 || k > n) return;
  const idx = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    yield [...idx];
    let i = k - 1;
    while (i >= 0 && idx[i] === n - k + i) i--;
    if (i < 0) return;
    idx[i] = at(idx, i) + 1;
    for (let j = i + 1; j < k; j++) idx[j] = at(idx, j - 1) + 1;
  }
}

/**
 * `count` distinct k-subsets of [0, n), sorted indexes each, in lexicographic order; all of them when there
 * are no more than `count`. `pick(max)` returns an integer in [0, max) (crypto randomness by default).
 */
export function sampleCombinations(
  n: number,
  k: number,
  count: number,
  pick: (max: number) => number = randomBelow,
): number[][] {
  if (BigInt(count) >= countCombinations(n, k)) return [...combinations(n, k)];
  const chosen = new Map<string, number[]>();
  while (chosen.size < count) {
    // A partial Fisher-Yates shuffle: the first k of a random permutation.
    const pool = Array.from({ length: n }, (_, i) => i);
    for (let i = 0; i < k; i++) {
      const j = i + pick(n - i);
      [pool[i], pool[j]] = [at(pool, j), at(pool, i)];
    }
    const subset = pool.slice(0, k).sort((a, b) => a - b);
    chosen.set(subset.join(','), subset);
  }
  return [...chosen.values()].sort((a, b) => {
    for (let i = 0; i < k; i++) if (a[i] !== b[i]) return at(a, i) - at(b, i);
    return 0;
  });
}
