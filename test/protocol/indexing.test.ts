import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrostnetError } from '../../protocol/errors.ts';
import { at, entry } from '../../protocol/indexing.ts';

test('at returns an element that exists, including falsy ones', () => {
  assert.equal(at([0n, 1n], 0), 0n);
  assert.equal(at(new Uint8Array([0, 7]), 1), 7);
});

test('at names the list and the index it does not have', () => {
  assert.throws(
    () => at([1, 2], 2, 'dealer identifiers'),
    (e: unknown) =>
      e instanceof FrostnetError &&
      e.code === 'INTERNAL' &&
      e.message === 'dealer identifiers has no element 2 (length 2)',
  );
  assert.throws(() => at([1], -1), FrostnetError);
});

test('entry returns a present value and names a missing key', () => {
  const m = new Map([['alice', 0]]);
  assert.equal(entry(m, 'alice'), 0);
  assert.throws(
    () => entry(m, 'bob', 'round 1'),
    (e: unknown) => e instanceof FrostnetError && e.message === 'round 1 has no entry bob',
  );
});
