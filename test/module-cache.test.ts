/** The module-loading caches of `npm test` (test/module-cache.mjs, loaded through test/run.ts). */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ROOT } from '../deploy/local-network.ts';
import { withModuleCache } from './run.ts';

const execFileAsync = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'frostnet-module-cache-'));
writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
const file = join(dir, 'probe.ts');
const url = pathToFileURL(file).href;

const sha256 = (...parts: string[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
};
/** The cache entry of `source` as the module at `url` (test/module-cache.mjs names them so). */
const entryOf = (source: string) =>
  join(ROOT, 'node_modules/.cache/strip-types', `${sha256(process.version, url, source)}.js`);
const made: string[] = [];
after(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const f of made) rmSync(f, { recursive: true, force: true });
});

/** Runs `source` as a TypeScript module, with the caches loaded first or without them; what it printed. */
async function runModule(source: string, cached: boolean): Promise<{ stdout: string; stderr: string }> {
  writeFileSync(file, source);
  made.push(entryOf(source));
  const env = { ...process.env, NODE_OPTIONS: cached ? withModuleCache(undefined) : '' };
  return execFileAsync(process.execPath, [file], { env }).catch((e) => ({
    stdout: e.stdout,
    stderr: e.stderr,
  }));
}

/** A module whose output shows its types were stripped in place: the line its error was thrown on. */
const probe = (word: string) =>
  [
    `type Word = { text: string };`,
    `const w: Word = { text: '${word}' };`,
    `interface Unused { n: number }`,
    `const line = (new Error().stack ?? '').split('\\n')[1]?.match(/probe\\.ts:(\\d+):/)?.[1];`,
    `console.log(w.text satisfies string, line);`,
  ].join('\n');

test('a module runs as Node runs it, quietly, from a cache entry of what Node strips', async () => {
  const source = probe(`first-${process.pid}`);
  const plain = await runModule(source, false);
  assert.deepEqual(plain, { stdout: `first-${process.pid} 4\n`, stderr: '' }, 'Node itself keeps every line');
  assert.deepEqual(await runModule(source, true), plain, 'stripped and cached, with no warning of its own');
  const entry = readFileSync(entryOf(source), 'utf8');
  const js = stripTypeScriptTypes(source, { sourceUrl: url });
  assert.equal(entry, `${sha256(js)}\n${js}`, 'the entry holds what Node runs, and its hash');
  assert.deepEqual(await runModule(source, true), plain, 'read back from the cache');
});

test('an edited module runs as edited: its entry is named by its source, so none is stale', async () => {
  const before = probe(`before-${process.pid}`);
  const edited = probe(`edited-${process.pid}`);
  assert.equal((await runModule(before, true)).stdout, `before-${process.pid} 4\n`);
  assert.equal((await runModule(edited, true)).stdout, `edited-${process.pid} 4\n`);
  assert.notEqual(entryOf(before), entryOf(edited));
});

test('an entry cut short is stripped again, and a cache that cannot be written is gone without', async () => {
  const cut = probe(`cut-${process.pid}`);
  mkdirSync(join(ROOT, 'node_modules/.cache/strip-types'), { recursive: true });
  writeFileSync(entryOf(cut), `${'0'.repeat(64)}\nconsole.log('a stale half')`);
  assert.deepEqual(await runModule(cut, true), { stdout: `cut-${process.pid} 4\n`, stderr: '' });
  assert.match(readFileSync(entryOf(cut), 'utf8'), new RegExp(`cut-${process.pid}`), 'and written anew');
  // A directory where the entry would go: the entry can be neither read nor written.
  const blocked = probe(`blocked-${process.pid}`);
  mkdirSync(entryOf(blocked));
  assert.deepEqual(await runModule(blocked, true), { stdout: `blocked-${process.pid} 4\n`, stderr: '' });
});

test('a syntax error names the file, as Node does', async () => {
  const bad = `const x: = 1;\n`;
  const plain = await runModule(bad, false);
  const cached = await runModule(bad, true);
  for (const r of [plain, cached]) {
    assert.match(r.stderr, /ERR_INVALID_TYPESCRIPT_SYNTAX/);
    assert.ok(r.stderr.includes(`${url}:1`), r.stderr);
  }
});

test('the caches load first and keep the options already given, once', () => {
  const options = withModuleCache('--trace-warnings');
  assert.match(options, /^--import=file:\/\/\S+\/test\/module-cache\.mjs --trace-warnings$/);
  assert.equal(withModuleCache(undefined), options.replace(' --trace-warnings', ''));
  assert.equal(withModuleCache(options), options);
});
