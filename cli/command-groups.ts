/**
 * The command groups of `frostnet`: one module of cli/commands/ each, with the first words of its commands'
 * names. A call loads only the groups its first word names (`frostnet peers add` loads peers.ts, not the EVM
 * commands and what they import); the general help and an unknown word load them all.
 *
 * Adding a command group: write cli/commands/<group>.ts exporting `commands: readonly Command[]` (each made with
 * defineCommand from cli/command.ts, named "<group> <verb>") and add ONE line below, e.g.
 *   { words: ['btc'], load: () => import('./commands/btc.ts') },
 * test/cli/command-groups.test.ts checks that every command is found by its first word.
 */
import type { Command } from './command.ts';

export type CommandGroup = {
  /** The first word of each of its commands' names. */
  readonly words: readonly string[];
  readonly load: () => Promise<{ readonly commands: readonly Command[] }>;
};

/** In the order the general help lists them. */
export const GROUPS: readonly CommandGroup[] = [
  { words: ['init', 'start', 'status'], load: () => import('./commands/party.ts') },
  { words: ['peers'], load: () => import('./commands/peers.ts') },
  { words: ['keygen', 'keys', 'refresh'], load: () => import('./commands/keys.ts') },
  { words: ['sign'], load: () => import('./commands/sign.ts') },
  { words: ['drill'], load: () => import('./commands/drill.ts') },
  { words: ['btc'], load: () => import('./commands/btc.ts') },
  { words: ['btc'], load: () => import('./commands/btc-recovery.ts') },
  { words: ['evm'], load: () => import('./commands/evm.ts') },
  { words: ['approvals'], load: () => import('./commands/approvals.ts') },
  { words: ['backup', 'keys', 'repair', 'reshare', 'vouch'], load: () => import('./commands/admin.ts') },
  { words: ['requests'], load: () => import('./commands/requests.ts') },
  { words: ['ui'], load: () => import('./commands/ui.ts') },
];

/** Every command, in help order. */
export const allCommands = (): Promise<Command[]> => load(GROUPS);

/** The commands whose name begins with `word`, from the groups that list it; every command if none does. */
export function commandsStartingWith(word: string): Promise<Command[]> {
  const groups = GROUPS.filter((g) => g.words.includes(word));
  return load(groups.length > 0 ? groups : GROUPS);
}

async function load(groups: readonly CommandGroup[]): Promise<Command[]> {
  return (await Promise.all(groups.map(async (g) => (await g.load()).commands))).flat();
}
