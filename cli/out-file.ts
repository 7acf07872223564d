/**
 * `--out FILE`: a command writes its result there, never over an existing file unless `--force` says so, and
 * checks that before it asks the network for anything (so a signature is never made to be thrown away).
 */
import { access, writeFile } from 'node:fs/promises';
import type { OptionSpecs } from './command.ts';
import { UsageError } from './output.ts';

export const FORCE_OPTION = {
  force: { type: 'boolean', help: 'let --out replace an existing file' },
} as const satisfies OptionSpecs;

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** Refuses an --out that names an existing file, unless `force`. */
export async function checkOut(cmd: string, file: string | undefined, force: boolean): Promise<void> {
  if (file === undefined || force) return;
  if (await exists(file))
    throw new UsageError(cmd, `--out ${file} exists; give --force to replace it, or another file`);
}

/** Writes `text` to `file`: create-only unless `force`. */
export async function writeOut(file: string, text: string, force: boolean): Promise<void> {
  try {
    await writeFile(file, text, { flag: force ? 'w' : 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST')
      throw new UsageError('', `--out ${file} appeared meanwhile; give --force to replace it`);
    throw e;
  }
}
