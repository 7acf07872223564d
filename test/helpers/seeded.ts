/**
 * Seeded runs for tests that must replay: a deterministic byte stream to stand in for a ceremony's rng, and a
 * digest of everything a run produced, to pin it as a vector.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { type Bytes, bytesToHex } from '../../protocol/curve.ts';

/**
 * SHA-256 in counter mode over `seed`, handed out byte by byte, so the same seed gives the same bytes however
 * they are asked for. Never crypto randomness.
 */
export function seededBytes(seed: string): (n?: number) => Bytes {
  let counter = 0;
  let pool = new Uint8Array(0);
  return (n = 32): Bytes => {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (pool.length === 0) pool = sha256(new TextEncoder().encode(`${seed}/${counter++}`));
      const take = Math.min(pool.length, n - filled);
      out.set(pool.subarray(0, take), filled);
      pool = pool.subarray(take);
      filled += take;
    }
    return out as Bytes;
  };
}

/** A canonical text of a test value: bytes as hex, Maps as their entries, object keys sorted. */
function canonical(v: unknown): unknown {
  if (v instanceof Uint8Array) return bytesToHex(v);
  if (v instanceof Map) return [...v].map(([k, x]) => [canonical(k), canonical(x)]);
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v === 'bigint') return `${v}n`;
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** SHA-256 (hex) of the canonical text of `v`: one line that pins a whole run's messages and results. */
export const digestOf = (v: unknown): string =>
  bytesToHex(sha256(new TextEncoder().encode(JSON.stringify(canonical(v)))));
