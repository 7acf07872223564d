/** Unambiguous encoding of values for hashing: every field is length-prefixed, so no two inputs collide. */
import { taggedHash } from './curve.ts';

export type Field = Uint8Array | string | number | readonly Field[];

/** Bytes `f` takes in the encoding. */
function sizeOf(f: Field): number {
  if (typeof f === 'number') return 9;
  if (typeof f === 'string') return 5 + new TextEncoder().encode(f).length;
  if (f instanceof Uint8Array) return 5 + f.length;
  let n = 5;
  for (const x of f) n += sizeOf(x);
  return n;
}

function encodeInto(out: Uint8Array, view: DataView, at: number, f: Field): number {
  if (typeof f === 'number') {
    if (!Number.isSafeInteger(f) || f < 0)
      throw new Error('transcript: numbers must be non-negative integers');
    out[at] = 0x01;
    view.setUint32(at + 1, Math.floor(f / 2 ** 32));
    view.setUint32(at + 5, f >>> 0);
    return at + 9;
  }
  if (typeof f === 'string') {
    const b = new TextEncoder().encode(f);
    out[at] = 0x02;
    view.setUint32(at + 1, b.length);
    out.set(b, at + 5);
    return at + 5 + b.length;
  }
  if (f instanceof Uint8Array) {
    out[at] = 0x03;
    view.setUint32(at + 1, f.length);
    out.set(f, at + 5);
    return at + 5 + f.length;
  }
  out[at] = 0x04;
  view.setUint32(at + 1, f.length);
  let next = at + 5;
  for (const x of f) next = encodeInto(out, view, next, x);
  return next;
}

/** Each field as a tag byte, a 32-bit big-endian length (or count) and its content; numbers as 64 bits. */
export function encodeFields(...fields: Field[]): Uint8Array {
  const out = new Uint8Array(fields.reduce<number>((n, f) => n + sizeOf(f), 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const f of fields) at = encodeInto(out, view, at, f);
  return out;
}

/** Domain-separated hash of a list of fields. */
export const hashFields = (tag: string, ...fields: Field[]): Uint8Array =>
  taggedHash(`Frostnet/${tag}`, encodeFields(...fields));
