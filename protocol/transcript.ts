/** Unambiguous encoding of values for hashing: every field is length-prefixed, so no two inputs collide. */
import { taggedHash } from './curve.ts';

export type Field = Uint8Array | string | number | readonly Field[];

function encodeInto(out: number[], f: Field): void {
  if (typeof f === 'number') {
    if (!Number.isSafeInteger(f) || f < 0)
      throw new Error('transcript: numbers must be non-negative integers');
    out.push(0x01, ...u32(Math.floor(f / 2 ** 32)), ...u32(f >>> 0));
  } else if (typeof f === 'string') {
    const b = new TextEncoder().encode(f);
    out.push(0x02, ...u32(b.length), ...b);
  } else if (f instanceof Uint8Array) {
    out.push(0x03, ...u32(f.length), ...f);
  } else {
    out.push(0x04, ...u32(f.length));
    for (const x of f) encodeInto(out, x);
  }
}

const u32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

export function encodeFields(...fields: Field[]): Uint8Array {
  const out: number[] = [];
  for (const f of fields) encodeInto(out, f);
  return Uint8Array.from(out);
}

/** Domain-separated hash of a list of fields. */
export const hashFields = (tag: string, ...fields: Field[]): Uint8Array =>
  taggedHash(`Frostnet/${tag}`, encodeFields(...fields));
