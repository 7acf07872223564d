/**
 * `npm test`: every test file under test/, three at a time, the longest first.
 *
 * `node --test` starts its files in alphabetical order. The noble differential (test/protocol/frost.test.ts, some
 * 40 s of one core) then came nearly last and ran alone while the other core idled: the last 40 s of the suite.
 * Started first, the long files overlap with the many short ones (longest-processing-time-first scheduling).
 * Three at once: many files wait on daemons, round timeouts and anvil, so a third keeps both cores busy.
 *
 * Every process of the run (test files, the daemons and CLI calls they start) loads test/module-cache.mjs
 * first, through NODE_OPTIONS: it keeps each file's stripped types and compiled code on disk, so that the
 * suite's some 400 processes do not strip and compile the same files again and again.
 *
 * `node test/run.ts [file or glob ...]` runs only those files, in the same order. The output is node's own
 * reporter's: TAP when the output is not a terminal, as CI reads it.
 */
import { globSync } from 'node:fs';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';

/** The files that take longest in a full run (wall time under the load of the others), the longest first. */
export const LONGEST_FIRST: readonly string[] = [
  'test/protocol/frost.test.ts',
  'test/integration/chaos.test.ts',
  'test/integration/custody-consent.test.ts',
  'test/integration/held-requests.test.ts',
  'test/cli/evm.test.ts',
  'test/integration/reshare.test.ts',
];

/** NODE_OPTIONS with the module-loading caches loaded first (test/module-cache.mjs). */
export function withModuleCache(nodeOptions: string | undefined): string {
  const hook = `--import=${new URL('module-cache.mjs', import.meta.url).href}`;
  if (nodeOptions?.split(' ').includes(hook)) return nodeOptions;
  return [hook, nodeOptions].filter(Boolean).join(' ');
}

/** The test files that `patterns` name, the LONGEST_FIRST ones first, the others in alphabetical order. */
export function orderedTestFiles(patterns: readonly string[], cwd?: string): string[] {
  const found = [...new Set(patterns.flatMap((p) => globSync(p, { cwd })))].sort();
  const rank = (f: string) => {
    const i = LONGEST_FIRST.indexOf(f);
    return i === -1 ? LONGEST_FIRST.length : i;
  };
  return found.sort((a, b) => rank(a) - rank(b));
}

/**
 * How long one test file may run before it is ended and counted as failed. The longest take about 70 s here; a
 * file that hangs (code that loops, a promise that never settles) would otherwise hold the whole run until CI's
 * own limit ends it, with no word of which file it was. Only the file's own process is ended (SIGTERM): daemon
 * processes, anvil or Chromium it started outlive it, and its after() hooks do not run.
 */
export const FILE_TIMEOUT_MS = 10 * 60_000;

/** Runs `files` as `npm test` does: three at a time, each in its own process, each within `timeoutMs`. */
export function runFiles(files: readonly string[], timeoutMs = FILE_TIMEOUT_MS): ReturnType<typeof run> {
  process.env.NODE_OPTIONS = withModuleCache(process.env.NODE_OPTIONS);
  return run({ files: [...files], concurrency: 3, timeout: timeoutMs });
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const files = orderedTestFiles(args.length > 0 ? args : ['test/**/*.test.ts']);
  if (files.length === 0) {
    console.error(`error: no test file matches ${args.join(' ')}`);
    process.exit(2);
  }
  const stream = runFiles(files);
  stream.on('test:fail', () => {
    process.exitCode = 1;
  });
  stream.compose(process.stdout.isTTY ? new spec() : tap).pipe(process.stdout);
}
