/**
 * The policy's state files (rolling counters, the approvals queue): JSON read whole and replaced atomically,
 * so that a crash leaves the old file or the new one, never half of one. They hold nothing secret (what a
 * party signed ends up on a chain anyway), which is why they sit beside the encrypted store rather than in it:
 * an operator can read them, and the policy needs no passphrase or store handle of its own.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { errorMessage, FrostnetError } from '../../protocol/errors.ts';

/** The parsed file, or undefined when it does not exist yet. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FrostnetError(
      'STORE_CORRUPT',
      `${file} is not valid JSON (${errorMessage(e)}); restore it from a backup or move it away`,
    );
  }
}

/**
 * Writes `value` as JSON to a temporary file in the same directory, flushes it, then renames it over `file`,
 * so a crash leaves either the old file or the new one, never half of one (config, policy state).
 */
export async function writeJsonFile(file: string, value: unknown): Promise<void> {
  const dir = dirname(resolve(file));
  await mkdir(dir, { recursive: true });
  const tmp = resolve(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  // Make the rename itself durable; not every platform can open a directory, which is fine.
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {}
}

/** Runs async jobs one after another: every read-modify-write of a state file goes through one of these. */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const next = this.tail.then(job);
    this.tail = next.catch(() => {});
    return next;
  }
}
