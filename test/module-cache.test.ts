/** The module-loading caches of `npm test` (test/module-cache.mjs, loaded through test/run.ts). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { ROOT } from '../deploy/local-network.ts';
import { withModuleCache } from './run.ts';

const execFileAsync = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'frostnet-module-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');

/** Runs `source` as a TypeScript module, with the caches loaded first or without them; returns its output. */
async function runModule(source: string, cached: boolean): Promise<string> {
  const file = join(dir, 'probe.ts');
  writeFileSync(file, source);
  const env = { ...process.env, NODE_OPTIONS: cached ? withModuleCache(undefined) : '' };
  const { stdout } = await execFileAsync(process.execPath, [file], { env });
  return stdout;
}

const entryOf = (source: string) =>
  join(
    ROOT,
    'node_modules/.cache/strip-types',
    `${createHash('sha256').update(process.version).update('\0').update(source).digest('hex')}.js`,
  );

/** A module whose output shows its types were stripped in place: the line its error was thrown on. */
const probe = (word: string) =>
  [
    `type Word = { text: string };`,
    `const w: Word = { text: '${word}' };`,
    `interface Unused { n: number }`,
    `const line = (new Error().stack ?? '').split('\\n')[1]?.match(/probe\\.ts:(\\d+):/)?.[1];`,
    `console.log(w.text satisfies string, line);`,
  ].join('\n');

test('a module runs as Node runs it, from a cache entry that holds what Node strips', async () => {
  const source = probe(`first-${process.pid}`);
  const plain = await runModule(source, false);
  assert.equal(plain, `first-${process.pid} 4\n`, 'Node itself keeps every line');
  assert.equal(await runModule(source, true), plain, 'stripped and cached');
  assert.equal(readFileSync(entryOf(source), 'utf8'), stripTypeScriptTypes(source));
  assert.equal(await runModule(source, true), plain, 'read back from the cache');
});

test('an edited module runs as edited: its entry is named by its source, so none is stale', async () => {
  const before = probe(`before-${process.pid}`);
  const edited = probe(`edited-${process.pid}`);
  assert.equal(await runModule(before, true), `before-${process.pid} 4\n`);
  assert.equal(await runModule(edited, true), `edited-${process.pid} 4\n`);
  assert.notEqual(entryOf(before), entryOf(edited));
});

test('the caches load first and keep the options already given', () => {
  const options = withModuleCache('--trace-warnings');
  assert.match(options, /^--import=file:\/\/\S+\/test\/module-cache\.mjs --trace-warnings$/);
  assert.equal(withModuleCache(undefined), options.replace(' --trace-warnings', ''));
});
