/**
 * Key groups and key shares: what a DKG, refresh or reshare produces and what signing consumes.
 * Parties are named by their peer id. Their FROST identifiers are small numbers given out by the DKG in member
 * order and kept for life (refresh, reshare, repair): small identifiers make every polynomial evaluation a
 * short multi-scalar multiplication.
 */
import type { FrostPublic, FrostSecret, Identifier } from '@noble/curves/abstract/frost.js';
import { secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { type Bytes, bytesToHex, Fn, hexToBytes, type Point, parsePoint, parseScalar } from './curve.ts';
import { FrostnetError } from './errors.ts';
import { at } from './indexing.ts';
import { hashFields } from './transcript.ts';

export type PartyId = string;

/** Public data of a key group at one epoch: the same at every member. */
export type KeyGroup = {
  readonly threshold: number;
  /** Members in their agreed order. */
  readonly members: readonly PartyId[];
  /** FROST identifier of each member, in member order. */
  readonly identifiers: readonly Identifier[];
  /** Untweaked FROST public package: commitments[0] is the group key. */
  readonly public: FrostPublic;
  /** BIP32 chain code, derived from the DKG transcript so that no party picks it. */
  readonly chainCode: Uint8Array;
  /** 0 after the DKG, +1 with each refresh or reshare. */
  readonly epoch: number;
  /** Hash of the ceremony transcript that produced this epoch, confirmed by every member. */
  readonly transcript: Uint8Array;
};

export type KeyShare = { readonly group: KeyGroup; readonly secret: FrostSecret };

const MAX_PARTY_ID = 128;

export const numberedIdentifier = (n: number): Identifier => secp256k1_FROST.Identifier.fromNumber(n);

export const identifierScalar = (id: Identifier): bigint => Fn.fromBytes(hexToBytes(id));

/** Checks threshold and member list: 2 <= t <= n, unique, non-empty party ids. */
export function validateParameters(threshold: number, members: readonly PartyId[]): void {
  if (!Array.isArray(members))
    throw new FrostnetError('INVALID_INPUT', 'members must be a list of party ids');
  const n = members.length;
  if (!Number.isSafeInteger(threshold) || threshold < 2 || threshold > n)
    throw new FrostnetError('INVALID_INPUT', `threshold ${threshold} must be between 2 and the ${n} members`);
  if (n > 255) throw new FrostnetError('INVALID_INPUT', `${n} members: at most 255 are supported`);
  const seen = new Set<string>();
  for (const m of members) {
    if (typeof m !== 'string' || m.length === 0 || m.length > MAX_PARTY_ID)
      throw new FrostnetError('INVALID_INPUT', 'a party id is a non-empty string of at most 128 characters');
    if (seen.has(m)) throw new FrostnetError('INVALID_INPUT', `member ${m} is listed twice`, [m]);
    seen.add(m);
  }
}

/** Decoded group keys, per group and its key's bytes: a party looks its keys up by group key for every request. */
const GROUP_KEYS = new WeakMap<KeyGroup, { bytes: Uint8Array; point: Point }>();

/** The group's untweaked key, encoded: the first commitment of its public package. */
export const groupKeyBytes = (pub: { readonly commitments: readonly Uint8Array[] }): Uint8Array =>
  at(pub.commitments, 0, 'the public package of a key group');

/** The verifying share `pub` lists for identifier `id`; a package without one is refused. */
export function verifyingShareBytes(
  pub: { readonly verifyingShares: Readonly<Record<string, Uint8Array>> },
  id: Identifier,
): Uint8Array {
  const share = pub.verifyingShares[id];
  if (share === undefined)
    throw new FrostnetError('INVALID_INPUT', `the key group lists no verifying share for identifier ${id}`);
  return share;
}

export function groupKey(group: KeyGroup): Point {
  const bytes = groupKeyBytes(group.public);
  const hit = GROUP_KEYS.get(group);
  if (hit?.bytes === bytes) return hit.point;
  const point = parsePoint(bytes, 'group key');
  GROUP_KEYS.set(group, { bytes, point });
  return point;
}

/**
 * Digest of all of a key group's public data: threshold, members and their identifiers, commitments, verifying
 * shares, chain code, epoch and transcript. Two parties with the same digest hold the same group; a custody
 * proposal and every ceremony context that starts from a group bind it through this.
 */
export const groupDigest = (g: KeyGroup): Uint8Array =>
  hashFields(
    'group',
    g.threshold,
    [...g.members],
    [...g.identifiers],
    [...g.public.commitments],
    g.identifiers.map((id) => verifyingShareBytes(g.public, id)),
    g.chainCode,
    g.epoch,
    g.transcript,
  );

/** A member's FROST identifier in this group. */
export function identifierOf(group: KeyGroup, party: PartyId): Identifier {
  const i = group.members.indexOf(party);
  if (i < 0)
    throw new FrostnetError('UNEXPECTED_SENDER', `${party} is not a member of this key group`, [party]);
  return at(group.identifiers, i, 'identifiers of the key group');
}

/**
 * The group with `replacement` holding `old`'s place: the same identifier, verifying share and epoch. Used when
 * a member lost its whole device and comes back under a new identity that the other members vouch for; its
 * share is then rebuilt by repair. The shares do not change, so nothing else in the group does.
 */
export function replaceMember(group: KeyGroup, old: PartyId, replacement: PartyId): KeyGroup {
  const i = group.members.indexOf(old);
  if (i < 0) throw new FrostnetError('INVALID_INPUT', `${old} is not a member of this key group`, [old]);
  const members = group.members.map((m, j) => (j === i ? replacement : m));
  validateParameters(group.threshold, members);
  return { ...group, members };
}

// --- JSON form, for the store and the wire. Hex for bytes; validated when read back. ---

export type KeyShareJSON = {
  group: {
    threshold: number;
    members: string[];
    identifiers: string[];
    commitments: string[];
    verifyingShares: Record<string, string>;
    chainCode: string;
    epoch: number;
    transcript: string;
  };
  secret: { identifier: string; signingShare: string };
};

export function keyGroupToJSON(g: KeyGroup): KeyShareJSON['group'] {
  return {
    threshold: g.threshold,
    members: [...g.members],
    identifiers: [...g.identifiers],
    commitments: g.public.commitments.map(bytesToHex),
    verifyingShares: Object.fromEntries(
      Object.entries(g.public.verifyingShares).map(([k, v]) => [k, bytesToHex(v)]),
    ),
    chainCode: bytesToHex(g.chainCode),
    epoch: g.epoch,
    transcript: bytesToHex(g.transcript),
  };
}

const hex = (s: unknown, what: string, len?: number): Bytes => {
  if (typeof s !== 'string' || !/^([0-9a-f]{2})*$/.test(s))
    throw new FrostnetError('INVALID_INPUT', `${what}: expected lowercase hex`);
  const b = hexToBytes(s) as Bytes;
  if (len !== undefined && b.length !== len)
    throw new FrostnetError('INVALID_INPUT', `${what}: expected ${len} bytes`);
  return b;
};

export function keyGroupFromJSON(j: KeyShareJSON['group']): KeyGroup {
  validateParameters(j.threshold, j.members);
  if (!Array.isArray(j.commitments) || j.commitments.length !== j.threshold)
    throw new FrostnetError('INVALID_INPUT', 'key group: commitments must have threshold entries');
  const commitments = j.commitments.map((c, i) => hex(c, `commitment ${i}`, 33));
  for (const [i, c] of commitments.entries()) parsePoint(c, `commitment ${i}`);
  if (!Array.isArray(j.identifiers) || j.identifiers.length !== j.members.length)
    throw new FrostnetError('INVALID_INPUT', 'key group: one identifier per member');
  if (new Set(j.identifiers).size !== j.identifiers.length)
    throw new FrostnetError('INVALID_INPUT', 'key group: identifiers must be distinct');
  const verifyingShares: Record<string, Bytes> = {};
  j.members.forEach((m, i) => {
    const id = at(j.identifiers, i, 'identifiers of the key group');
    parseScalar(hex(id, `identifier of ${m}`, 32), `identifier of ${m}`, true);
    const share = hex(j.verifyingShares?.[id], `verifying share of ${m}`, 33);
    parsePoint(share, `verifying share of ${m}`);
    verifyingShares[id] = share;
  });
  if (!Number.isSafeInteger(j.epoch) || j.epoch < 0)
    throw new FrostnetError('INVALID_INPUT', 'key group: bad epoch');
  return {
    threshold: j.threshold,
    members: [...j.members],
    identifiers: [...j.identifiers],
    public: { signers: { min: j.threshold, max: j.members.length }, commitments, verifyingShares },
    chainCode: hex(j.chainCode, 'chain code', 32),
    epoch: j.epoch,
    transcript: hex(j.transcript, 'transcript', 32),
  };
}

export function keyShareToJSON(k: KeyShare): KeyShareJSON {
  return {
    group: keyGroupToJSON(k.group),
    secret: { identifier: k.secret.identifier, signingShare: bytesToHex(k.secret.signingShare) },
  };
}

export function keyShareFromJSON(j: KeyShareJSON): KeyShare {
  const group = keyGroupFromJSON(j.group);
  const signingShare = hex(j.secret?.signingShare, 'signing share', 32);
  parseScalar(signingShare, 'signing share', true);
  const identifier = j.secret.identifier;
  if (!Object.hasOwn(group.public.verifyingShares, identifier))
    throw new FrostnetError('INVALID_INPUT', 'key share: identifier is not a member of its group');
  return { group, secret: { identifier, signingShare } };
}
