/**
 * The notify hook: when this party's policy holds a request for its operator, the daemon runs the command its
 * config names (`notify.command`: program and arguments, no shell) with the held request, as the approvals
 * queue shows it, as one JSON document on stdin. A mail or chat script tells the approver; the daemon never
 * waits for it, and a failing hook is logged, never fatal.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../ops/log.ts';

/** How long a hook may run before it is stopped. */
export const NOTIFY_TIMEOUT_MS = 30_000;

export function notifyCommand(command: readonly string[], log: Logger): (held: unknown) => void {
  return (held) => {
    const [program, ...args] = command;
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(program, args, { stdio: ['pipe', 'ignore', 'pipe'], timeout: NOTIFY_TIMEOUT_MS });
    } catch (e) {
      log.warn('notify hook did not start', { program, reason: (e as Error).message });
      return;
    }
    let stderr = '';
    child.stderr?.on('data', (d) => {
      if (stderr.length < 2000) stderr += String(d);
    });
    child.once('error', (e) => log.warn('notify hook did not start', { program, reason: e.message }));
    child.once('close', (code, signal) => {
      if (code !== 0) log.warn('notify hook failed', { program, code, signal, stderr: stderr.slice(0, 500) });
    });
    child.stdin?.on('error', () => {}); // a hook that exits without reading
    child.stdin?.end(`${JSON.stringify(held)}\n`);
  };
}
