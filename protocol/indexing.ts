/**
 * Checked element access for code compiled with `noUncheckedIndexedAccess`: where an index is in range by
 * construction (a loop bound, a length checked at the edge), `at` says so and throws a clear INTERNAL error if
 * that reasoning is ever wrong, instead of computing on `undefined`.
 */
import { FrostnetError } from './errors.ts';

/** `xs[i]`, which must exist; `what` names the list in the error. */
export function at<T>(xs: ArrayLike<T>, i: number, what = 'list'): T {
  const x = xs[i];
  if (x === undefined)
    throw new FrostnetError('INTERNAL', `${what} has no element ${i} (length ${xs.length})`);
  return x;
}

/** The value of `key` in `m`, which must be there; `what` names the map in the error. */
export function entry<K, V>(m: ReadonlyMap<K, V>, key: K, what = 'map'): V {
  const v = m.get(key);
  if (v === undefined) throw new FrostnetError('INTERNAL', `${what} has no entry ${String(key)}`);
  return v;
}
