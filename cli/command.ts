/**
 * The shape of a `frostnet` command: its options (typed from their specs), its help text, and its run function.
 * Parsing is node:util parseArgs in strict mode; every parse problem becomes a UsageError (exit code 2).
 */
import { parseArgs } from 'node:util';
import { SCOPE_PURPOSE } from '../node/api/credentials.ts';
import { Client, type CommandScope, locateDaemon } from './client.ts';
import { EXIT_OK, type Output, UsageError } from './output.ts';

export type OptionSpec = {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
  /** Placeholder for the value in the help, e.g. DIR. */
  readonly arg?: string;
  readonly help: string;
  readonly required?: boolean;
  /** Environment variable that supplies the value when the option is absent. */
  readonly env?: string;
  /** Older spellings still accepted (documented in the help), e.g. --evm-factory for --factory. */
  readonly aliases?: readonly string[];
};

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean'
  ? boolean
  : S['multiple'] extends true
    ? string[]
    : string;

/** Parsed values: required options are present, the rest may be undefined. */
export type Values<O extends OptionSpecs> = {
  readonly [K in keyof O]: O[K]['required'] extends true ? ValueOf<O[K]> : ValueOf<O[K]> | undefined;
};

/** Options every command takes. */
export const GLOBAL_OPTIONS = {
  json: { type: 'boolean', help: 'machine-readable JSON output on stdout' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies OptionSpecs;

/** Options of the commands that talk to a running daemon (see cli/client.ts for how they combine). */
export const DAEMON_OPTIONS = {
  'data-dir': {
    type: 'string',
    arg: 'DIR',
    env: 'FROSTNET_DATA_DIR',
    help: "the party's data dir; its daemon.json and tokens/ locate the daemon",
  },
  api: {
    type: 'string',
    arg: 'URL',
    env: 'FROSTNET_API',
    help: "the daemon's control API URL, instead of --data-dir",
  },
  'token-file': {
    type: 'string',
    arg: 'FILE',
    help: "file holding the API token (default: $FROSTNET_TOKEN, else the command's token in <data dir>/tokens/)",
  },
} as const satisfies OptionSpecs;

/** Parsed values before the command's own types apply. */
export type RawValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

type BaseContext<V> = {
  readonly values: V;
  readonly positionals: readonly string[];
  readonly out: Output;
  readonly env: NodeJS.ProcessEnv;
  /** A client for the daemon named by the daemon options; only for commands declared with a `daemon` scope. */
  client(): Promise<Client>;
};

export type Context<O extends OptionSpecs> = BaseContext<Values<O>>;

export type CommandSpec<O extends OptionSpecs> = {
  /** One or two words: "status", "peers add". */
  readonly name: string;
  readonly summary: string;
  /** The argument synopsis after the name, for the help. */
  readonly usage: string;
  /** More help text, printed after the synopsis. */
  readonly details?: string;
  readonly options: O;
  /**
   * The command talks to a daemon with the token of this scope (cli/client.ts picks it): adds the daemon
   * options and a client.
   */
  readonly daemon?: CommandScope;
  /** How many positional arguments the command takes (default 0). */
  readonly positionals?: number;
  /** Returns the exit code; undefined means 0. (The daemon options are read by `client()`, not here.) */
  run(ctx: Context<O & typeof GLOBAL_OPTIONS>): Promise<number | undefined>;
};

/** A command with its option types erased, as the dispatcher holds it. */
export type Command = {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly details?: string;
  /** The token scope it talks to a daemon with; undefined for a command that talks to none. */
  readonly daemon?: CommandScope;
  readonly positionals: number;
  readonly options: OptionSpecs;
  run(ctx: BaseContext<RawValues>): Promise<number | undefined>;
};

export function defineCommand<const O extends OptionSpecs>(spec: CommandSpec<O>): Command {
  const daemon = spec.daemon;
  return {
    name: spec.name,
    summary: spec.summary,
    usage: spec.usage,
    details: spec.details,
    daemon,
    positionals: spec.positionals ?? 0,
    options: { ...spec.options, ...(daemon ? DAEMON_OPTIONS : {}), ...GLOBAL_OPTIONS },
    // The values were parsed against exactly these specs (see parseCommandArgs), so the typed view holds.
    run: (ctx) => spec.run(ctx as unknown as Context<O & typeof GLOBAL_OPTIONS>),
  };
}

/**
 * Parses argv for `cmd`: unknown options, missing values and missing required options are usage errors.
 * `fromEnv` names the options whose value came from the environment rather than the command line.
 */
export function parseCommandArgs(
  cmd: Command,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { values: RawValues; positionals: string[]; fromEnv: ReadonlySet<string> } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: negativeValues(cmd, args),
      options: Object.fromEntries(
        Object.entries(cmd.options).flatMap(([name, o]) => [
          [
            name,
            {
              type: o.type,
              ...(o.multiple ? { multiple: true } : {}),
              ...(o.short ? { short: o.short } : {}),
            },
          ],
          ...(o.aliases ?? []).map((a) => [a, { type: o.type, ...(o.multiple ? { multiple: true } : {}) }]),
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError(cmd.name, parseErrorText(e));
  }
  // parseArgs typed the values by the specs' types; its own result type is looser.
  const values = { ...parsed.values } as Record<string, string | boolean | string[] | undefined>;
  for (const [name, o] of Object.entries(cmd.options))
    for (const alias of o.aliases ?? []) {
      if (values[alias] === undefined) continue;
      if (values[name] !== undefined)
        throw new UsageError(cmd.name, `--${alias} is another name of --${name}: give one of them`);
      values[name] = values[alias];
      delete values[alias];
    }
  const fromEnv = new Set<string>();
  if (values.help === true) return { values, positionals: parsed.positionals, fromEnv };
  for (const [name, o] of Object.entries(cmd.options)) {
    if (values[name] === undefined && o.env !== undefined && env[o.env]) {
      values[name] = env[o.env];
      fromEnv.add(name);
    }
    if (o.type === 'string' && !o.multiple && values[name] === '')
      throw new UsageError(cmd.name, `--${name} needs a value`);
    if (o.required && values[name] === undefined) throw new UsageError(cmd.name, `--${name} is required`);
  }
  if (parsed.positionals.length > cmd.positionals)
    throw new UsageError(
      cmd.name,
      `unexpected argument ${JSON.stringify(parsed.positionals[cmd.positionals])}`,
    );
  return { values, positionals: parsed.positionals, fromEnv };
}

/**
 * `--threshold -1` is a value that starts with a dash, which parseArgs takes for an option ("ambiguous"): a
 * string option followed by a negative number gets it as its value, so the option's own check can say that it
 * must be ≥ 0.
 */
function negativeValues(cmd: Command, args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    const next = args[i + 1];
    if (name && cmd.options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** parseArgs messages carry advice for programmers ("To specify a positional argument..."): keep the first sentence. */
function parseErrorText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split(/\.\s/)[0].replace(/\.$/, '').replace(/'/g, '');
}

/** The help of one command. */
export function commandHelp(cmd: Command): string {
  const rows = Object.entries(cmd.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}`;
    const notes = [
      o.required ? 'required' : '',
      o.env ? `env ${o.env}` : '',
      o.multiple ? 'repeatable' : '',
      ...(o.aliases ?? []).map((a) => `also --${a}`),
    ]
      .filter(Boolean)
      .join('; ');
    return [flag, `${o.help}${notes ? ` (${notes})` : ''}`] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [
    `usage: frostnet ${cmd.name}${cmd.usage ? ` ${cmd.usage}` : ''}`,
    '',
    cmd.summary,
    ...(cmd.details ? ['', cmd.details] : []),
    ...(cmd.daemon ? ['', `token: ${tokenHelp(cmd.daemon)}`] : []),
    '',
    'options:',
    ...rows.map(([f, h]) => `  ${f.padEnd(width)}${h}`),
  ].join('\n');
}

function tokenHelp(scope: CommandScope): string {
  return scope === 'read'
    ? `<data dir>/tokens/request, approve or admin, the first found; each ${SCOPE_PURPOSE.read}`
    : `<data dir>/tokens/${scope}, which ${SCOPE_PURPOSE[scope]}`;
}

/**
 * The client for `cmd`'s daemon, as the parsed daemon options name it, with the token of the command's scope.
 * `fromEnv` names the options whose value came from the environment.
 */
export async function commandClient(
  cmd: Command,
  values: RawValues,
  fromEnv: ReadonlySet<string>,
  env: NodeJS.ProcessEnv,
): Promise<Client> {
  if (!cmd.daemon) throw new Error(`${cmd.name} does not talk to a daemon`);
  return new Client(
    await locateDaemon(
      {
        dataDir: values['data-dir'] as string | undefined,
        // An explicit --data-dir names the party; FROSTNET_API from the environment must not override it.
        api:
          fromEnv.has('api') && !fromEnv.has('data-dir') && values['data-dir'] !== undefined
            ? undefined
            : (values.api as string | undefined),
        tokenFile: values['token-file'] as string | undefined,
        command: cmd.name,
        scope: cmd.daemon,
      },
      env,
    ),
  );
}

/**
 * Runs `cmd` with the arguments that follow its name (`env` fills options it reads from the environment); its
 * client is made on first use. `--help` prints the command's help through `help` instead. Returns its exit code.
 */
export async function executeCommand(
  cmd: Command,
  rest: readonly string[],
  out: Output,
  env: NodeJS.ProcessEnv,
  help: (text: string) => void,
): Promise<number> {
  const { values, positionals, fromEnv } = parseCommandArgs(cmd, rest, env);
  if (values.help === true) {
    help(commandHelp(cmd));
    return EXIT_OK;
  }
  let client: Client | undefined;
  const code = await cmd.run({
    values,
    positionals,
    out,
    env,
    client: async () => {
      client ??= await commandClient(cmd, values, fromEnv, env);
      return client;
    },
  });
  return code ?? EXIT_OK;
}

/** A whole-number option in [min, max]. */
export function integerOption(cmd: string, name: string, value: string, min: number, max: number): number {
  if (/^\s*-\s*\d/.test(value))
    throw new UsageError(cmd, `--${name} must be ≥ ${Math.max(0, min)}, not ${JSON.stringify(value)}`);
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max)
    throw new UsageError(
      cmd,
      `--${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}`,
    );
  return Number(value);
}

/** "a,b, c" -> ["a", "b", "c"]; repeated entries are a usage error. */
export function listOption(cmd: string, name: string, value: string): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new UsageError(cmd, `--${name} needs at least one entry`);
  const dup = items.find((s, i) => items.indexOf(s) !== i);
  if (dup !== undefined) throw new UsageError(cmd, `--${name} lists ${dup} twice`);
  return items;
}
