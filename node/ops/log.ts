/**
 * A tiny structured logger: one JSON object per line (`level`, `time`, `msg`, then the fields), written to
 * stderr or any stream with a `write(string)` method. Child loggers carry bound fields (peer, session, ...).
 *
 * Secrets must never reach a log, so field values are sanitised before they are printed:
 * - byte arrays (Uint8Array, Buffer, ArrayBuffer) print as a length placeholder, never their content;
 * - fields whose name looks like a secret (passphrase, secret, share, privateKey, token, nonce, ...) are
 *   replaced by "[redacted]" whatever their type;
 * - errors print their name, message and (FrostnetError) code and culprits, not their stack.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger writing to the same sink with `fields` bound to every line (a line's own fields win). */
  child(fields: LogFields): Logger;
  isEnabled(level: LogLevel): boolean;
}

export interface LogSink {
  write(line: string): unknown;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; default process.stderr. */
  stream?: LogSink;
  /** Fields bound to every line. */
  fields?: LogFields;
  /** Clock, for deterministic tests. */
  now?: () => Date;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const RESERVED = new Set(['level', 'time', 'msg']);
// Matched against field names case-insensitively; a hit redacts the whole value.
const SECRET_NAME = /passphrase|password|secret|share|priv(ate)?_?key|seed|token|nonce|mnemonic|credential/i;
const MAX_DEPTH = 6;
const MAX_STRING = 4096;
const MAX_ITEMS = 100;

export function isLogLevel(x: unknown): x is LogLevel {
  return typeof x === 'string' && (LOG_LEVELS as readonly string[]).includes(x);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  if (!isLogLevel(level)) throw new TypeError(`unknown log level ${String(level)}`);
  const sink = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => new Date());
  return makeLogger(level, sink, now, { ...(opts.fields ?? {}) });
}

/** A logger that drops everything; for tests and library callers that do not care. */
export const nullLogger: Logger = {
  level: 'error',
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return nullLogger;
  },
  isEnabled() {
    return false;
  },
};

function makeLogger(level: LogLevel, sink: LogSink, now: () => Date, bound: LogFields): Logger {
  const write = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[lvl] < RANK[level]) return;
    const line: Record<string, unknown> = {
      level: lvl,
      time: now().toISOString(),
      msg: truncate(String(msg)),
    };
    addFields(line, bound);
    if (fields) addFields(line, fields);
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch {
      text = JSON.stringify({
        level: lvl,
        time: line.time,
        msg: line.msg,
        logError: 'unserialisable fields',
      });
    }
    // A logger must never take the process down: a broken sink loses the line, nothing else.
    try {
      sink.write(`${text}\n`);
    } catch {}
  };
  return {
    level,
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (fields) => makeLogger(level, sink, now, { ...bound, ...fields }),
    isEnabled: (lvl) => RANK[lvl] >= RANK[level],
  };
}

function addFields(line: Record<string, unknown>, fields: LogFields): void {
  for (const [key, value] of Object.entries(fields)) {
    // Optional fields that are absent are left out rather than printed as null.
    if (value === undefined) continue;
    // Fields may not overwrite the line's own level/time/msg.
    const name = RESERVED.has(key) ? `${key}_` : key;
    line[name] = sanitize(key, value, 0, new WeakSet());
  }
}

/** Makes a value safe and JSON-serialisable for a log line; exported for tests and other sinks. */
export function sanitize(
  key: string,
  value: unknown,
  depth = 0,
  seen: WeakSet<object> = new WeakSet(),
): unknown {
  if (SECRET_NAME.test(key)) return '[redacted]';
  if (value === null || value === undefined) return value ?? null;
  switch (typeof value) {
    case 'string':
      return truncate(value);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'function':
    case 'symbol':
      return `[${typeof value}]`;
  }
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (value instanceof Error) return describeError(value);
  if (value instanceof Date) return value.toISOString();
  const obj = value as object;
  if (seen.has(obj)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      const out = obj.slice(0, MAX_ITEMS).map((v) => sanitize('', v, depth + 1, seen));
      if (obj.length > MAX_ITEMS) out.push(`[${obj.length - MAX_ITEMS} more]`);
      return out;
    }
    if (obj instanceof Map) return sanitize(key, Object.fromEntries(obj), depth, seen);
    if (obj instanceof Set) return sanitize(key, [...obj], depth, seen);
    // Objects with their own string form (PeerId, Multiaddr, URL) print as that string.
    const proto = Object.getPrototypeOf(obj);
    if (
      proto !== Object.prototype &&
      proto !== null &&
      typeof (obj as { toString?: unknown }).toString === 'function'
    ) {
      const s = String(obj);
      if (s !== '[object Object]') return truncate(s);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj).slice(0, MAX_ITEMS)) out[k] = sanitize(k, v, depth + 1, seen);
    return out;
  } finally {
    seen.delete(obj);
  }
}

function describeError(e: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: e.name, message: truncate(e.message) };
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  const culprits = (e as { culprits?: unknown }).culprits;
  if (Array.isArray(culprits) && culprits.length > 0) out.culprits = culprits.map(String);
  return out;
}

function truncate(s: string): string {
  return s.length > MAX_STRING ? `${s.slice(0, MAX_STRING)}...[${s.length - MAX_STRING} more chars]` : s;
}
