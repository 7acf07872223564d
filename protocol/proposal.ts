/**
 * Custody proposals: a change of who holds a key (refresh, reshare, repair) asked of the current key itself.
 * t members, each under its own policy, approve a proposal by signing its digest with the untweaked group key
 * (BIP340). The digest is a hash tagged for this domain alone, so no Bitcoin sighash, EIP-712 digest or raw
 * message is ever a proposal, and no proposal signature is ever valid as one of those (they sign under derived
 * keys). Every dealer, helper and newcomer checks the signature and that the proposal describes exactly the
 * ceremony it is invited to: neither a single member nor a coordinator can change who holds a key.
 *
 * A proposal names the current epoch (key, epoch, transcript and a digest of the whole public group) and a
 * session id, so it is used once: after the ceremony the epoch has moved on, and a member removed by a reshare
 * can bring back neither an old proposal nor a new one (it holds no share of the new epoch to sign with).
 */
import { equalBytes, parsePoint, xOnly } from './curve.ts';
import { FrostnetError } from './errors.ts';
import { groupDigest, groupKey, type KeyGroup, type PartyId, validateParameters } from './keys.ts';
import { verifyBip340 } from './sign.ts';
import { hashFields } from './transcript.ts';

export type ProposalKind = 'refresh' | 'reshare' | 'repair';
export const PROPOSAL_KINDS: readonly ProposalKind[] = ['refresh', 'reshare', 'repair'];

/** The longest a proposal may stay valid: past this, parties refuse to sign it. */
export const MAX_PROPOSAL_SECONDS = 7 * 86_400;

export type CustodyProposal = {
  readonly kind: ProposalKind;
  readonly keyName: string;
  /** The current group: compressed group key, epoch, transcript, and the digest of all its public data. */
  readonly groupKey: Uint8Array;
  readonly epoch: number;
  readonly transcript: Uint8Array;
  readonly groupDigest: Uint8Array;
  /** Threshold and members after the ceremony (unchanged by refresh and repair). */
  readonly threshold: number;
  readonly members: readonly PartyId[];
  /** Who deals (refresh: every member; reshare: at least t current members) or helps (repair). */
  readonly dealers: readonly PartyId[];
  /** Repair only: the member whose share is rebuilt. */
  readonly lost?: PartyId;
  /** The session id the ceremony runs under (32 bytes). */
  readonly sessionId: Uint8Array;
  readonly proposer: PartyId;
  /** Unix seconds; nobody acts on the proposal after this. */
  readonly expiresAt: number;
};

/** The plan of a proposal: what changes, and who deals or helps. */
export type ProposalPlan = Pick<CustodyProposal, 'threshold' | 'members' | 'dealers' | 'lost'>;

/** The message the group key signs for a proposal: a hash tagged for custody proposals alone. */
export function proposalDigest(p: CustodyProposal): Uint8Array {
  return hashFields(
    'custody-proposal/v1',
    p.kind,
    p.keyName,
    p.groupKey,
    p.epoch,
    p.transcript,
    p.groupDigest,
    p.threshold,
    [...p.members],
    [...p.dealers],
    p.lost ?? '',
    p.sessionId,
    p.proposer,
    p.expiresAt,
  );
}

/** A proposal of `kind` for `group`'s current epoch. Validated as every party will validate it. */
export function makeProposal(
  kind: ProposalKind,
  keyName: string,
  group: KeyGroup,
  plan: ProposalPlan,
  o: { sessionId: Uint8Array; proposer: PartyId; expiresAt: number; now: number },
): CustodyProposal {
  const p: CustodyProposal = {
    kind,
    keyName,
    groupKey: groupKey(group).toBytes(true),
    epoch: group.epoch,
    transcript: group.transcript,
    groupDigest: groupDigest(group),
    threshold: plan.threshold,
    members: [...plan.members],
    dealers: [...plan.dealers],
    ...(plan.lost !== undefined && { lost: plan.lost }),
    sessionId: o.sessionId,
    proposer: o.proposer,
    expiresAt: o.expiresAt,
  };
  checkProposal(p, group, o.now);
  return p;
}

/**
 * Refuses a proposal that is not for `group` as this party holds it (another key, epoch, transcript or public
 * data), that has run out or lives too long, or whose plan is not a valid ceremony of its kind. `now` is unix
 * seconds.
 */
export function checkProposal(p: CustodyProposal, group: KeyGroup, now: number): void {
  const bad = (why: string) => new FrostnetError('INVALID_INPUT', `custody proposal: ${why}`);
  if (!PROPOSAL_KINDS.includes(p.kind)) throw bad(`unknown kind ${String(p.kind)}`);
  if (!(p.sessionId instanceof Uint8Array) || p.sessionId.length !== 32)
    throw bad('the session id must be 32 bytes');
  if (!Number.isSafeInteger(p.expiresAt)) throw bad('bad expiry');
  if (p.expiresAt <= now) throw new FrostnetError('POLICY_DENIED', 'custody proposal: it has expired');
  if (p.expiresAt > now + MAX_PROPOSAL_SECONDS)
    throw bad(`it may be valid for at most ${MAX_PROPOSAL_SECONDS / 86_400} days`);
  if (
    !equalBytes(p.groupKey, groupKey(group).toBytes(true)) ||
    p.epoch !== group.epoch ||
    !equalBytes(p.transcript, group.transcript)
  )
    throw new FrostnetError(
      'EPOCH_MISMATCH',
      `custody proposal for epoch ${p.epoch} of key ${p.keyName}; this party holds epoch ${group.epoch}`,
    );
  if (!equalBytes(p.groupDigest, groupDigest(group)))
    throw new FrostnetError(
      'EPOCH_MISMATCH',
      `custody proposal names another key group than this party holds at epoch ${group.epoch} (other members or shares)`,
    );
  if (!group.members.includes(p.proposer)) throw bad(`proposer ${p.proposer} is not a member`);
  checkPlan(p.kind, group, p);
}

/** The plan is a valid ceremony of `kind` from `group`. */
export function checkPlan(kind: ProposalKind, group: KeyGroup, plan: ProposalPlan): void {
  const bad = (why: string) => new FrostnetError('INVALID_INPUT', `${kind} of the key: ${why}`);
  const unique = (list: readonly PartyId[], what: string) => {
    if (!Array.isArray(list) || list.length === 0 || new Set(list).size !== list.length)
      throw bad(`${what} must be a non-empty list without repeats`);
  };
  const sameAsGroup =
    plan.threshold === group.threshold &&
    plan.members.length === group.members.length &&
    plan.members.every((m, i) => m === group.members[i]);
  unique(plan.dealers, kind === 'repair' ? 'the helpers' : 'the dealers');
  const strangers = plan.dealers.filter((d) => !group.members.includes(d));
  if (strangers.length) throw bad(`${strangers.join(', ')}: not current members`);
  if (plan.dealers.length < group.threshold)
    throw bad(`needs at least ${group.threshold} current members to take part, got ${plan.dealers.length}`);
  if (kind === 'reshare') {
    validateParameters(plan.threshold, plan.members);
    if (plan.lost !== undefined) throw bad('a reshare names no lost party');
    return;
  }
  if (!sameAsGroup) throw bad('keeps the threshold and the members');
  if (kind === 'refresh') {
    if (plan.dealers.length !== group.members.length || plan.dealers.some((d, i) => d !== group.members[i]))
      throw bad('every member deals, in member order');
    if (plan.lost !== undefined) throw bad('a refresh names no lost party');
    return;
  }
  if (plan.lost === undefined || !group.members.includes(plan.lost))
    throw bad('names the member whose share is rebuilt');
  if (plan.dealers.includes(plan.lost)) throw bad(`${plan.lost} cannot help repair its own share`);
}

/** The proposal's BIP340 signature by the untweaked group key. */
export function verifyProposal(p: CustodyProposal, signature: Uint8Array): boolean {
  let key: Uint8Array;
  try {
    key = xOnly(parsePoint(p.groupKey, 'group key'));
  } catch {
    return false;
  }
  return verifyBip340(signature, proposalDigest(p), key);
}

/** What a proposal changes, for people: old and new threshold and members, who joins and who leaves. */
export function proposalChange(p: CustodyProposal, group: KeyGroup) {
  return {
    oldThreshold: group.threshold,
    oldMembers: [...group.members],
    newThreshold: p.threshold,
    newMembers: [...p.members],
    added: p.members.filter((m) => !group.members.includes(m)),
    removed: group.members.filter((m) => !p.members.includes(m)),
  };
}
