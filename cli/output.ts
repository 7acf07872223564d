/**
 * What the CLI prints. A result goes to stdout: JSON with --json, text for people otherwise. Progress and notes
 * go to stderr and are silent with --json. Every failure is ONE stderr line:
 *
 *   error: <what failed> — <what to do>
 *
 * and, with --json, also `{"error":{code,message,culprits,hint}}` on stdout. Exit codes: 0 ok, 1 failure,
 * 2 usage error, 3 still waiting (a request held for approval or settling goes on in the daemon; the line says
 * how to follow it). Stack traces are never printed (FROSTNET_DEBUG=1 prints them, for bug reports).
 */
import { isFrostnetError } from '../protocol/errors.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_WAITING = 3;

/** Wrong or missing arguments: exit code 2, with a pointer to the command's help (or another hint). */
export class UsageError extends Error {
  readonly command: string;
  readonly hint: string;

  constructor(command: string, message: string, hint?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
    this.hint = hint ?? `see "frostnet ${command ? `${command} ` : ''}--help"`;
  }
}

/**
 * A failure the CLI understands: what failed, what to do, the parties involved (peer ids), a stable code, and
 * (from a daemon) the names its message calls those parties by.
 */
export class CliError extends Error {
  readonly code: string;
  readonly hint: string;
  readonly culprits: readonly string[];
  readonly names?: Readonly<Record<string, string>>;

  constructor(
    code: string,
    message: string,
    hint: string,
    culprits: readonly string[] = [],
    names?: Readonly<Record<string, string>>,
  ) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.hint = hint;
    this.culprits = [...culprits];
    if (names) this.names = names;
  }
}

/**
 * Not a failure: the request waits, for approvals or to settle, and the daemon goes on with it. Printed as one
 * "waiting:" line (with --json, `{"waiting":{code,message,request,hint}}`); exit code 3.
 */
export class Waiting extends Error {
  readonly code: 'AWAITING_APPROVAL' | 'SETTLING';
  readonly request: string;
  readonly hint: string;
  /** For a held request: who holds it, who approved, how many are needed (the daemon's `held`). */
  readonly held?: unknown;

  constructor(code: Waiting['code'], message: string, request: string, hint: string, held?: unknown) {
    super(message);
    this.name = 'Waiting';
    this.code = code;
    this.request = request;
    this.hint = hint;
    this.held = held;
  }
}

/** What to do about each error code a daemon or the node modules can return. */
const HINTS: Readonly<Record<string, string>> = {
  INVALID_INPUT: 'check the arguments (see --help)',
  BAD_REQUEST: 'check the arguments (see --help)',
  UNAUTHORIZED:
    'use a token of this party: --token-file, FROSTNET_TOKEN, or let the CLI pick it from <data dir>/tokens/',
  WRONG_SCOPE:
    'give the token the message names (--token-file FILE), or unset FROSTNET_TOKEN so that the CLI picks it from <data dir>/tokens/',
  TOKEN_RETIRED:
    'stop using the old api-token (FROSTNET_TOKEN, --token-file): the CLI picks the right token from <data dir>/tokens/',
  WRONG_HOST: 'call the control API by its own address: the URL in <data dir>/daemon.json',
  NOT_FOUND: 'check the name or id (see --help)',
  METHOD_NOT_ALLOWED: 'check the command (see --help)',
  UNKNOWN_KEY: 'list the keys this party holds with "frostnet keys"',
  CONFLICT: 'wait for the running ceremony of this key to end, then retry',
  EPOCH_MISMATCH: 'a refresh is settling; try again in a few seconds',
  NOT_ENOUGH_SIGNERS: 'start the named parties or check their addresses ("frostnet peers list"), then retry',
  UNREACHABLE: 'start the named parties or check their addresses ("frostnet peers list"), then retry',
  TIMEOUT: 'start the named parties or check their addresses ("frostnet peers list"), then retry',
  POLICY_DENIED: "a party's policy refused the request; ask its operator",
  APPROVAL_REQUIRED: 'the operators of the named parties approve it ("frostnet approvals"); then ask again',
  TIME_LOCKED: 'ask again once the time lock has passed ("frostnet approvals list" shows when)',
  WRONG_PASSPHRASE:
    'give the passphrase this party was created with (passphraseFile or its environment variable)',
  STORE_CORRUPT: "restore the party's data dir from a backup",
  INVALID_SIGNATURE: 'retry; if it repeats, the named parties misbehave',
  INVALID_SIGNATURE_SHARE: 'retry without the named parties (--signers)',
  // Ceremony and signing messages that a party got wrong: who is named is blamed.
  WRONG_CONTEXT:
    'a message of another session, key or epoch came in: retry; if it repeats, check that the named parties run this version and are on the same epoch ("frostnet keys")',
  UNEXPECTED_SENDER:
    'a party that is not in this ceremony sent to it: check the named party and every config\'s peers ("frostnet peers list")',
  DUPLICATE_MESSAGE: 'the named party sent one round twice, differently: retry; if it repeats, it misbehaves',
  INVALID_COMMITMENT:
    'the named party sent an invalid commitment; nothing was activated: retry, and if it repeats leave it out and check its machine',
  INVALID_PROOF:
    'the named party sent an invalid proof; nothing was activated: retry, and if it repeats leave it out and check its machine',
  INVALID_SHARE:
    'the named party dealt an invalid share; nothing was activated: retry, and if it repeats leave it out and check its machine',
  EQUIVOCATION:
    'the named party told members different things: it misbehaves; nothing was activated: leave it out and check its machine',
  CONFIRMATION_MISMATCH:
    'the members did not end the ceremony with the same result, so nothing was activated: retry; if it repeats, check the named parties',
  KEY_CHANGED:
    'the ceremony would have changed the group key, so nothing was activated: do not retry with the named parties before their machines are checked',
  COMMITMENT_MISMATCH:
    'signers were sent different commitments: retry; if it repeats, the named parties (or the coordinator) misbehave',
  MESSAGE_MISMATCH:
    'signers were asked to sign different messages: retry; if it repeats, the named parties (or the coordinator) misbehave',
  NONCE_REUSED: 'a signer will not use a nonce twice (it restarted): retry; fresh nonces are taken',
  INTERNAL: "this is a bug in frostnet: the daemon's log has the details; please report it",
};
const DEFAULT_HINT = "see the daemon's log for details";

/**
 * Advice that fits what happened, where one code covers different situations (CONFLICT is a port in use, a
 * store locked, a key that exists, a decided request...): the first rule of the code whose pattern the
 * message matches wins over the code's general hint.
 */
const HINT_RULES: readonly { code: string; when: RegExp; hint: string }[] = [
  {
    code: 'CONFLICT',
    when: /in use by another process/,
    hint: 'another daemon runs on this data dir: stop it, or use another data dir',
  },
  {
    code: 'CONFLICT',
    when: /address is in use|port \d+ is in use/,
    hint: 'another program listens there: stop it, or pick another port (--listen, --api-port, or the config)',
  },
  {
    code: 'CONFLICT',
    when: /already holds a party/,
    hint: 'use another data dir, or start the party that is there',
  },
  {
    code: 'CONFLICT',
    when: /a key named \S+ already exists/,
    hint: 'pick another name; "frostnet keys" lists the keys of this party',
  },
  {
    code: 'CONFLICT',
    when: /holds key \S+ already; a backup restores only a missing key/,
    hint: 'nothing to restore: this party holds the key ("frostnet keys")',
  },
  {
    code: 'CONFLICT',
    when: /is already (rejected|cancelled|expired|signed)/,
    hint: 'nothing to do: the request is decided ("frostnet approvals show ID")',
  },
  {
    code: 'CONFLICT',
    when: /needs no approval; it is time-locked/,
    hint: 'wait for the time lock to end, or cancel the request to refuse it',
  },
  {
    code: 'CONFLICT',
    when: /already names peer/,
    hint: 'rename or remove that peer first ("frostnet peers rename|remove"), or pick another name',
  },
  {
    code: 'CONFLICT',
    when: /too many requests running/,
    hint: 'wait for some to end ("frostnet status"), then retry',
  },
  {
    code: 'INVALID_INPUT',
    when: /is not an address of this machine/,
    hint: 'listen on an address of this machine: 127.0.0.1, 0.0.0.0 or one that "ip addr" lists (--listen at init, "listen" in the config)',
  },
  {
    code: 'INVALID_INPUT',
    when: /port \d+ is in use/,
    hint: 'another program listens there: stop it, or pick another port (--listen or --api-port at init, or the config)',
  },
  {
    code: 'INVALID_INPUT',
    when: /port \d+ needs privileges/,
    hint: 'pick a port above 1023 (--listen at init, "listen" in the config)',
  },
  {
    code: 'NOT_ENOUGH_SIGNERS',
    when: / refused: /,
    hint: 'the named parties refused it (their policy or their operators): ask their operators why, or sign with other parties (--signers)',
  },
  {
    code: 'WRONG_PASSPHRASE',
    when: /backup/,
    hint: 'give the passphrase the backup was made with (FROSTNET_BACKUP_PASSPHRASE or --passphrase-file)',
  },
  {
    code: 'EPOCH_MISMATCH',
    when: /not vouched alike/,
    hint: 'every member must vouch for the replaced party ("frostnet vouch") and be on the current epoch; a refresh still settling ends by itself',
  },
];

/** The advice for an error code, fitted to its message when the code covers several situations. */
export const hintFor = (code: string, message = ''): string =>
  HINT_RULES.find((r) => r.code === code && r.when.test(message))?.hint ?? HINTS[code] ?? DEFAULT_HINT;

export type ErrorReport = {
  readonly line: string;
  readonly exitCode: typeof EXIT_FAILURE | typeof EXIT_USAGE;
  readonly json: {
    code: string;
    message: string;
    culprits: string[];
    hint: string;
    names?: Record<string, string>;
  };
};

/** Newlines and runs of blanks would break the one-line promise. */
const oneLine = (s: string) =>
  s
    .replace(/\s*\n\s*/g, '; ')
    .replace(/\s+/g, ' ')
    .trim();

/** The one-line report of any failure. */
export function describeError(e: unknown): ErrorReport {
  let code: string;
  let message: string;
  let hint: string;
  let culprits: string[] = [];
  let names: Record<string, string> | undefined;
  let exitCode: ErrorReport['exitCode'] = EXIT_FAILURE;
  if (e instanceof UsageError) {
    code = 'USAGE';
    message = e.message;
    hint = e.hint;
    exitCode = EXIT_USAGE;
  } else if (e instanceof CliError || isFrostnetError(e)) {
    code = e.code;
    message = e.message;
    culprits = [...e.culprits];
    if (e instanceof CliError && e.names) names = { ...e.names };
    hint = e instanceof CliError ? e.hint : hintFor(e.code, e.message);
  } else {
    code = 'INTERNAL';
    message = e instanceof Error ? e.message : String(e);
    hint = 'this is a bug in frostnet; run again with FROSTNET_DEBUG=1 and report the output';
  }
  // Name the parties to blame unless the message already does (by peer id or by the daemon's name).
  const nameOf = (c: string) => names?.[c] ?? c;
  const unnamed = culprits.filter((c) => !message.includes(c) && !message.includes(nameOf(c)));
  const blame = unnamed.length > 0 ? ` (parties: ${unnamed.map(nameOf).join(', ')})` : '';
  const line = oneLine(`error: ${message}${blame} — ${hint}`);
  return {
    line,
    exitCode,
    json: { code, message: oneLine(message), culprits, hint, ...(names && { names }) },
  };
}

type Sink = { write(s: string): unknown };

export class Output {
  readonly json: boolean;
  private readonly stdout: Sink;
  private readonly stderr: Sink;

  constructor(json: boolean, stdout: Sink = process.stdout, stderr: Sink = process.stderr) {
    this.json = json;
    this.stdout = stdout;
    this.stderr = stderr;
  }

  /** The command's result: `data` as JSON with --json, else the text `human` builds. */
  result(data: unknown, human: () => string): void {
    this.stdout.write(this.json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
  }

  /** Progress and notes for people, on stderr; nothing with --json. */
  note(line: string): void {
    if (!this.json) this.stderr.write(`${line}\n`);
  }

  /** Prints the one-line error (and the JSON error with --json); returns the exit code. */
  error(e: unknown, debug = false): number {
    if (e instanceof Waiting) {
      const { code, message, request, hint, held } = e;
      if (this.json)
        this.stdout.write(`${JSON.stringify({ waiting: { code, message, request, hint, held } })}\n`);
      this.stderr.write(`${oneLine(`waiting: ${message} — ${hint}`)}\n`);
      return EXIT_WAITING;
    }
    const report = describeError(e);
    if (this.json) this.stdout.write(`${JSON.stringify({ error: report.json })}\n`);
    this.stderr.write(`${report.line}\n`);
    if (debug && e instanceof Error && e.stack) this.stderr.write(`${e.stack}\n`);
    return report.exitCode;
  }
}

/** Left-aligned columns for people. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string {
  if (rows.length === 0) return '';
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) => (indent + r.map((cell, c) => cell.padEnd(widths[c])).join('  ')).trimEnd())
    .join('\n');
}

/** "12s ago", "3m ago": how long since an ISO time, for liveness columns. */
export function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return 'unknown';
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}
