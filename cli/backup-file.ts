/**
 * What the backup commands and `init --from-backup` share: the backup passphrase, from a file or the environment
 * and never from the command line, and reading a backup file.
 */
import { readFile } from 'node:fs/promises';
import { CliError } from './output.ts';
import { readSecret } from './secret-input.ts';

export const BACKUP_PASSPHRASE_ENV = 'FROSTNET_BACKUP_PASSPHRASE';

export const BACKUP_PASSPHRASE_FILE_OPTION = {
  type: 'string',
  arg: 'FILE',
  help: `file holding the backup passphrase (default: $${BACKUP_PASSPHRASE_ENV})`,
} as const;

/** The backup passphrase from the file given to --`option`, or from the environment. */
export async function backupPassphrase(
  cmd: string,
  option: string,
  file: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const purpose = 'the backup passphrase is needed';
  const { text, source } = await readSecret({
    cmd,
    option,
    file,
    envVar: BACKUP_PASSPHRASE_ENV,
    env,
    purpose,
  });
  // A file's final newline is not part of the passphrase; an environment variable is taken as it is.
  const passphrase = file === undefined ? text : text.replace(/\r?\n$/, '');
  if (!passphrase)
    throw new CliError('NO_PASSPHRASE', `${source} is empty`, 'put the backup passphrase in it');
  return passphrase;
}

/** The JSON of a backup file (given to --`option`); its contents are checked where it is opened. */
export async function readBackupFile(path: string, option: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new CliError(
      'NO_FILE',
      `cannot read a backup from ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      `check ${option}`,
    );
  }
}
