import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { errorMessage, FrostnetError } from '../protocol/errors.ts';
import { isLogLevel, LOG_LEVELS, type LogLevel } from './ops/log.ts';
import {
  array,
  integer,
  nonEmptyString,
  object,
  only,
  peerAddrs,
  peerId,
  tcpMultiaddr,
} from './storage/fields.ts';
import { Serial, writeJsonFile } from './storage/json-file.ts';
import { DEFAULT_MAX_FRAME_BYTES } from './transport/wire.ts';

export interface PeerConfig {
  /** The party's libp2p peer id. */
  id: string;
  /** TCP multiaddrs to dial it at (an optional trailing /p2p/<id> must match `id`). */
  addrs: string[];
  /** A human name for logs and the CLI. */
  name?: string;
}

export interface Limits {
  maxFrameBytes: number;
  maxSessionsPerPeer: number;
  maxQueuedRequests: number;
  roundTimeoutMs: number;
}

export interface Config {
  dataDir: string;
  listen: string[];
  api: { host: string; port: number };
  peers: PeerConfig[];
  passphraseEnv?: string;
  passphraseFile?: string;
  logLevel: LogLevel;
  limits: Limits;
  /**
   * A command this party runs when its policy holds a request for its operator (program first, then its
   * arguments; no shell), given the held request as one JSON document on its stdin.
   */
  notify?: { command: string[] };
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxSessionsPerPeer: 256,
  maxQueuedRequests: 1024,
  roundTimeoutMs: 20_000,
});

// [min, max] for each limit.
const LIMIT_RANGES: Record<keyof Limits, readonly [number, number]> = {
  maxFrameBytes: [1024, 64 * 1024 * 1024],
  maxSessionsPerPeer: [1, 100_000],
  maxQueuedRequests: [1, 1_000_000],
  roundTimeoutMs: [100, 3_600_000],
};

export function defaultConfig(dataDir: string): Config {
  return {
    dataDir,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    api: { host: '127.0.0.1', port: 0 },
    peers: [],
    logLevel: 'info',
    limits: { ...DEFAULT_LIMITS },
  };
}

export interface ParseConfigOptions {
  /** Relative `dataDir` and `passphraseFile` are resolved against this directory; default: left as given. */
  baseDir?: string;
  /** Named in error messages (the file path). */
  source?: string;
}

/** Validates a parsed JSON value and fills in defaults. Throws FrostnetError('INVALID_INPUT') naming the field. */
export function parseConfig(input: unknown, opts: ParseConfigOptions = {}): Config {
  const where = opts.source === undefined ? 'config' : `config ${opts.source}`;
  const fail = (field: string, problem: string): never => {
    throw new FrostnetError('INVALID_INPUT', `${where}: "${field}" ${problem}`);
  };
  const path = (p: string) => (opts.baseDir === undefined || isAbsolute(p) ? p : resolve(opts.baseDir, p));

  const top = object(input, '(top level)', fail);
  only(
    top,
    ['dataDir', 'listen', 'api', 'peers', 'passphraseEnv', 'passphraseFile', 'logLevel', 'limits', 'notify'],
    '',
    fail,
  );

  if (top.dataDir === undefined) fail('dataDir', 'is required');
  const cfg = defaultConfig(path(nonEmptyString(top.dataDir, 'dataDir', fail)));

  if (top.listen !== undefined) {
    const listen = array(top.listen, 'listen', fail);
    if (listen.length === 0) fail('listen', 'needs at least one address');
    cfg.listen = listen.map((a, i) => tcpMultiaddr(a, `listen[${i}]`, fail));
  }

  if (top.api !== undefined) {
    const api = object(top.api, 'api', fail);
    only(api, ['host', 'port'], 'api.', fail);
    if (api.host !== undefined) {
      const host = nonEmptyString(api.host, 'api.host', fail);
      if (!isLoopback(host))
        fail('api.host', `must be a loopback address (127.0.0.1, ::1 or localhost), not ${host}`);
      cfg.api.host = host;
    }
    if (api.port !== undefined) cfg.api.port = integer(api.port, 'api.port', 0, 65535, fail);
  }

  if (top.peers !== undefined) {
    const seen = new Set<string>();
    const names = new Map<string, string>();
    cfg.peers = array(top.peers, 'peers', fail).map((p, i) => {
      const at = `peers[${i}]`;
      const peer = object(p, at, fail);
      only(peer, ['id', 'addrs', 'name'], `${at}.`, fail);
      const id = peerId(peer.id, `${at}.id`, fail);
      if (seen.has(id)) fail(`${at}.id`, `repeats peer ${id}`);
      seen.add(id);
      const addrs = peerAddrs(peer.addrs ?? [], id, `${at}.addrs`, fail);
      const out: PeerConfig = { id, addrs };
      if (peer.name !== undefined) {
        out.name = nonEmptyString(peer.name, `${at}.name`, fail);
        const other = names.get(out.name);
        if (other !== undefined)
          fail(`${at}.name`, `"${out.name}" already names peer ${other}; every peer's name must be its own`);
        if (out.name === 'self') fail(`${at}.name`, 'cannot be "self", which always means this party');
        names.set(out.name, id);
      }
      return out;
    });
  }

  if (top.notify !== undefined) {
    const n = object(top.notify, 'notify', fail);
    only(n, ['command'], 'notify.', fail);
    const command = array(n.command, 'notify.command', fail).map((c, i) =>
      nonEmptyString(c, `notify.command[${i}]`, fail),
    );
    if (command.length === 0) fail('notify.command', 'needs at least the program to run');
    cfg.notify = { command };
  }

  if (top.passphraseEnv !== undefined) {
    const env = nonEmptyString(top.passphraseEnv, 'passphraseEnv', fail);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(env))
      fail('passphraseEnv', `is not an environment variable name: ${env}`);
    cfg.passphraseEnv = env;
  }
  if (top.passphraseFile !== undefined) {
    cfg.passphraseFile = path(nonEmptyString(top.passphraseFile, 'passphraseFile', fail));
  }

  if (top.logLevel !== undefined) {
    if (!isLogLevel(top.logLevel)) fail('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);
    cfg.logLevel = top.logLevel as LogLevel;
  }

  if (top.limits !== undefined) {
    const limits = object(top.limits, 'limits', fail);
    const names = Object.keys(LIMIT_RANGES) as Array<keyof Limits>;
    only(limits, names, 'limits.', fail);
    for (const name of names) {
      if (limits[name] === undefined) continue;
      const [min, max] = LIMIT_RANGES[name];
      cfg.limits[name] = integer(limits[name], `limits.${name}`, min, max, fail);
    }
  }
  return cfg;
}

/** Reads and validates a config file. Relative paths in it are resolved against the file's directory. */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new FrostnetError(
      'INVALID_INPUT',
      code === 'ENOENT' ? `config ${file} does not exist` : `cannot read config ${file}: ${errorMessage(e)}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FrostnetError('INVALID_INPUT', `config ${file} is not valid JSON: ${errorMessage(e)}`);
  }
  return parseConfig(json, { baseDir: dirname(resolve(file)), source: file });
}

/** Validates and writes the config atomically (see writeJsonFile). */
export async function saveConfig(file: string, cfg: Config): Promise<void> {
  await writeJsonFile(file, parseConfig(cfg, { source: file }));
}

/**
 * The config of a running daemon and its file. Changes run one at a time, each built from the config as the
 * previous change left it and saved before the next starts, so concurrent changes (peers added at once) are
 * all kept.
 */
export class ConfigFile {
  readonly path: string;
  private latest: Config;
  private readonly writes = new Serial();

  constructor(path: string, config: Config) {
    this.path = path;
    this.latest = config;
  }

  /** The config as the last saved change left it. */
  get current(): Config {
    return this.latest;
  }

  /** Builds the next config from the current one, saves it, and makes it current; resolves with it. */
  update(change: (current: Config) => Config): Promise<Config> {
    return this.writes.run(async () => {
      const next = change(this.latest);
      await saveConfig(this.path, next);
      this.latest = next;
      return next;
    });
  }
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}
