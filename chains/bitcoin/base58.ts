/** Base58Check (BIP32 extended keys): encoding for our own keys, decoding for the external keys we are given. */
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';

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

/** The payload of a Base58Check string; refuses other characters and a wrong checksum. */
export function base58checkDecode(text: string, what: string): Uint8Array {
  let n = 0n;
  for (const c of text) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) throw new FrostnetError('INVALID_INPUT', `${what}: "${c}" is not a base58 character`);
    n = n * 58n + BigInt(v);
  }
  const body: number[] = [];
  for (; n > 0n; n >>= 8n) body.unshift(Number(n & 0xffn));
  let zeros = 0;
  while (text[zeros] === ALPHABET[0]) zeros++;
  const data = Uint8Array.from([...new Array<number>(zeros).fill(0), ...body]);
  if (data.length < 4) throw new FrostnetError('INVALID_INPUT', `${what}: too short`);
  const payload = data.subarray(0, data.length - 4);
  if (!equalBytes(sha256(sha256(payload)).subarray(0, 4), data.subarray(data.length - 4)))
    throw new FrostnetError('INVALID_INPUT', `${what}: checksum does not match (a typo?)`);
  return Uint8Array.from(payload);
}
