/**
 * Driving `frostnet` as a user would: each call is its own process, with an environment free of any
 * FROSTNET_* variable from outside the test, so that only what a test sets is seen.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { CLI, ROOT } from '../../deploy/local-network.ts';

export const NODE = join(ROOT, 'node_modules/.bin/node');

export type Run = { code: number | null; stdout: string; stderr: string };

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FROSTNET_')));
  return { ...env, ...extra };
}

export { lightStore } from '../helpers/light-store.ts';

/** Runs a node script to its end and collects its output. */
export function runScript(
  script: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(NODE, [script, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += String(d)));
    proc.stderr.on('data', (d) => (stderr += String(d)));
    proc.once('error', reject);
    proc.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export const frostnet = (args: readonly string[], env: Record<string, string> = {}) =>
  runScript(CLI, args, env);

/**
 * Runs the CLI, expects exit code 0, and parses its --json output. The result is left untyped on purpose:
 * the tests check its shape field by field, as a script reading the output would.
 */
// biome-ignore lint/suspicious/noExplicitAny: JSON from another process, checked by the assertions
export async function frostnetJson<T = any>(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<T> {
  const r = await frostnet([...args, '--json'], env);
  assert.equal(r.code, 0, `frostnet ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** The failure contract: the exit code, and exactly one stderr line "error: <what> — <what to do>". */
export function assertOneLineError(r: Run, code: number, what: RegExp): void {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  assert.equal(lines.length, 1, `one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: .+ — .+$/);
  assert.match(lines[0], what);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

/** Resolves with the first line of the process's stdout that matches, or rejects if it exits first. */
export function waitForLine(proc: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (d: Buffer) => {
      buffer += String(d);
      const line = buffer.split('\n').find((l) => pattern.test(l));
      if (line === undefined) return;
      proc.stdout?.off('data', onData);
      proc.off('exit', onExit);
      resolve(line);
    };
    const onExit = (code: number | null) =>
      reject(new Error(`exited with ${code} before printing ${pattern}:\n${buffer}`));
    proc.stdout?.on('data', onData);
    proc.once('exit', onExit);
  });
}
