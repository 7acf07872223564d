/**
 * Checks of JSON fields read from outside the daemon: the config file and the control API's request bodies.
 * Each returns the value typed, or calls `fail` with the field's name and what is wrong with it; the caller's
 * `fail` throws the error that fits (a config error, a 400 answer).
 */
import { multiaddr } from '@multiformats/multiaddr';
import { parsePeerId } from './identity.ts';

/** Throws for `field`; `problem` reads after the field's name ("must be an object"). */
export type Fail = (field: string, problem: string) => never;

export function object(v: unknown, field: string, fail: Fail): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) fail(field, 'must be an object');
  return v as Record<string, unknown>;
}

export function array(v: unknown, field: string, fail: Fail): unknown[] {
  if (!Array.isArray(v)) fail(field, 'must be an array');
  return v as unknown[];
}

export function nonEmptyString(v: unknown, field: string, fail: Fail): string {
  if (typeof v !== 'string' || v.trim().length === 0) fail(field, 'must be a non-empty string');
  return v as string;
}

export function integer(v: unknown, field: string, min: number, max: number, fail: Fail): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(field, `must be an integer from ${min} to ${max}`);
  }
  return v as number;
}

export function boolean(v: unknown, field: string, fail: Fail): boolean {
  if (typeof v !== 'boolean') fail(field, 'must be true or false');
  return v as boolean;
}

/** Refuses fields of `obj` not in `allowed`; `prefix` goes before each name in the message ("api."). */
export function only(
  obj: Record<string, unknown>,
  allowed: readonly string[],
  prefix: string,
  fail: Fail,
): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(`${prefix}${k}`, `is not a known field (known: ${allowed.join(', ')})`);
  }
}

export function peerId(v: unknown, field: string, fail: Fail): string {
  const id = nonEmptyString(v, field, fail);
  try {
    parsePeerId(id);
  } catch {
    fail(field, `is not a valid peer id: ${JSON.stringify(id).slice(0, 140)}`);
  }
  return id;
}

/** A list of distinct peer ids, `min` to `max` of them. */
export function peerIds(v: unknown, field: string, min: number, max: number, fail: Fail): string[] {
  const list = array(v, field, fail);
  if (list.length < min || list.length > max) fail(field, `must list ${min} to ${max} peer ids`);
  const seen = new Set<string>();
  return list.map((x, i) => {
    const id = peerId(x, `${field}[${i}]`, fail);
    if (seen.has(id)) fail(`${field}[${i}]`, `repeats peer ${id}`);
    seen.add(id);
    return id;
  });
}

export function tcpMultiaddr(v: unknown, field: string, fail: Fail): string {
  const s = nonEmptyString(v, field, fail);
  let names: string[] = [];
  try {
    names = multiaddr(s)
      .getComponents()
      .map((c) => c.name);
  } catch {
    fail(field, `is not a multiaddr: ${s}`);
  }
  if (!names.includes('tcp')) fail(field, `must be a TCP multiaddr like /ip4/127.0.0.1/tcp/4001, not ${s}`);
  return s;
}

/** Where to dial peer `id`: TCP multiaddrs, each ending in /p2p/`id` or in no peer id at all. */
export function peerAddrs(v: unknown, id: string, field: string, fail: Fail): string[] {
  return array(v, field, fail).map((a, j) => {
    const at = `${field}[${j}]`;
    const ma = tcpMultiaddr(a, at, fail);
    const p2p = multiaddr(ma)
      .getComponents()
      .find((c) => c.name === 'p2p')?.value;
    if (p2p !== undefined && p2p !== id) fail(at, `names peer ${p2p}, not ${id}`);
    return ma;
  });
}
