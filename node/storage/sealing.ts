/**
 * Passphrase sealing, shared by the store (store.ts) and backups (ceremonies/backup.ts): scrypt parameters and
 * their bounds, the key derivation, and XChaCha20-Poly1305 under a fresh random nonce. Each caller keeps its own
 * on-disk format (the store's records, the backup's JSON) and its own associated data; only the cryptography
 * lives here.
 */
import { randomBytes, scrypt as scryptCb } from 'node:crypto';
import { promisify } from 'node:util';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hexToBytes } from '../../protocol/curve.ts';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/** Parameters as they are kept next to what they seal: with their salt (hex). */
export type SaltedScrypt = ScryptParams & { salt: string };

/** ~128 MiB and a few hundred ms per open: the passphrase is the only thing guarding the shares on disk. */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = { N: 2 ** 17, r: 8, p: 1 };

/**
 * The lowest N each format accepts. A store may be light (a devnet's passphrase sits next to it, and tests open
 * many); a backup file travels and is the one copy an attacker may hold offline, so it is refused below 2^14.
 */
export const MIN_N = { store: 2 ** 10, backup: 2 ** 14 } as const;
/** The highest N any format accepts: a crafted file must not make an open take gigabytes. */
export const MAX_N = 2 ** 20;

export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;
export const TAG_BYTES = 16;
const SALT_BYTES = 16;

const scrypt = promisify(scryptCb) as (
  password: Uint8Array,
  salt: Uint8Array,
  keylen: number,
  options: ScryptParams & { maxmem: number },
) => Promise<Buffer>;

/** A fresh salt, hex. */
export const newSalt = (): string => randomBytes(SALT_BYTES).toString('hex');

/**
 * Whether `k` holds scrypt parameters within bounds, N at least `minN`: N a power of two up to 2^20, r 1..32,
 * p 1..16 and a salt of 16 to 64 bytes in lowercase hex.
 */
export function isBoundedScrypt(k: unknown, minN: number): k is SaltedScrypt {
  if (k === null || typeof k !== 'object') return false;
  const { N, r, p, salt } = k as Partial<Record<keyof SaltedScrypt, unknown>>;
  return (
    typeof N === 'number' &&
    Number.isInteger(N) &&
    N >= minN &&
    N <= MAX_N &&
    (N & (N - 1)) === 0 &&
    typeof r === 'number' &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= 32 &&
    typeof p === 'number' &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= 16 &&
    typeof salt === 'string' &&
    /^([0-9a-f]{2}){16,64}$/.test(salt)
  );
}

/** The 32-byte key scrypt derives from `passphrase` (NFKC-normalized, UTF-8) under `kdf`. */
export async function deriveKey(passphrase: string, kdf: SaltedScrypt): Promise<Uint8Array> {
  const secret = new TextEncoder().encode(passphrase.normalize('NFKC'));
  const maxmem = 128 * kdf.N * kdf.r * kdf.p + 32 * 1024 * 1024;
  const derived = await scrypt(secret, hexToBytes(kdf.salt), KEY_BYTES, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem,
  });
  const key = new Uint8Array(derived);
  derived.fill(0);
  secret.fill(0);
  return key;
}

/** XChaCha20-Poly1305 of `plaintext` under `key` and a fresh nonce, bound to `ad`. */
export function seal(
  key: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): { nonce: Uint8Array; ciphertext: Uint8Array } {
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
  return { nonce, ciphertext: xchacha20poly1305(key, nonce, ad).encrypt(plaintext) };
}

/** The plaintext, or undefined when the ciphertext does not authenticate under `key`, `nonce` and `ad`. */
export function unseal(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array | undefined {
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(ciphertext);
  } catch {
    return undefined;
  }
}
