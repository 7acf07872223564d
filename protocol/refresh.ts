/**
 * Proactive share refresh: every member deals a polynomial with a zero constant term, so the shared secret and
 * the group key stay the same while every share changes. A zero constant is enforced by the wire format itself:
 * a dealer commits only to coefficients 1..t-1, so no contribution can move the key. Old and new shares lie on
 * different polynomials and never combine into a valid signature.
 */
import type { RNG } from '@noble/curves/abstract/frost.js';
import { randomBytes } from '@noble/curves/utils.js';
import { type CeremonyContext, type CeremonyOptions, validateContext } from './context.ts';
import {
  type Bytes,
  evalCommitment,
  evalCommitmentAt,
  evalPolynomial,
  Fn,
  type Point,
  parsePoint,
  pointToBytes,
  randomScalar,
} from './curve.ts';
import { publicSummary } from './dkg.ts';
import { mulBase } from './ecc.ts';
import { FrostnetError } from './errors.ts';
import { at } from './indexing.ts';
import {
  groupKey,
  identifierOf,
  identifierScalar,
  type KeyShare,
  type PartyId,
  verifyingShareBytes,
} from './keys.ts';
import { type Dealing, type Dealt, VssCeremony } from './vss.ts';

class RefreshDealing implements Dealing<KeyShare> {
  readonly commitmentLength: number;
  private readonly ctx: CeremonyContext;
  private readonly current: KeyShare;
  private readonly rng: RNG;
  private coefficients: bigint[] = [];

  constructor(ctx: CeremonyContext, current: KeyShare, rng: RNG) {
    this.ctx = ctx;
    this.current = current;
    this.rng = rng;
    this.commitmentLength = ctx.threshold - 1;
  }

  deal() {
    this.coefficients = Array.from({ length: this.commitmentLength }, () => randomScalar(this.rng));
    return { commitment: this.coefficients.map((a) => mulBase(a)), proof: new Uint8Array(0) };
  }

  checkRound1(dealer: PartyId, dealt: Dealt): void {
    // Nothing to prove: a dealer can only randomise, never move the key, so no proof of knowledge is needed.
    if (dealt.proof.length !== 0)
      throw new FrostnetError('INVALID_PROOF', `${dealer} sent a proof in a refresh`, [dealer]);
  }

  sharesFor(receivers: readonly PartyId[]): Map<PartyId, bigint> {
    return new Map(
      receivers.map((r) => [
        r,
        evalPolynomial([0n, ...this.coefficients], identifierScalar(identifierOf(this.current.group, r))),
      ]),
    );
  }

  expectedShare(commitment: readonly Point[], x: bigint): Point {
    return evalCommitment(commitment, x, 1); // coefficients 1..t-1 only
  }

  combine(round1: ReadonlyMap<PartyId, Dealt>, shares: ReadonlyMap<PartyId, bigint>, transcript: Uint8Array) {
    const base = this.current.group;
    const self = identifierOf(base, this.ctx.self);
    const x = identifierScalar(self);
    // New polynomial commitment: constant term unchanged, higher terms summed over every dealer.
    const commitments = base.public.commitments.map((c) => parsePoint(c));
    for (const { commitment } of round1.values())
      commitment.forEach((p, k) => {
        commitments[k + 1] = at(commitments, k + 1, 'the refreshed commitment').add(p);
      });
    const key = at(commitments, 0, 'the refreshed commitment');
    if (!key.equals(groupKey(base)))
      throw new FrostnetError('KEY_CHANGED', 'refresh would change the group key');
    const verifyingShares: Record<string, Bytes> = {};
    const values = evalCommitmentAt(commitments, base.identifiers.map(identifierScalar));
    base.identifiers.forEach((id, i) => {
      verifyingShares[id] = pointToBytes(at(values, i, 'the refreshed verifying shares'));
    });
    let share = Fn.fromBytes(this.current.secret.signingShare);
    share = Fn.add(share, evalPolynomial([0n, ...this.coefficients], x));
    for (const s of shares.values()) share = Fn.add(share, s);
    if (share === 0n || !mulBase(share).equals(parsePoint(verifyingShareBytes({ verifyingShares }, self))))
      throw new FrostnetError('INTERNAL', 'refreshed share does not match its verifying share');
    const pub = {
      signers: { ...base.public.signers },
      commitments: commitments.map(pointToBytes),
      verifyingShares,
    };
    const group = { ...base, public: pub, epoch: base.epoch + 1, transcript };
    return {
      result: { group, secret: { identifier: self, signingShare: Fn.toBytes(share) as Bytes } },
      summary: publicSummary(base.identifiers, pub),
    };
  }
}

/**
 * Starts a refresh of `current` among all its members. The session id must be fresh and agreed.
 */
export function createRefresh(
  sessionId: Uint8Array,
  self: PartyId,
  current: KeyShare,
  opts: CeremonyOptions = {},
): VssCeremony<KeyShare> {
  const g = current.group;
  const ctx: CeremonyContext = {
    kind: 'refresh',
    sessionId,
    threshold: g.threshold,
    dealers: g.members,
    receivers: g.members,
    self,
    base: g,
    ...(opts.proposal && { proposal: opts.proposal }),
    ...(opts.attributes && { attributes: opts.attributes }),
  };
  validateContext(ctx);
  if (current.secret.identifier !== identifierOf(g, self))
    throw new FrostnetError('INVALID_INPUT', 'the key share does not belong to this party');
  const rng = opts.rng ?? randomBytes;
  return new VssCeremony(ctx, () => new RefreshDealing(ctx, current, rng), rng);
}
