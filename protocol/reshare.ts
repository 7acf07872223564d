/**
 * Reshare: moves the group secret to a new committee, a new threshold, or both, keeping the group key (and so
 * every address and account derived from it). At least t current members deal: each shares λ_i·s_i, its
 * signing share weighted by its Lagrange coefficient at 0 over the dealer set, with a fresh polynomial of the
 * new degree. The weighted shares sum to the group secret, so the summed polynomials share that secret among
 * the new committee.
 *
 * Each dealer's constant term must be λ_i·Y_i, computable by anyone from the current group's public data. So
 * every receiver, newcomers included (they hold only that public data), checks each dealing against the group
 * key before accepting a share, and a dealer that would move the key is named. Old and new shares lie on
 * unrelated polynomials and never combine into a signature.
 */
import type { Identifier, RNG } from '@noble/curves/abstract/frost.js';
import { randomBytes } from '@noble/curves/utils.js';
import {
  type CeremonyContext,
  type CeremonyOptions,
  ceremonyIdentifiers,
  validateContext,
} from './context.ts';
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
import { mul, mulBase } from './ecc.ts';
import { FrostnetError } from './errors.ts';
import { at, entry } from './indexing.ts';
import {
  groupKey,
  identifierOf,
  identifierScalar,
  type KeyGroup,
  type KeyShare,
  type PartyId,
  verifyingShareBytes,
} from './keys.ts';
import { type Dealing, type Dealt, lagrangeCoefficient, VssCeremony } from './vss.ts';

/** What a dealer that is not in the new committee gets: the new group, and the duty to erase its old share. */
export type RemovedFromGroup = { readonly removed: true; readonly group: KeyGroup };

/** A receiver's new key share, or a removed dealer's notice. */
export type ReshareResult = KeyShare | RemovedFromGroup;

export const isRemoved = (r: ReshareResult): r is RemovedFromGroup =>
  (r as RemovedFromGroup).removed === true;

export type ResharePlan = {
  /** Threshold of the new key. */
  readonly threshold: number;
  /** The new committee, in its member order. */
  readonly members: readonly PartyId[];
  /** Current members that deal: at least the current threshold of them. */
  readonly dealers: readonly PartyId[];
};

/** A member's verifying share s_i·G, parsed. */
export const verifyingShareOf = (group: KeyGroup, party: PartyId): Point =>
  parsePoint(verifyingShareBytes(group.public, identifierOf(group, party)), `verifying share of ${party}`);

/**
 * Refuses a group whose verifying shares do not lie on its commitment. A party that holds only a group's public
 * data (a newcomer, a party repairing its share) judges others against these shares; doctored ones would make
 * it blame honest parties.
 */
export function checkGroupConsistency(group: KeyGroup): void {
  const commitment = group.public.commitments.map((c, i) => parsePoint(c, `group commitment ${i}`));
  const values = evalCommitmentAt(
    commitment,
    group.members.map((m) => identifierScalar(identifierOf(group, m))),
  );
  for (const [i, m] of group.members.entries()) {
    if (!at(values, i, 'the verifying shares').equals(verifyingShareOf(group, m)))
      throw new FrostnetError(
        'INVALID_INPUT',
        `the current key group is inconsistent: the verifying share of ${m} is not on its commitment`,
      );
  }
}

class ReshareDealing implements Dealing<ReshareResult> {
  readonly commitmentLength: number;
  private readonly ctx: CeremonyContext;
  private readonly base: KeyGroup;
  private readonly current?: KeyShare;
  private readonly ids: Map<PartyId, Identifier>;
  /** λ_i at 0 over the dealer set, per dealer. */
  private readonly lambdas: Map<PartyId, bigint>;
  private readonly rng: RNG;
  private coefficients: bigint[] = [];

  constructor(ctx: CeremonyContext, rng: RNG, current?: KeyShare) {
    this.ctx = ctx;
    this.base = ctx.base!;
    this.current = current;
    this.rng = rng;
    this.commitmentLength = ctx.threshold;
    this.ids = ceremonyIdentifiers(ctx);
    const xs = ctx.dealers.map((d) => identifierScalar(identifierOf(this.base, d)));
    this.lambdas = new Map(
      ctx.dealers.map((d, k) => [d, lagrangeCoefficient(xs, at(xs, k, 'dealer identifiers'))]),
    );
  }

  private x(party: PartyId): bigint {
    return identifierScalar(this.ids.get(party)!);
  }

  deal() {
    const weighted = Fn.mul(
      this.lambdas.get(this.ctx.self)!,
      Fn.fromBytes(this.current!.secret.signingShare),
    );
    const random = Array.from({ length: this.ctx.threshold - 1 }, () => randomScalar(this.rng));
    this.coefficients = [weighted, ...random];
    return { commitment: this.coefficients.map((a) => mulBase(a)), proof: new Uint8Array(0) };
  }

  checkRound1(dealer: PartyId, dealt: Dealt): void {
    // The constant term is pinned to public data, so there is no rogue key to prevent and no proof to carry.
    if (dealt.proof.length !== 0)
      throw new FrostnetError('INVALID_PROOF', `${dealer} sent a proof in a reshare`, [dealer]);
    const expected = mul(verifyingShareOf(this.base, dealer), this.lambdas.get(dealer)!);
    if (!at(dealt.commitment, 0, `the commitment of ${dealer}`).equals(expected))
      throw new FrostnetError(
        'INVALID_COMMITMENT',
        `${dealer} dealt a constant term other than its weighted verifying share: it would change the group key`,
        [dealer],
      );
  }

  sharesFor(receivers: readonly PartyId[]): Map<PartyId, bigint> {
    return new Map(receivers.map((r) => [r, evalPolynomial(this.coefficients, this.x(r))]));
  }

  expectedShare(commitment: readonly Point[], x: bigint): Point {
    return evalCommitment(commitment, x);
  }

  combine(round1: ReadonlyMap<PartyId, Dealt>, shares: ReadonlyMap<PartyId, bigint>, transcript: Uint8Array) {
    const { ctx, base } = this;
    // The new group commitment: the dealers' commitments summed coefficient by coefficient.
    const [first, ...rest] = ctx.dealers.map((d) => entry(round1, d, 'round 1').commitment);
    if (first === undefined) throw new FrostnetError('INVALID_INPUT', 'a reshare needs at least one dealer');
    const commitments = first.map((c, k) =>
      rest.reduce((acc, other) => acc.add(at(other, k, 'a dealer commitment')), c),
    );
    // Implied by the per-dealer checks on a consistent base group; kept as the last word on the key.
    if (!at(commitments, 0, 'the reshared commitment').equals(groupKey(base)))
      throw new FrostnetError('KEY_CHANGED', 'reshare would change the group key');
    const identifiers = ctx.receivers.map((r) => this.ids.get(r)!);
    const verifyingShares: Record<string, Bytes> = {};
    const values = evalCommitmentAt(
      commitments,
      ctx.receivers.map((r) => this.x(r)),
    );
    ctx.receivers.forEach((r, i) => {
      verifyingShares[this.ids.get(r)!] = pointToBytes(at(values, i, 'the reshared verifying shares'));
    });
    const pub = {
      signers: { min: ctx.threshold, max: ctx.receivers.length },
      commitments: commitments.map(pointToBytes),
      verifyingShares,
    };
    const group: KeyGroup = {
      threshold: ctx.threshold,
      members: [...ctx.receivers],
      identifiers,
      public: pub,
      chainCode: base.chainCode,
      epoch: base.epoch + 1,
      transcript,
    };
    const summary = publicSummary(identifiers, pub);
    if (!ctx.receivers.includes(ctx.self)) return { result: { removed: true, group } as const, summary };
    let share = ctx.dealers.includes(ctx.self) ? evalPolynomial(this.coefficients, this.x(ctx.self)) : 0n;
    for (const s of shares.values()) share = Fn.add(share, s);
    const identifier = this.ids.get(ctx.self)!;
    if (
      share === 0n ||
      !mulBase(share).equals(parsePoint(verifyingShareBytes({ verifyingShares }, identifier)))
    )
      throw new FrostnetError('INTERNAL', 'reshared share does not match its verifying share');
    return { result: { group, secret: { identifier, signingShare: Fn.toBytes(share) as Bytes } }, summary };
  }
}

/**
 * Starts a reshare of the key `held` belongs to. Dealers pass their current KeyShare; newcomers (and current
 * members that do not deal) may pass just the current KeyGroup, its public data from the invite. The session id
 * must be fresh and agreed; `plan` must be the same at every participant.
 */
export function createReshare(
  sessionId: Uint8Array,
  self: PartyId,
  held: KeyShare | KeyGroup,
  plan: ResharePlan,
  opts: CeremonyOptions = {},
): VssCeremony<ReshareResult> {
  const current = 'secret' in held ? held : undefined;
  const base = current ? current.group : (held as KeyGroup);
  const ctx: CeremonyContext = {
    kind: 'reshare',
    sessionId,
    threshold: plan.threshold,
    dealers: [...plan.dealers],
    receivers: [...plan.members],
    self,
    base,
    ...(opts.proposal && { proposal: opts.proposal }),
    ...(opts.attributes && { attributes: opts.attributes }),
  };
  validateContext(ctx);
  checkGroupConsistency(base);
  if (ctx.dealers.includes(self)) {
    if (!current) throw new FrostnetError('INVALID_INPUT', 'a dealer needs its current key share');
    const s = Fn.fromBytes(current.secret.signingShare);
    if (
      current.secret.identifier !== identifierOf(base, self) ||
      s === 0n ||
      !mulBase(s).equals(verifyingShareOf(base, self))
    )
      throw new FrostnetError('INVALID_INPUT', 'the key share does not belong to this party');
  }
  const rng = opts.rng ?? randomBytes;
  return new VssCeremony<ReshareResult>(ctx, () => new ReshareDealing(ctx, rng, current), rng);
}
