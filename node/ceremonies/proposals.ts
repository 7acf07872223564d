/**
 * Custody proposals between daemons (protocol/proposal.ts). The proposer's daemon asks the members to sign the
 * proposal like any signing request: each decodes it, checks it against the key it holds and its own policy,
 * and signs only if its policy allows (often after its operator approved it). While parties hold it, the
 * proposer waits and asks again, reporting who holds it; a refusal that leaves fewer than t possible approvers
 * ends it, naming the refusing parties and why.
 *
 * Whoever is invited to the ceremony (dealer, helper, newcomer) then checks the signed proposal itself:
 * signature by the group key, the same key group it holds (or was given), the same plan and session as the
 * invite, not expired, and proposed by the party that invites. A failed check names the inviting party.
 */
import { equalBytes } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import type { KeyGroup } from '../../protocol/keys.ts';
import {
  type CustodyProposal,
  checkProposal,
  type ProposalKind,
  type ProposalPlan,
  proposalDigest,
  verifyProposal,
} from '../../protocol/proposal.ts';
import { requestIdOf, shortId } from '../policy/describe.ts';
import type { SignedProposal } from '../session/messages.ts';
import type { SignOptions, SignOutcome } from '../signing/coordinator.ts';
import { type HeldRequest, signWhenCleared } from '../signing/held.ts';

/** How long a proposal stays valid unless the proposer says otherwise: a working day for its approvers. */
export const DEFAULT_PROPOSAL_SECONDS = 86_400;

/** A proposal that waits for approvals (node/signing/held.ts), named also by `proposal`, its id. */
export type HeldProposal = HeldRequest & { proposal: string; kind: ProposalKind; expiresAt: string };

/** What a long ceremony tells its requester while it runs. */
export type CeremonyReport = {
  progress?: (line: string) => void;
  /** The proposal awaits approval (undefined once it no longer does). */
  held?: (h: HeldProposal | undefined) => void;
  /** This party confirmed the outcome; it waits for these parties' signed confirmations. */
  settling?: (missing: string[] | undefined) => void;
};

export type ApproveProposal = (
  keyName: string,
  group: KeyGroup,
  proposal: CustodyProposal,
  report: CeremonyReport,
) => Promise<SignedProposal>;

/**
 * Gets a proposal signed by the key's members through this party's coordinator, waiting while parties hold it
 * (backing off from 1 s to 15 s) until t sign, its expiry passes, or too many refuse.
 */
export function proposalApprover(o: {
  sign: (keyName: string, opts: SignOptions) => Promise<SignOutcome>;
  clock: () => number;
}): ApproveProposal {
  return async (keyName, group, proposal, report) => {
    const id = approvalId(keyName, proposal);
    const out = await signWhenCleared(
      () => o.sign(keyName, { scheme: 'bip340', payload: { proposal: { proposal } } }),
      {
        id,
        kind: proposal.kind,
        members: group.members,
        threshold: group.threshold,
        expiresAt: proposal.expiresAt * 1000,
        refused: (refused) => refusal(proposal.kind, keyName, group.threshold, refused),
        expired: (held) =>
          new FrostnetError(
            'POLICY_DENIED',
            `the ${proposal.kind} proposal ${id} for key ${keyName} expired before ${group.threshold} members approved it`,
            held.map((h) => h.party),
          ),
      },
      report.held &&
        ((h) =>
          report.held?.(h && { ...h, proposal: id, kind: proposal.kind, expiresAt: h.expiresAt ?? '' })),
      { clock: o.clock },
    );
    return { proposal, signature: out.signatures[0] };
  };
}

/** The id the approvers' queues show for the proposal (the same at every party: node/policy/describe.ts). */
const approvalId = (keyName: string, p: CustodyProposal) =>
  shortId(requestIdOf(keyName, 'proposal', [], [{ scheme: 'bip340', message: proposalDigest(p) }]));

function refusal(
  kind: ProposalKind,
  keyName: string,
  t: number,
  refused: readonly { party: string; code: string; reason: string }[],
): FrostnetError {
  return new FrostnetError(
    'POLICY_DENIED',
    `the ${kind} of key ${keyName} is refused: fewer than ${t} members can approve it (${refused
      .map((r) => r.reason)
      .join('; ')})`,
    refused.map((r) => r.party),
  );
}

/** What an invite says of the ceremony, to compare with the proposal it carries. */
export type InvitedCeremony = {
  kind: ProposalKind;
  keyName: string;
  sessionId: Uint8Array;
  plan: ProposalPlan;
};

/**
 * The proposal an invite from `from` carries, checked as this party checks a ceremony before taking part:
 * signed by the group key of `group` (the group this party holds, or the one a newcomer was given), for that
 * very group at its epoch, describing exactly the invited ceremony, proposed by `from`, not expired. Every
 * failure names `from`: it sent an invite its proposal does not back.
 */
export function checkInvitedProposal(
  signed: SignedProposal | undefined,
  invited: InvitedCeremony,
  group: KeyGroup,
  from: string,
  nowMs: number,
): CustodyProposal {
  const refuse = (why: string, code: 'POLICY_DENIED' | 'EPOCH_MISMATCH' = 'POLICY_DENIED') =>
    new FrostnetError(code, `${invited.kind} of ${invited.keyName} from ${from}: ${why}`, [from]);
  if (!signed)
    throw refuse('it carries no custody proposal; no change of who holds a key runs without t approvals');
  const p = signed.proposal;
  try {
    checkProposal(p, group, Math.floor(nowMs / 1000));
  } catch (e) {
    const err = e as FrostnetError;
    throw refuse(err.message, err.code === 'EPOCH_MISMATCH' ? 'EPOCH_MISMATCH' : 'POLICY_DENIED');
  }
  const same = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && a.every((x, i) => x === b[i]);
  const { plan } = invited;
  if (
    p.kind !== invited.kind ||
    p.keyName !== invited.keyName ||
    !equalBytes(p.sessionId, invited.sessionId) ||
    p.threshold !== plan.threshold ||
    !same(p.members, plan.members) ||
    !same(p.dealers, plan.dealers) ||
    p.lost !== plan.lost
  )
    throw refuse('the invite does not describe the ceremony its proposal approved');
  if (p.proposer !== from) throw refuse(`the proposal was made by ${p.proposer}, not by the inviting party`);
  if (!verifyProposal(p, signed.signature))
    throw refuse('the proposal is not signed by the key: t members did not approve it');
  return p;
}
