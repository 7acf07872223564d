/** The order `npm test` starts its files in (test/run.ts). */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../deploy/local-network.ts';
import { LONGEST_FIRST, orderedTestFiles } from './run.ts';

test('every test file runs once, the listed longest ones first, then the others alphabetically', () => {
  const files = orderedTestFiles(['test/**/*.test.ts', 'test/protocol/*.test.ts'], ROOT);
  assert.equal(new Set(files).size, files.length, 'no file twice, though two patterns name it');
  assert.deepEqual(files.slice(0, LONGEST_FIRST.length), LONGEST_FIRST);
  const rest = files.slice(LONGEST_FIRST.length);
  assert.deepEqual(rest, [...rest].sort());
  assert.ok(rest.includes('test/run.test.ts'));
  assert.ok(rest.every((f) => f.endsWith('.test.ts') && !LONGEST_FIRST.includes(f)));
});

test('each listed file exists: a renamed one fails here instead of silently running last', () => {
  for (const f of LONGEST_FIRST) assert.ok(existsSync(join(ROOT, f)), f);
});

test('a pattern that names only some files keeps the order among them', () => {
  assert.deepEqual(
    orderedTestFiles(['test/cli/*.test.ts', 'test/protocol/frost.test.ts'], ROOT).slice(0, 2),
    ['test/protocol/frost.test.ts', 'test/cli/evm.test.ts'],
  );
});
