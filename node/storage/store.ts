/**
 * The party's store: LevelDB (`level`) on disk, with two kinds of records under one namespace of names:
 * - secrets (key shares, the identity key, ...): bytes encrypted at rest with XChaCha20-Poly1305 under a key
 *   derived from the passphrase with scrypt. Each record has a fresh random nonce and its own database key as
 *   associated data, so a record moved or copied under another name no longer decrypts;
 * - public records (key group metadata: members, threshold, group key, epoch): plain JSON.
 *
 * The scrypt parameters and salt live in the database (record `m:kdf`) next to a passphrase check record
 * (`m:check`, a known value encrypted like any secret), both written atomically on first open. A wrong
 * passphrase is refused with WRONG_PASSPHRASE before anything is written. A secret that does not decrypt
 * under the right passphrase is STORE_CORRUPT.
 *
 * `batch` applies secret and public puts and deletes atomically (one LevelDB write batch), which is how a
 * ceremony switches a key to its next epoch: a crash leaves either the old records or the new ones.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { errorMessage, FrostnetError } from '../../protocol/errors.ts';
import {
  DEFAULT_SCRYPT,
  deriveKey,
  isBoundedScrypt,
  MIN_N,
  NONCE_BYTES,
  newSalt,
  type SaltedScrypt,
  type ScryptParams,
  seal,
  TAG_BYTES,
  unseal,
} from './sealing.ts';

export type RecordKind = 'secret' | 'public';

export type StoreOp =
  | { type: 'putSecret'; name: string; value: Uint8Array }
  /** `value` must be JSON data: null, booleans, finite numbers, strings, arrays and plain objects. */
  | { type: 'putPublic'; name: string; value: unknown }
  | { type: 'del'; kind: RecordKind; name: string };

export interface Store {
  readonly dir: string;
  getSecret(name: string): Promise<Uint8Array | undefined>;
  putSecret(name: string, value: Uint8Array): Promise<void>;
  /** The stored JSON value, typed as the caller says (no runtime shape check beyond JSON). */
  getPublic<T = unknown>(name: string): Promise<T | undefined>;
  putPublic(name: string, value: unknown): Promise<void>;
  del(kind: RecordKind, name: string): Promise<void>;
  /** Names starting with `prefix`, of both kinds, sorted by name (secrets before publics for equal names). */
  list(prefix?: string): Promise<Array<{ name: string; kind: RecordKind }>>;
  /** All or nothing: every op is validated and encrypted first, then written in one LevelDB batch. */
  batch(ops: readonly StoreOp[]): Promise<void>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** scrypt cost for a NEW store (tests, small devices); an existing store always uses its stored parameters. */
  kdf?: Partial<ScryptParams>;
}

const KDF_KEY = 'm:kdf';
const CHECK_KEY = 'm:check';
const SECRET_PREFIX = 's:';
const PUBLIC_PREFIX = 'p:';
const CHECK_VALUE = new TextEncoder().encode('frostnet passphrase check v1');
const AD_PREFIX = 'frostnet/store/v1\0';
const RECORD_VERSION = 1;
const MAX_NAME_CHARS = 512;

/** The store's record `m:kdf`. */
type KdfRecord = SaltedScrypt & { v: 1; kdf: 'scrypt' };

const utf8 = new TextEncoder();

export async function openStore(
  dir: string,
  passphrase: string,
  opts: OpenStoreOptions = {},
): Promise<Store> {
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw new FrostnetError('INVALID_INPUT', 'the store passphrase is empty');
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  try {
    await db.open();
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new FrostnetError('CONFLICT', `the store at ${dir} is in use by another process`);
    }
    throw new FrostnetError('STORE_CORRUPT', `cannot open the store at ${dir}: ${errorMessage(e)}`);
  }
  try {
    const key = await unlock(db, dir, passphrase, opts);
    return makeStore(db, dir, key);
  } catch (e) {
    await db.close().catch(() => {});
    throw e;
  }
}

/** Derives the record key and checks it against the check record, creating both on a new, empty store. */
async function unlock(
  db: Level<string, Uint8Array>,
  dir: string,
  passphrase: string,
  opts: OpenStoreOptions,
) {
  const kdfBytes = await db.get(KDF_KEY);
  if (kdfBytes === undefined) {
    if (await hasAnyRecord(db)) {
      throw new FrostnetError(
        'STORE_CORRUPT',
        `the store at ${dir} has records but no key derivation parameters`,
      );
    }
    const params = { ...DEFAULT_SCRYPT, ...opts.kdf };
    const record: KdfRecord = { v: 1, kdf: 'scrypt', ...params, salt: newSalt() };
    checkKdf(record, dir);
    const key = await deriveKey(passphrase, record);
    await db.batch([
      { type: 'put', key: KDF_KEY, value: utf8.encode(JSON.stringify(record)) },
      { type: 'put', key: CHECK_KEY, value: sealRecord(key, CHECK_KEY, CHECK_VALUE) },
    ]);
    return key;
  }
  const record = parseKdf(kdfBytes, dir);
  const key = await deriveKey(passphrase, record);
  const check = await db.get(CHECK_KEY);
  if (check === undefined)
    throw new FrostnetError('STORE_CORRUPT', `the store at ${dir} has no passphrase check`);
  const opened = openRecord(key, CHECK_KEY, check);
  if (opened === undefined || !equalBytes(opened, CHECK_VALUE)) {
    key.fill(0);
    throw new FrostnetError('WRONG_PASSPHRASE', `wrong passphrase for the store at ${dir}`);
  }
  return key;
}

function makeStore(db: Level<string, Uint8Array>, dir: string, key: Uint8Array): Store {
  let closed = false;
  const live = () => {
    if (closed) throw new FrostnetError('INTERNAL', `the store at ${dir} is closed`);
  };

  const toBatch = (op: StoreOp) => {
    checkName(op.name);
    switch (op.type) {
      case 'putSecret': {
        if (!(op.value instanceof Uint8Array)) {
          throw new FrostnetError('INVALID_INPUT', `secret ${JSON.stringify(op.name)} must be bytes`);
        }
        const dbKey = SECRET_PREFIX + op.name;
        return { type: 'put' as const, key: dbKey, value: sealRecord(key, dbKey, op.value) };
      }
      case 'putPublic': {
        const bad = jsonProblem(op.value, op.name);
        if (bad) throw new FrostnetError('INVALID_INPUT', `public record ${JSON.stringify(op.name)}: ${bad}`);
        return {
          type: 'put' as const,
          key: PUBLIC_PREFIX + op.name,
          value: utf8.encode(JSON.stringify(op.value)),
        };
      }
      case 'del':
        if (op.kind !== 'secret' && op.kind !== 'public') {
          throw new FrostnetError('INVALID_INPUT', `unknown record kind ${JSON.stringify(op.kind)}`);
        }
        return {
          type: 'del' as const,
          key: (op.kind === 'secret' ? SECRET_PREFIX : PUBLIC_PREFIX) + op.name,
        };
      default:
        throw new FrostnetError(
          'INVALID_INPUT',
          `unknown store op ${JSON.stringify((op as { type: unknown }).type)}`,
        );
    }
  };

  const store: Store = {
    dir,
    async getSecret(name) {
      live();
      checkName(name);
      const dbKey = SECRET_PREFIX + name;
      const sealed = await db.get(dbKey);
      if (sealed === undefined) return undefined;
      const value = openRecord(key, dbKey, sealed);
      if (value === undefined) {
        throw new FrostnetError(
          'STORE_CORRUPT',
          `secret ${JSON.stringify(name)} cannot be decrypted: it was altered`,
        );
      }
      return value;
    },
    async getPublic<T>(name: string) {
      live();
      checkName(name);
      const bytes = await db.get(PUBLIC_PREFIX + name);
      if (bytes === undefined) return undefined;
      try {
        return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as T;
      } catch {
        throw new FrostnetError('STORE_CORRUPT', `public record ${JSON.stringify(name)} is not valid JSON`);
      }
    },
    putSecret: (name, value) => store.batch([{ type: 'putSecret', name, value }]),
    putPublic: (name, value) => store.batch([{ type: 'putPublic', name, value }]),
    del: (kind, name) => store.batch([{ type: 'del', kind, name }]),
    async list(prefix = '') {
      live();
      if (typeof prefix !== 'string')
        throw new FrostnetError('INVALID_INPUT', 'list prefix must be a string');
      const out: Array<{ name: string; kind: RecordKind }> = [];
      for (const [kind, ns] of [
        ['secret', SECRET_PREFIX],
        ['public', PUBLIC_PREFIX],
      ] as const) {
        // Keys sharing a prefix are contiguous in LevelDB's order: stop at the first that does not match.
        for await (const k of db.keys({ gte: ns + prefix })) {
          if (!k.startsWith(ns + prefix)) break;
          out.push({ name: k.slice(ns.length), kind });
        }
      }
      return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind === 'secret' ? -1 : 1));
    },
    async batch(ops) {
      live();
      if (!Array.isArray(ops)) throw new FrostnetError('INVALID_INPUT', 'batch takes an array of ops');
      // Everything that can fail is done before the single write.
      const writes = ops.map(toBatch);
      if (writes.length > 0) await db.batch(writes);
    },
    async close() {
      if (closed) return;
      closed = true;
      key.fill(0);
      await db.close();
    },
  };
  return store;
}

// ---------------------------------------------------------------------------------------------------------
// Records

/** version(1) || nonce(24) || XChaCha20-Poly1305(ciphertext || tag), bound to the record's database key. */
function sealRecord(key: Uint8Array, dbKey: string, plaintext: Uint8Array): Uint8Array {
  const { nonce, ciphertext: ct } = seal(key, utf8.encode(AD_PREFIX + dbKey), plaintext);
  const out = new Uint8Array(1 + NONCE_BYTES + ct.byteLength);
  out[0] = RECORD_VERSION;
  out.set(nonce, 1);
  out.set(ct, 1 + NONCE_BYTES);
  return out;
}

/** The plaintext, or undefined when the record is malformed or fails authentication. */
function openRecord(key: Uint8Array, dbKey: string, record: Uint8Array): Uint8Array | undefined {
  if (record.byteLength < 1 + NONCE_BYTES + TAG_BYTES || record[0] !== RECORD_VERSION) return undefined;
  const nonce = record.subarray(1, 1 + NONCE_BYTES);
  return unseal(key, nonce, utf8.encode(AD_PREFIX + dbKey), record.subarray(1 + NONCE_BYTES));
}

function parseKdf(bytes: Uint8Array, dir: string): KdfRecord {
  let record: KdfRecord;
  try {
    record = JSON.parse(new TextDecoder().decode(bytes)) as KdfRecord;
  } catch {
    throw new FrostnetError('STORE_CORRUPT', `the key derivation record of the store at ${dir} is not JSON`);
  }
  checkKdf(record, dir);
  return record;
}

/** Bounds stored parameters too, so an edited record cannot make an open take gigabytes or hours. */
function checkKdf(k: KdfRecord, dir: string): void {
  const ok = isBoundedScrypt(k, MIN_N.store) && k.v === 1 && k.kdf === 'scrypt';
  if (!ok) {
    throw new FrostnetError(
      'STORE_CORRUPT',
      `bad key derivation parameters for the store at ${dir} (scrypt N must be a power of two in 2^10..2^20, r 1..32, p 1..16)`,
    );
  }
}

async function hasAnyRecord(db: Level<string, Uint8Array>): Promise<boolean> {
  for await (const _ of db.keys({ limit: 1 })) return true;
  return false;
}

function checkName(name: string): void {
  // Control characters would make names ambiguous in logs and listings.
  const printable = typeof name === 'string' && ![...name].some((c) => c < ' ' || c === '\x7f');
  if (!printable || name.length === 0 || name.length > MAX_NAME_CHARS) {
    throw new FrostnetError(
      'INVALID_INPUT',
      `record name ${JSON.stringify(name)} must be 1..${MAX_NAME_CHARS} printable characters`,
    );
  }
}

/** Why `v` is not plain JSON data (which JSON.stringify would silently mangle), or null when it is. */
function jsonProblem(v: unknown, path: string, depth = 0): string | null {
  if (depth > 64) return `${path} is nested too deep`;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return null;
  if (typeof v === 'number') return Number.isFinite(v) ? null : `${path} is not a finite number`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = jsonProblem(v[i], `${path}[${i}]`, depth + 1);
      if (bad) return bad;
    }
    return null;
  }
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      return `${path} is a ${v.constructor?.name ?? 'non-plain object'}, not JSON data (encode bytes as hex)`;
    }
    for (const [k, x] of Object.entries(v)) {
      const bad = jsonProblem(x, `${path}.${k}`, depth + 1);
      if (bad) return bad;
    }
    return null;
  }
  return `${path} is a ${typeof v}, not JSON data`;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

// ---------------------------------------------------------------------------------------------------------
// Passphrase source

export const DEFAULT_PASSPHRASE_ENV = 'FROSTNET_PASSPHRASE';

export interface PassphraseSource {
  /** Environment variable holding the passphrase; default FROSTNET_PASSPHRASE. */
  env?: string;
  /** File holding the passphrase (one trailing newline is ignored); takes precedence over `env`. */
  file?: string;
  /** The environment to read; default process.env. */
  environ?: Readonly<Record<string, string | undefined>>;
}

/** The store passphrase from a file or an environment variable, never from a command-line argument. */
export async function readPassphrase(src: PassphraseSource = {}): Promise<string> {
  if (src.file !== undefined) {
    let text: string;
    try {
      text = await readFile(src.file, 'utf8');
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why =
        code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : errorMessage(e);
      throw new FrostnetError('INVALID_INPUT', `passphrase file ${src.file} ${why}`);
    }
    const passphrase = text.replace(/\r?\n$/, '');
    if (passphrase.length === 0)
      throw new FrostnetError('INVALID_INPUT', `passphrase file ${src.file} is empty`);
    return passphrase;
  }
  const name = src.env ?? DEFAULT_PASSPHRASE_ENV;
  const value = (src.environ ?? process.env)[name];
  if (value === undefined) {
    throw new FrostnetError(
      'INVALID_INPUT',
      `no store passphrase: set the environment variable ${name} or configure passphraseFile`,
    );
  }
  if (value.length === 0)
    throw new FrostnetError('INVALID_INPUT', `the environment variable ${name} is empty`);
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// A party's store

/** What a party's config says of its store: the data dir it lives in and where its passphrase comes from. */
export interface PartyStoreConfig {
  dataDir: string;
  passphraseEnv?: string;
  passphraseFile?: string;
}

/** Where a party keeps its store: `store/` in its data dir. */
export const storeDir = (cfg: { dataDir: string }): string => join(cfg.dataDir, 'store');

/** Opens the party's store with its passphrase (the one place that reads it). */
export async function openPartyStore(cfg: PartyStoreConfig, passphrase?: string): Promise<Store> {
  const secret = passphrase ?? (await readPassphrase({ env: cfg.passphraseEnv, file: cfg.passphraseFile }));
  return openStore(storeDir(cfg), secret);
}
