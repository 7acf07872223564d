/**
 * The three-round engine shared by DKG, refresh and reshare. Dealers broadcast polynomial commitments (round 1;
 * a participant that does not deal sends an empty round 1, its word that it takes part), send each receiver its
 * share together with digests of every round-1 package they saw (round 2, so a dealer who shows different
 * packages to different parties is caught), and everyone confirms a hash of the whole transcript and its
 * outcome (round 3). The result is released only when every confirmation matches.
 *
 * No share is dealt before every participant has sent round 1: a receiver that is not there (a newcomer whose
 * daemon is down) stops the ceremony before anyone computes, let alone confirms, an outcome.
 *
 * Pure: messages in, messages out. A protocol violation throws a FrostnetError naming the culprits, after which
 * the ceremony is dead.
 */

import type { RNG } from '@noble/curves/abstract/frost.js';
import { randomBytes } from '@noble/curves/utils.js';
import { failingParties, type Relation } from './batch.ts';
import {
  type CeremonyContext,
  ceremonyIdentifiers,
  contextHash,
  participants,
  validateContext,
} from './context.ts';
import { equalBytes, Fn, type Point, parsePoint, parseScalar, scalarToBytes } from './curve.ts';
import { blameOnThrow, FrostnetError } from './errors.ts';
import { at } from './indexing.ts';
import { identifierScalar, type PartyId } from './keys.ts';
import { hashFields } from './transcript.ts';

export type Round1 = {
  readonly round: 1;
  readonly commitment: readonly Uint8Array[];
  readonly proof: Uint8Array;
};
export type Round2 = {
  readonly round: 2;
  readonly share: Uint8Array;
  readonly digests: readonly Uint8Array[];
};
export type Round3 = { readonly round: 3; readonly confirmation: Uint8Array };
export type CeremonyMessage = Round1 | Round2 | Round3;
export type Outbound = { readonly to: PartyId; readonly message: CeremonyMessage };

/** What one call returns: messages to send; `pending` once the outcome is computed and this party confirms it;
 * `result` once every participant confirmed. Persist `pending` before sending the confirmation. */
export type Step<R> = { readonly send: readonly Outbound[]; readonly pending?: R; readonly result?: R };

/** A dealer's round-1 package after parsing. */
export type Dealt = { readonly commitment: readonly Point[]; readonly proof: Uint8Array };

/** What makes a ceremony a DKG, a refresh or a reshare. */
export interface Dealing<R> {
  /** Points in every dealer's commitment. */
  readonly commitmentLength: number;
  /** This party's own round-1 package (called once, only on dealers). */
  deal(): { commitment: readonly Point[]; proof: Uint8Array };
  /** Checks a dealer's package beyond point validity (proof of knowledge, constant term); throws if bad. */
  checkRound1(dealer: PartyId, dealt: Dealt): void;
  /** This dealer's shares for every other receiver, given every dealer's package. */
  sharesFor(receivers: readonly PartyId[], round1: ReadonlyMap<PartyId, Dealt>): Map<PartyId, bigint>;
  /** The point a receiver at x must get from a dealer with this commitment: share·G. */
  expectedShare(commitment: readonly Point[], x: bigint): Point;
  /** The outcome, and a public summary of it that everyone confirms. `shares` is empty on non-receivers. */
  combine(
    round1: ReadonlyMap<PartyId, Dealt>,
    shares: ReadonlyMap<PartyId, bigint>,
    transcript: Uint8Array,
  ): { result: R; summary: Uint8Array };
}

/**
 * Lagrange coefficient of the share at `xi` for interpolating at `at` over the points `xs`:
 * prod_{j != i} (at - x_j) / (x_i - x_j). Weighting f(x_j) by these recovers f(at) for any f of degree below
 * |xs|: at 0 that is the shared secret (reshare), at a member's identifier it is that member's share (repair).
 */
export function lagrangeCoefficient(xs: readonly bigint[], xi: bigint, at = 0n): bigint {
  if (new Set(xs).size !== xs.length || !xs.includes(xi))
    throw new FrostnetError('INVALID_INPUT', 'interpolation points must be distinct and include the share');
  let num = 1n;
  let den = 1n;
  for (const xj of xs) {
    if (xj === xi) continue;
    num = Fn.mul(num, Fn.sub(at, xj));
    den = Fn.mul(den, Fn.sub(xi, xj));
  }
  return Fn.div(num, den);
}

const messageDigest = (ctxHash: Uint8Array, from: PartyId, m: CeremonyMessage): Uint8Array => {
  switch (m.round) {
    case 1:
      return hashFields('round1', ctxHash, from, [...m.commitment], m.proof);
    case 2:
      return hashFields('round2', ctxHash, from, m.share, [...m.digests]);
    case 3:
      return hashFields('round3', ctxHash, from, m.confirmation);
  }
};

export class VssCeremony<R> {
  readonly ctx: CeremonyContext;
  readonly contextHash: Uint8Array;
  private readonly dealing: Dealing<R>;
  private readonly everyone: PartyId[];
  /** Messages of rounds 2, 3 and 4 (index 0: the packages' senders, 1: shares, 2: confirmations). */
  private readonly inbox: readonly [
    Map<PartyId, CeremonyMessage>,
    Map<PartyId, CeremonyMessage>,
    Map<PartyId, CeremonyMessage>,
  ] = [new Map(), new Map(), new Map()];
  private readonly seen = new Map<string, Uint8Array>();
  private readonly round1 = new Map<PartyId, Dealt>();
  /** Participants that do not deal and sent their empty round 1. */
  private readonly joined = new Set<PartyId>();
  private digests?: Uint8Array[];
  private confirmation?: Uint8Array;
  private outcome?: R;
  private started = false;
  private finished = false;
  private failure?: FrostnetError;
  /** Weights of the batched share check (crypto randomness unless a test seeds it). */
  private readonly rng: RNG;

  constructor(
    ctx: CeremonyContext,
    makeDealing: (contextHash: Uint8Array) => Dealing<R>,
    rng: RNG = randomBytes,
  ) {
    validateContext(ctx);
    this.ctx = ctx;
    this.rng = rng;
    this.contextHash = contextHash(ctx);
    this.dealing = makeDealing(this.contextHash);
    this.everyone = participants(ctx);
  }

  private get isDealer() {
    return this.ctx.dealers.includes(this.ctx.self);
  }
  private get isReceiver() {
    return this.ctx.receivers.includes(this.ctx.self);
  }
  private others(list: readonly PartyId[]) {
    return list.filter((p) => p !== this.ctx.self);
  }

  /** Round 1: a dealer broadcasts its commitment; every other participant says it takes part. */
  start(): Step<R> {
    return this.guard(() => {
      if (this.started) throw new FrostnetError('INVALID_INPUT', 'ceremony already started');
      this.started = true;
      const send: Outbound[] = [];
      let message: Round1 = { round: 1, commitment: [], proof: new Uint8Array() };
      if (this.isDealer) {
        const { commitment, proof } = this.dealing.deal();
        this.round1.set(this.ctx.self, { commitment, proof });
        message = { round: 1, commitment: commitment.map((p) => p.toBytes(true)), proof };
      } else this.joined.add(this.ctx.self);
      for (const to of this.others(this.everyone)) send.push({ to, message });
      return this.advance(send);
    });
  }

  receive(from: PartyId, message: CeremonyMessage): Step<R> {
    return this.guard(() => {
      if (!this.started) throw new FrostnetError('INVALID_INPUT', 'ceremony not started');
      if (from === this.ctx.self || !this.everyone.includes(from))
        throw new FrostnetError('UNEXPECTED_SENDER', `${from} takes no part in this ceremony`, [from]);
      const round = message?.round;
      if (round !== 1 && round !== 2 && round !== 3)
        throw new FrostnetError('INVALID_INPUT', `unknown round from ${from}`, [from]);
      const expected = round !== 2 || (this.ctx.dealers.includes(from) && this.isReceiver);
      if (!expected)
        throw new FrostnetError('UNEXPECTED_SENDER', `${from} may not send round ${round} here`, [from]);
      const digest = blameOnThrow('INVALID_INPUT', `malformed round ${round} from ${from}`, [from], () =>
        messageDigest(this.contextHash, from, message),
      );
      const key = `${round}:${from}`;
      const before = this.seen.get(key);
      if (before) {
        if (equalBytes(before, digest)) return { send: [] }; // a retransmission
        throw new FrostnetError('EQUIVOCATION', `${from} sent two different round ${round} messages`, [from]);
      }
      this.seen.set(key, digest);
      if (message.round === 1 && !this.ctx.dealers.includes(from)) this.acceptJoin(from, message);
      else if (message.round === 1) this.acceptRound1(from, message);
      else if (message.round === 2) this.checkRound2Shape(from, message);
      else if (!(message.confirmation instanceof Uint8Array) || message.confirmation.length !== 32)
        throw new FrostnetError('INVALID_INPUT', `confirmation from ${from} must be 32 bytes`, [from]);
      at(this.inbox, round - 1, 'inboxes').set(from, message);
      return this.advance([]);
    });
  }

  /** Parties whose message for the current round has not arrived: for timeouts. */
  waitingFor(): PartyId[] {
    if (this.finished || this.failure) return [];
    if (!this.digests)
      return this.others(this.everyone).filter((p) => !this.round1.has(p) && !this.joined.has(p));
    if (!this.confirmation)
      return this.isReceiver ? this.others(this.ctx.dealers).filter((d) => !this.inbox[1].has(d)) : [];
    return this.others(this.everyone).filter((p) => !this.inbox[2].has(p));
  }

  get done(): boolean {
    return this.finished;
  }

  private acceptRound1(from: PartyId, m: Round1): void {
    const len = this.dealing.commitmentLength;
    if (!Array.isArray(m.commitment) || m.commitment.length !== len)
      throw new FrostnetError(
        'INVALID_COMMITMENT',
        `${from} sent a commitment of ${m.commitment?.length} points, expected ${len}`,
        [from],
      );
    const commitment = blameOnThrow('INVALID_COMMITMENT', `commitment from ${from}`, [from], () =>
      m.commitment.map((c, i) => parsePoint(c, `commitment point ${i}`)),
    );
    const dealt = { commitment, proof: m.proof };
    blameOnThrow('INVALID_PROOF', `round-1 package from ${from}`, [from], () =>
      this.dealing.checkRound1(from, dealt),
    );
    this.round1.set(from, dealt);
  }

  /** A participant that does not deal sends round 1 empty: no commitment, no proof. */
  private acceptJoin(from: PartyId, m: Round1): void {
    if (!Array.isArray(m.commitment) || m.commitment.length !== 0 || m.proof?.length !== 0)
      throw new FrostnetError('INVALID_COMMITMENT', `${from} deals nothing here but sent a commitment`, [
        from,
      ]);
    this.joined.add(from);
  }

  private checkRound2Shape(from: PartyId, m: Round2): void {
    blameOnThrow('INVALID_SHARE', `share from ${from}`, [from], () => parseScalar(m.share, 'share'));
    const n = this.ctx.dealers.length;
    if (!Array.isArray(m.digests) || m.digests.length !== n || m.digests.some((d) => d?.length !== 32))
      throw new FrostnetError(
        'INVALID_INPUT',
        `${from} sent ${m.digests?.length} round-1 digests, expected ${n}`,
        [from],
      );
  }

  private advance(send: Outbound[]): Step<R> {
    const { ctx } = this;
    // Round 2: every dealer's package is in, and every other participant joined.
    const allJoined = this.everyone.every((p) => ctx.dealers.includes(p) || this.joined.has(p));
    if (!this.digests && allJoined && ctx.dealers.every((d) => this.round1.has(d))) {
      this.digests = ctx.dealers.map((d) => {
        const p = this.round1.get(d)!;
        return messageDigest(this.contextHash, d, {
          round: 1,
          commitment: p.commitment.map((c) => c.toBytes(true)),
          proof: p.proof,
        });
      });
      if (this.isDealer) {
        const shares = this.dealing.sharesFor(this.others(ctx.receivers), this.round1);
        for (const [to, share] of shares)
          send.push({ to, message: { round: 2, share: scalarToBytes(share), digests: this.digests } });
      }
    }
    // Round 3: every share is in (receivers) or the packages are (others).
    const sharesIn = !this.isReceiver || this.others(ctx.dealers).every((d) => this.inbox[1].has(d));
    if (this.digests && !this.confirmation && sharesIn) {
      const shares = this.verifyRound2();
      const transcript = hashFields('transcript', this.contextHash, this.digests);
      const { result, summary } = this.dealing.combine(this.round1, shares, transcript);
      this.confirmation = hashFields('confirm', transcript, summary);
      this.outcome = result;
      for (const to of this.others(this.everyone))
        send.push({ to, message: { round: 3, confirmation: this.confirmation } });
      if (!this.complete()) return { send, pending: result };
      this.finished = true;
      return { send, pending: result, result };
    }
    if (this.confirmation && !this.finished && this.inbox[2].size > 0 && this.complete()) {
      this.finished = true;
      return { send, result: this.outcome };
    }
    return { send };
  }

  /** Digests agree with ours (no equivocation) and every share matches its dealer's commitment. */
  private verifyRound2(): Map<PartyId, bigint> {
    const shares = new Map<PartyId, bigint>();
    if (!this.isReceiver) return shares;
    const x = identifierScalar(ceremonyIdentifiers(this.ctx).get(this.ctx.self)!);
    const equivocators = new Set<PartyId>();
    const reporters: string[] = [];
    for (const [from, m] of this.inbox[1] as Map<PartyId, Round2>) {
      m.digests.forEach((d, k) => {
        if (!equalBytes(d, at(this.digests ?? [], k, 'round-1 digests'))) {
          equivocators.add(at(this.ctx.dealers, k, 'dealers'));
          reporters.push(from);
        }
      });
    }
    if (equivocators.size > 0)
      throw new FrostnetError(
        'EQUIVOCATION',
        `round-1 packages of ${[...equivocators].join(', ')} were seen differently by ${[...new Set(reporters)].join(', ')}`,
        [...equivocators],
      );
    // Every share against its dealer's commitment (s·G = commitment at x), all in one batch.
    const relations: Relation[] = [];
    for (const [from, m] of this.inbox[1] as Map<PartyId, Round2>) {
      const s = parseScalar(m.share);
      shares.set(from, s);
      const expected = this.dealing.expectedShare(this.round1.get(from)!.commitment, x);
      relations.push({ party: from, points: [expected], scalars: [1n], base: Fn.neg(s) });
    }
    const bad = failingParties(relations, this.rng);
    if (bad.length) throw new FrostnetError('INVALID_SHARE', `invalid share from ${bad.join(', ')}`, bad);
    return shares;
  }

  /** Every other participant confirmed our transcript; a differing confirmation ends the ceremony. */
  private complete(): boolean {
    const confirmations = this.inbox[2] as Map<PartyId, Round3>;
    const mismatched = [...confirmations].filter(([, m]) => !equalBytes(m.confirmation, this.confirmation!));
    if (mismatched.length)
      throw new FrostnetError(
        'CONFIRMATION_MISMATCH',
        `transcript confirmation of ${mismatched.map(([p]) => p).join(', ')} differs from ours; no key is accepted`,
        mismatched.map(([p]) => p),
      );
    return this.others(this.everyone).every((p) => confirmations.has(p));
  }

  private guard(fn: () => Step<R>): Step<R> {
    if (this.failure) throw this.failure;
    try {
      return fn();
    } catch (e) {
      const err =
        e instanceof FrostnetError
          ? e
          : new FrostnetError('INTERNAL', e instanceof Error ? e.message : String(e));
      // Misbehaviour by a participant kills the ceremony; a local misuse or an outsider's message does not.
      const byParticipant = err.culprits.some((c) => this.everyone.includes(c));
      if (byParticipant || err.code === 'INTERNAL') this.failure = err;
      throw err;
    }
  }
}
