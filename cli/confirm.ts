/**
 * Show before signing: a command that has the network sign something prints what this party decoded, then
 * asks on a terminal before it goes on. `--yes` answers for scripts. Without a terminal nobody can answer, so
 * an ordinary request goes on (the policy of every party still applies), but one with a warning (a fee above
 * a sane share of the amount, say) is refused unless --yes says to sign it anyway.
 */
import { createInterface } from 'node:readline/promises';
import { CliError } from './output.ts';

export type ConfirmIo = {
  /** Whether a person can answer (stdin and stderr are a terminal). */
  interactive: boolean;
  ask(question: string): Promise<string>;
};

/** The process's own terminal. */
export const terminal = (): ConfirmIo => ({
  interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
  async ask(question) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  },
});

/**
 * Goes on when the user agrees (or `yes`); throws NOT_CONFIRMED otherwise. `warnings` were printed with the
 * summary; without a terminal they stop the command unless `yes`.
 */
export async function confirmSigning(
  what: string,
  warnings: readonly string[],
  o: { yes: boolean; json: boolean; io?: ConfirmIo },
): Promise<void> {
  if (o.yes) return;
  const io = o.io ?? terminal();
  if (!io.interactive || o.json) {
    if (warnings.length === 0) return;
    throw new CliError(
      'NOT_CONFIRMED',
      `not signing ${what}: ${warnings.join('; ')}`,
      'check the request; give --yes to sign it anyway',
    );
  }
  const answer = (await io.ask(`sign ${what}? [y/N] `)).trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes')
    throw new CliError(
      'NOT_CONFIRMED',
      `not signing ${what}: the answer was not "yes"`,
      'nothing was signed',
    );
}
