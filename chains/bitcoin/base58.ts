/** Base58Check encoding (BIP32 extended keys); the decoder lives in the tools that read them. */
import { sha256 } from '@noble/hashes/sha2.js';

const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function base58(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 58n)] + out;
    n /= 58n;
  }
  // Each leading zero byte is written as a leading '1'.
  for (const b of bytes) {
    if (b !== 0) break;
    out = ALPHABET[0] + out;
  }
  return out;
}

/** Payload followed by the first four bytes of its double SHA-256. */
export function base58check(payload: Uint8Array): string {
  const check = sha256(sha256(payload)).subarray(0, 4);
  const data = new Uint8Array(payload.length + 4);
  data.set(payload, 0);
  data.set(check, payload.length);
  return base58(data);
}
