/**
 * Secrets the user hands the CLI: from a file named by an option, or from an environment variable, never as a
 * command-line argument (which other users of the machine can read in the process list).
 */
import { readFile } from 'node:fs/promises';
import { CliError, UsageError } from './output.ts';

export type SecretSource = {
  /** The command, for the usage error. */
  cmd: string;
  /** The option naming the file, without dashes. */
  option: string;
  file: string | undefined;
  envVar: string;
  env: NodeJS.ProcessEnv;
  /** What the secret is for, opening the usage error when none is given. */
  purpose: string;
};

/** The secret's text and where it came from (the file, or `$VAR`), for messages that must not show it. */
export async function readSecret(s: SecretSource): Promise<{ text: string; source: string }> {
  if (s.file !== undefined) {
    try {
      return { text: await readFile(s.file, 'utf8'), source: s.file };
    } catch (e) {
      throw new CliError(
        'NO_FILE',
        `cannot read ${s.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        `check --${s.option}`,
      );
    }
  }
  const text = s.env[s.envVar];
  if (!text)
    throw new UsageError(
      s.cmd,
      `${s.purpose}: give --${s.option} FILE or set ${s.envVar} (never the secret itself as an argument)`,
    );
  return { text, source: `$${s.envVar}` };
}
