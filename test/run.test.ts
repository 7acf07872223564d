/** The order `npm test` starts its files in (test/run.ts). */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../deploy/local-network.ts';
import { LONGEST_FIRST, orderedTestFiles, runFiles } from './run.ts';

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

test('a file that never ends is ended after its time and counted as failed; the others still run', {
  timeout: 60_000,
}, async () => {
  const files = ['hanging-file.ts', 'passing-file.ts'].map((f) => join(ROOT, 'test/fixtures', f));
  const ended: string[] = [];
  // This file runs as a child of npm test's run, which its environment says; the run started here is not.
  const context = process.env.NODE_TEST_CONTEXT;
  delete process.env.NODE_TEST_CONTEXT;
  try {
    // The run ends: a hung file would keep this loop, and so this test, waiting.
    for await (const e of runFiles(files, 8000))
      if (e.type === 'test:pass' || e.type === 'test:fail') ended.push(`${e.type} ${e.data.name}`);
  } finally {
    if (context !== undefined) process.env.NODE_TEST_CONTEXT = context;
  }
  assert.ok(ended.includes(`test:fail ${files[0]}`), ended.join('; '));
  assert.ok(ended.includes('test:pass passes'), ended.join('; '));
});
