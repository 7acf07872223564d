#!/usr/bin/env node
/**
 * The `frostnet` command: finds the command named by the first one or two words, parses its options and runs
 * it. The commands live in cli/commands/, one module per group (cli/command-groups.ts lists them, and a call
 * loads only the groups of its first word); they talk to a party daemon's control API (cli/client.ts) and never
 * touch shares or the store.
 */
import { type Command, commandHelp, executeCommand } from './command.ts';
import { allCommands, commandsStartingWith } from './command-groups.ts';
import { EXIT_OK, EXIT_USAGE, Output, UsageError } from './output.ts';

const ENVIRONMENT = [
  'FROSTNET_DATA_DIR     default --data-dir: the party the commands talk to',
  'FROSTNET_API          default --api: the control API URL (with FROSTNET_TOKEN)',
  "FROSTNET_TOKEN        the API token (default: the command's token in <data dir>/tokens/)",
  'FROSTNET_PASSPHRASE   the store passphrase, unless the config names another variable or a file',
  'FROSTNET_EVM_FACTORY  default --factory: the account factory, to show EVM account addresses',
  'FROSTNET_RELAYER_KEY  the relayer private key (hex) that pays gas for evm deploy/send',
  'FROSTNET_BACKUP_PASSPHRASE  the passphrase of backup files (backup export/import), unless --passphrase-file',
  'FROSTNET_DEBUG=1      print stack traces with errors (for bug reports)',
];

function generalHelp(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'usage: frostnet <command> [options]',
    '',
    'Frostnet runs threshold keys across party daemons. These commands create and run a party and talk to its',
    "daemon's control API.",
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'environment:',
    ...ENVIRONMENT.map((l) => `  ${l}`),
    '',
    'Run "frostnet <command> --help" for its options. Exit codes: 0 ok, 1 failure, 2 usage error, 3 still waiting (approvals, settling).',
  ].join('\n');
}

/** The help of a group: its commands with one line each. */
function groupHelp(commands: readonly Command[], group: string): string | undefined {
  const cmds = commands.filter((c) => c.name.startsWith(`${group} `) || c.name === group);
  if (cmds.length < 2 && !cmds.some((c) => c.name !== group)) return undefined;
  const width = Math.max(...cmds.map((c) => c.name.length)) + 2;
  return [
    `usage: frostnet ${group} <command> [options]`,
    '',
    'commands:',
    ...cmds.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    `Run "frostnet ${group} <command> --help" for its options.`,
  ].join('\n');
}

const isHelp = (a: string | undefined) => a === '--help' || a === '-h' || a === 'help';

/** The command of `commands` named by the leading words of argv, and the rest of argv. */
function findCommand(
  commands: readonly Command[],
  argv: readonly string[],
): { cmd: Command; rest: string[] } {
  const [first = '', second = ''] = argv;
  const two = commands.find((c) => c.name === `${first} ${second}`);
  if (two) return { cmd: two, rest: argv.slice(2) };
  const one = commands.find((c) => c.name === first);
  if (one) return { cmd: one, rest: argv.slice(1) };
  const group = commands.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name);
  if (group.length > 0)
    throw new UsageError(
      '',
      `"frostnet ${first}" needs one of: ${group.map((g) => g.split(' ')[1]).join(', ')}`,
      `see "frostnet ${first} --help"`,
    );
  throw new UsageError('', `unknown command ${JSON.stringify(first)}`);
}

async function main(argv: readonly string[], out: Output, env: NodeJS.ProcessEnv): Promise<number> {
  const [first] = argv;
  if (first === undefined) {
    process.stderr.write(`${generalHelp(await allCommands())}\n`);
    return EXIT_USAGE;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    const [word, ...more] = argv.slice(1);
    const text =
      word === undefined
        ? generalHelp(await allCommands())
        : commandHelp(findCommand(await commandsStartingWith(word), [word, ...more]).cmd);
    process.stdout.write(`${text}\n`);
    return EXIT_OK;
  }
  if (first === '--version') {
    const pkg = await import('../package.json', { with: { type: 'json' } });
    process.stdout.write(`frostnet ${pkg.default.version}\n`);
    return EXIT_OK;
  }
  const commands = await commandsStartingWith(first);
  // "frostnet peers --help": the group's commands (a group that is also a command, like keys, shows its own).
  if (isHelp(argv[1]) && !commands.some((c) => c.name === first)) {
    const help = groupHelp(commands, first);
    if (help) {
      process.stdout.write(`${help}\n`);
      return EXIT_OK;
    }
  }
  const { cmd, rest } = findCommand(commands, argv);
  return executeCommand(cmd, rest, out, env, (text) => process.stdout.write(`${text}\n`));
}

const argv = process.argv.slice(2);
// Known before parsing, so that even a usage error comes out as JSON when asked.
const out = new Output(argv.includes('--json'));
main(argv, out, process.env).then(
  (code) => process.exit(code),
  (e) => process.exit(out.error(e, process.env.FROSTNET_DEBUG === '1')),
);
