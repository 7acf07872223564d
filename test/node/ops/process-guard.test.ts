import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const NODE = new URL('../../../node_modules/.bin/node', import.meta.url).pathname;
const GUARD = join(new URL('../../../node/ops/process-guard.ts', import.meta.url).pathname);

/** Runs a tiny daemon-like process with the guard installed and `body` after it; returns its exit status. */
function run(body: string) {
  const script = `import { guardProcess } from ${JSON.stringify(GUARD)};
guardProcess();
${body}
setTimeout(() => { console.log('still running'); process.exit(0); }, 200);`;
  return spawnSync(NODE, ['--input-type=module', '-e', script], { encoding: 'utf8' });
}

test('a stray timeout or abort from a library does not end the daemon', () => {
  const r = run(`
AbortSignal.timeout(1).addEventListener('abort', (e) => { throw e.target.reason; });
Promise.reject(new DOMException('late', 'AbortError'));`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /still running/);
  assert.match(r.stderr, /ignored a stray/);
});

test('any other uncaught error still ends the process, logged', () => {
  const r = run(`setTimeout(() => { throw new TypeError('a real bug'); }, 10);`);
  assert.equal(r.status, 70);
  assert.doesNotMatch(r.stdout, /still running/);
  assert.match(r.stderr, /fatal uncaught exception.*a real bug/);
});
