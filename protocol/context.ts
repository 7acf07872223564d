/**
 * The context every ceremony message is bound to: session id, ceremony kind, threshold, the ordered dealers and
 * receivers, and for refresh/reshare the key group being changed. Two sessions, groups or kinds never share a
 * context hash, so nothing from one can be replayed into another.
 */

import type { Identifier, RNG } from '@noble/curves/abstract/frost.js';
import { FrostnetError } from './errors.ts';
import { at } from './indexing.ts';
import {
  groupDigest,
  groupKey,
  identifierScalar,
  type KeyGroup,
  numberedIdentifier,
  type PartyId,
  validateParameters,
} from './keys.ts';
import { hashFields } from './transcript.ts';

export type CeremonyKind = 'dkg' | 'refresh' | 'reshare';

export type CeremonyContext = {
  readonly kind: CeremonyKind;
  readonly sessionId: Uint8Array;
  /** Threshold of the key the ceremony produces. */
  readonly threshold: number;
  /** Parties that deal a polynomial (round 1 and 2). */
  readonly dealers: readonly PartyId[];
  /** Parties that receive shares and hold the resulting key, in the resulting member order. */
  readonly receivers: readonly PartyId[];
  /** This party. */
  readonly self: PartyId;
  /** The key group being refreshed or reshared (absent for a DKG). */
  readonly base?: KeyGroup;
  /** Digest of the custody proposal that approved a refresh or reshare (protocol/proposal.ts). */
  readonly proposal?: Uint8Array;
  /**
   * The key's agreed properties beyond its shares (its Bitcoin network), as the layer above encodes them: a
   * party told other properties than the rest runs another ceremony than theirs, and fails.
   */
  readonly attributes?: Uint8Array;
};

/**
 * What a refresh or reshare may be given beside its plan: the digest of the custody proposal that approved it
 * (bound into the context), and its randomness `rng`, the only one it draws from: its polynomial's coefficients
 * and the weights of its batched checks (crypto randomness; a test may seed it to replay the whole ceremony).
 */
export type CeremonyOptions = {
  readonly proposal?: Uint8Array;
  readonly rng?: RNG;
  readonly attributes?: Uint8Array;
};

export const SESSION_ID_BYTES = 32;

export function validateContext(ctx: CeremonyContext): void {
  if (!(ctx.sessionId instanceof Uint8Array) || ctx.sessionId.length !== SESSION_ID_BYTES)
    throw new FrostnetError('INVALID_INPUT', 'session id must be 32 bytes');
  validateParameters(ctx.threshold, ctx.receivers);
  if (ctx.dealers.length === 0 || new Set(ctx.dealers).size !== ctx.dealers.length)
    throw new FrostnetError('INVALID_INPUT', 'dealers must be a non-empty list without repeats');
  if (!ctx.dealers.includes(ctx.self) && !ctx.receivers.includes(ctx.self))
    throw new FrostnetError('INVALID_INPUT', `party ${ctx.self} takes no part in this ceremony`);
  if (ctx.kind === 'dkg' && (ctx.base || !sameList(ctx.dealers, ctx.receivers)))
    throw new FrostnetError('INVALID_INPUT', 'a DKG has no base key and its dealers are its receivers');
  if (ctx.proposal !== undefined && (!(ctx.proposal instanceof Uint8Array) || ctx.proposal.length !== 32))
    throw new FrostnetError('INVALID_INPUT', 'a proposal digest is 32 bytes');
  if (ctx.attributes !== undefined && !(ctx.attributes instanceof Uint8Array))
    throw new FrostnetError('INVALID_INPUT', 'key attributes are bytes');
  if (ctx.kind !== 'dkg' && !ctx.base)
    throw new FrostnetError('INVALID_INPUT', `${ctx.kind} needs the current key group`);
  if (ctx.kind === 'refresh') {
    const base = ctx.base!;
    if (!sameList(ctx.dealers, base.members) || !sameList(ctx.receivers, base.members))
      throw new FrostnetError('INVALID_INPUT', 'a refresh runs among exactly the current members');
    if (ctx.threshold !== base.threshold)
      throw new FrostnetError('INVALID_INPUT', 'a refresh keeps the threshold');
  }
  if (ctx.kind === 'reshare') {
    // Receivers may be any new committee (checked above); the dealers must be able to reconstruct the secret.
    const base = ctx.base!;
    const outsiders = ctx.dealers.filter((d) => !base.members.includes(d));
    if (outsiders.length)
      throw new FrostnetError(
        'INVALID_INPUT',
        `only current members deal in a reshare; ${outsiders.join(', ')} ${outsiders.length > 1 ? 'are' : 'is'} not`,
      );
    if (ctx.dealers.length < base.threshold)
      throw new FrostnetError(
        'INVALID_INPUT',
        `a reshare needs at least ${base.threshold} dealers of the current group, got ${ctx.dealers.length}`,
      );
  }
}

const sameList = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

export function contextHash(ctx: CeremonyContext): Uint8Array {
  const base = ctx.base;
  return hashFields(
    'context',
    ctx.kind,
    ctx.sessionId,
    ctx.threshold,
    [...ctx.dealers],
    [...ctx.receivers],
    // The whole public group: a newcomer learns it from the invite, and a vouch changes members without
    // changing the transcript; only this binds it to what the others hold, so that a newcomer given another
    // group than the dealers hold runs another ceremony than theirs.
    base ? [groupKey(base).toBytes(true), groupDigest(base)] : [],
    ctx.proposal ?? new Uint8Array(),
    // Appended only when given, so contexts without it hash as they always did.
    ...(ctx.attributes ? [ctx.attributes] : []),
  );
}

/** All parties that exchange messages in the ceremony (dealers first, then receivers not dealing). */
export const participants = (ctx: CeremonyContext): PartyId[] => [
  ...ctx.dealers,
  ...ctx.receivers.filter((r) => !ctx.dealers.includes(r)),
];

/**
 * FROST identifiers of everyone who receives a share: members of the base group keep theirs, newcomers are
 * numbered after the largest one in use, in receiver order (a DKG numbers its members 1..n).
 */
export function ceremonyIdentifiers(ctx: CeremonyContext): Map<PartyId, Identifier> {
  const ids = new Map<PartyId, Identifier>();
  const base = ctx.base;
  let next = 1;
  if (base) {
    for (const [i, m] of base.members.entries())
      ids.set(m, at(base.identifiers, i, 'identifiers of the base group'));
    next = Number(base.identifiers.map(identifierScalar).reduce((a, b) => (a > b ? a : b), 0n)) + 1;
  }
  for (const r of ctx.receivers) if (!ids.has(r)) ids.set(r, numberedIdentifier(next++));
  return ids;
}
