/**
 * Starts a throwaway anvil chain on 127.0.0.1 for a test. The platform binary of @foundry-rs/anvil is spawned
 * directly rather than through its node_modules/.bin/anvil wrapper, so that stop() signals anvil itself and
 * nothing is left running behind a wrapper process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export type Anvil = { readonly rpcUrl: string; stop(): Promise<void> };

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

function anvilCommand(): { command: string; args: string[] } {
  const os = process.platform;
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const exe = os === 'win32' ? '.exe' : '';
  try {
    const binary = createRequire(import.meta.url).resolve(`@foundry-rs/anvil-${os}-${arch}/bin/anvil${exe}`);
    if (existsSync(binary)) return { command: binary, args: [] };
  } catch {
    // No platform package: fall back to the wrapper, run by this Node.
  }
  const wrapper = fileURLToPath(new URL('../../node_modules/.bin/anvil', import.meta.url));
  return { command: process.execPath, args: [wrapper] };
}

async function answers(rpcUrl: string): Promise<boolean> {
  try {
    const res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
    });
    return res.ok && typeof ((await res.json()) as { result?: unknown }).result === 'string';
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function kill(child: ChildProcess): Promise<void> {
  const done = exited(child);
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const hard = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, STOP_TIMEOUT_MS);
  });
  await Promise.race([done, hard]);
  clearTimeout(timer);
  await done;
}

/**
 * Spawns anvil on 127.0.0.1 with a port the OS picks, resolves once it answers JSON-RPC. `extraArgs` go to
 * anvil as they are (say, ['--hardfork', 'cancun']).
 */
export async function startAnvil(extraArgs: readonly string[] = []): Promise<Anvil> {
  const { command, args } = anvilCommand();
  const child = spawn(command, [...args, ...extraArgs, '--host', '127.0.0.1', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Output is kept only until anvil listens, for the error message should it fail to.
  let output = '';
  let listening = false;
  const port = new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        // Keep draining (anvil logs every call) without holding on to it.
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        listening = true;
        output = '';
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => {
      if (!listening) output += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`anvil exited (${code ?? signal}) before listening:\n${output}`)),
    );
  });
  // Once the race is decided, a later exit (stop() included) must not surface as an unhandled rejection.
  port.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`anvil did not start within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS,
    );
  });
  try {
    const rpcUrl = `http://127.0.0.1:${await Promise.race([port, timeout])}`;
    while (!(await Promise.race([answers(rpcUrl), timeout]))) await new Promise((r) => setTimeout(r, 50));
    return { rpcUrl, stop: () => kill(child) };
  } catch (e) {
    await kill(child);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
