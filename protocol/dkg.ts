/**
 * Distributed key generation: PedPoP (Pedersen VSS with proofs of knowledge) as @noble/curves' FROST DKG
 * computes it (RFC 9591 Appendix C; test/protocol/dkg-noble.test.ts runs both against each other), through the
 * three-round engine. The proof of knowledge is bound to the ceremony context through the DKG hash's domain
 * separation tag, so a proof from another session, group or party does not verify. Every other dealer's proof
 * is checked in one batch before this party deals, and every share it receives in one batch before it combines.
 */

import { normalizeZ } from '@noble/curves/abstract/curve.js';
import type { Identifier, RNG } from '@noble/curves/abstract/frost.js';
import { secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { randomBytes } from '@noble/curves/utils.js';
import { failingParties, type Relation } from './batch.ts';
import { type CeremonyContext, ceremonyIdentifiers, validateContext } from './context.ts';
import {
  bytesToHex,
  evalCommitment,
  evalCommitmentAt,
  evalPolynomial,
  Fn,
  hexToBytes,
  Point,
  parsePoint,
  parseScalar,
  pointToBytes,
  randomScalar,
} from './curve.ts';
import { mulBase } from './ecc.ts';
import { blameOnThrow, FrostnetError } from './errors.ts';
import { at, entry } from './indexing.ts';
import { identifierScalar, type KeyGroup, type KeyShare, type PartyId, verifyingShareBytes } from './keys.ts';
import { hashFields } from './transcript.ts';
import { type Dealing, type Dealt, VssCeremony } from './vss.ts';

const SUITE = 'FROST-secp256k1-SHA256-v1';

/** The RFC 9591 secp256k1 suite's DKG hash domain, bound to one ceremony context. */
export const dkgDomain = (contextHash: Uint8Array): string => `${SUITE}dkg/${bytesToHex(contextHash)}`;

/** c = HDKG(id || C0 || R), as @noble/curves' FROST DKG computes it. */
const proofChallenge = (dst: string, identifier: string, c0: Point, R: Point): bigint =>
  secp256k1_hasher.hashToScalar(
    new Uint8Array([
      ...Fn.toBytes(Fn.fromBytes(hexToBytes(identifier))),
      ...c0.toBytes(true),
      ...R.toBytes(true),
    ]),
    { DST: dst },
  );

/**
 * A PedPoP proof of knowledge (R || z) of the party with FROST identifier `identifier`, as the relation it
 * claims: z·G - R - c·C0 = 0. A malformed proof throws INVALID_PROOF naming `party`.
 */
export function proofRelation(
  dst: string,
  identifier: string,
  c0: Point,
  proof: Uint8Array,
  party: PartyId,
): Relation {
  // 65 bytes: compressed R || z (RFC 9591 suites); 64 bytes: x-only R with even y || z (BIP340 suites).
  if (!(proof instanceof Uint8Array) || (proof.length !== 65 && proof.length !== 64))
    throw new FrostnetError('INVALID_PROOF', `proof of knowledge of ${party} must be 64 or 65 bytes`, [
      party,
    ]);
  return blameOnThrow('INVALID_PROOF', `proof of knowledge of ${party}`, [party], () => {
    const rBytes = proof.length === 65 ? proof.subarray(0, 33) : Uint8Array.of(2, ...proof.subarray(0, 32));
    const R = parsePoint(rBytes, 'proof commitment');
    const z = parseScalar(proof.subarray(-32), 'proof response');
    const c = proofChallenge(dst, identifier, c0, R);
    return { party, points: [R, c0], scalars: [Fn.neg(1n), Fn.neg(c)], base: z };
  });
}

/** Verifies one proof of knowledge; throws INVALID_PROOF naming `party` if it is malformed or false. */
export function verifyProofOfKnowledge(
  dst: string,
  identifier: string,
  c0: Point,
  proof: Uint8Array,
  party: PartyId,
): void {
  if (failingParties([proofRelation(dst, identifier, c0, proof, party)]).length)
    throw new FrostnetError('INVALID_PROOF', `invalid proof of knowledge from ${party}`, [party]);
}

/**
 * This party's polynomial, commitment and proof of knowledge (RFC 9591 Appendix C, PedPoP): the coefficients
 * and the proof's nonce are drawn from `rng`, in that order.
 */
function dealPolynomial(dst: string, identifier: string, threshold: number, rng: RNG) {
  const coefficients = Array.from({ length: threshold }, () => randomScalar(rng));
  const commitment = coefficients.map((a) => mulBase(a));
  const k = randomScalar(rng);
  const R = mulBase(k);
  const z = Fn.add(
    k,
    Fn.mul(
      at(coefficients, 0, 'the polynomial'),
      proofChallenge(dst, identifier, at(commitment, 0, 'the commitment'), R),
    ),
  );
  return { coefficients, commitment, proof: new Uint8Array([...R.toBytes(true), ...Fn.toBytes(z)]) };
}

class DkgDealing implements Dealing<KeyShare> {
  readonly commitmentLength: number;
  private readonly ctx: CeremonyContext;
  private readonly dst: string;
  private readonly ids: Map<PartyId, Identifier>;
  private readonly rng: RNG;
  private coefficients: bigint[] = [];
  /** Each dealer's proof of knowledge as the relation it claims, parsed when its package arrived. */
  private readonly proofs = new Map<PartyId, Relation>();

  constructor(ctx: CeremonyContext, contextHash: Uint8Array, rng: RNG) {
    this.ctx = ctx;
    this.commitmentLength = ctx.threshold;
    this.dst = dkgDomain(contextHash);
    this.ids = ceremonyIdentifiers(ctx);
    this.rng = rng;
  }

  private id(p: PartyId): Identifier {
    return this.ids.get(p)!;
  }

  private x(p: PartyId): bigint {
    return identifierScalar(this.id(p));
  }

  deal() {
    const { coefficients, commitment, proof } = dealPolynomial(
      this.dst,
      this.id(this.ctx.self),
      this.ctx.threshold,
      this.rng,
    );
    this.coefficients = coefficients;
    return { commitment, proof };
  }

  checkRound1(dealer: PartyId, dealt: Dealt): void {
    // The proof's form now; whether it holds is checked with every other dealer's, in one batch, before this
    // party deals its shares (sharesFor).
    this.proofs.set(
      dealer,
      proofRelation(
        this.dst,
        this.id(dealer),
        at(dealt.commitment, 0, `the commitment of ${dealer}`),
        dealt.proof,
        dealer,
      ),
    );
  }

  /** Round 2: every other dealer's proof of knowledge holds (one batch), then this dealer's shares. */
  sharesFor(receivers: readonly PartyId[], round1: ReadonlyMap<PartyId, Dealt>): Map<PartyId, bigint> {
    const proofs = [...round1.keys()].filter((p) => p !== this.ctx.self).map((p) => this.proofs.get(p)!);
    const bad = failingParties(proofs, this.rng);
    if (bad.length)
      throw new FrostnetError('INVALID_PROOF', `invalid proof of knowledge from ${bad.join(', ')}`, bad);
    return new Map(receivers.map((r) => [r, evalPolynomial(this.coefficients, this.x(r))]));
  }

  expectedShare(commitment: readonly Point[], x: bigint): Point {
    return evalCommitment(commitment, x);
  }

  combine(round1: ReadonlyMap<PartyId, Dealt>, shares: ReadonlyMap<PartyId, bigint>, transcript: Uint8Array) {
    const { ctx } = this;
    const t = ctx.threshold;
    // The group's polynomial commitment: every dealer's, summed coefficient by coefficient.
    const sum = Array.from({ length: t }, (_, k) =>
      ctx.dealers.reduce(
        (acc, d) => acc.add(at(entry(round1, d, 'round 1').commitment, k, `the commitment of ${d}`)),
        Point.ZERO,
      ),
    );
    const commitment = normalizeZ(Point, sum);
    const verifying = normalizeZ(
      Point,
      evalCommitmentAt(
        commitment,
        ctx.receivers.map((r) => this.x(r)),
      ),
    );
    const verifyingShares = Object.fromEntries(
      ctx.receivers.map((r, i) => [this.id(r), pointToBytes(at(verifying, i, 'the verifying shares'))]),
    );
    let share = evalPolynomial(this.coefficients, this.x(ctx.self));
    for (const s of shares.values()) share = Fn.add(share, s);
    this.coefficients.fill(0n);
    const self = this.id(ctx.self);
    if (
      share === 0n ||
      !mulBase(share).equals(at(verifying, ctx.receivers.indexOf(ctx.self), 'the verifying shares'))
    )
      throw new FrostnetError('INTERNAL', 'the DKG share does not match its verifying share');
    const pub = {
      signers: { min: t, max: ctx.receivers.length },
      commitments: commitment.map(pointToBytes),
      verifyingShares,
    };
    const group: KeyGroup = {
      threshold: t,
      members: [...ctx.receivers],
      identifiers: ctx.receivers.map((r) => this.id(r)),
      public: pub,
      chainCode: hashFields('chaincode', transcript),
      epoch: 0,
      transcript,
    };
    return {
      result: {
        group,
        secret: { identifier: self, signingShare: Fn.toBytes(share) as Uint8Array<ArrayBuffer> },
      },
      summary: publicSummary(group.identifiers, pub),
    };
  }
}

/** The public outcome every member confirms: group commitments and every verifying share, in member order. */
export function publicSummary(
  identifiers: readonly string[],
  pub: { commitments: readonly Uint8Array[]; verifyingShares: Readonly<Record<string, Uint8Array>> },
): Uint8Array {
  return hashFields(
    'public',
    [...pub.commitments],
    identifiers.map((id) => verifyingShareBytes(pub, id)),
  );
}

/**
 * Starts a DKG for `ctx` (kind 'dkg'): call start(), then receive() each inbound message. `rng` is the
 * ceremony's only randomness: this party's polynomial, its proof's nonce and the weights of its batched checks
 * (crypto randomness; a test may seed it to replay the whole ceremony).
 */
export function createDkg(ctx: CeremonyContext, rng: RNG = randomBytes): VssCeremony<KeyShare> {
  if (ctx.kind !== 'dkg') throw new FrostnetError('INVALID_INPUT', 'createDkg needs a dkg context');
  validateContext(ctx);
  return new VssCeremony(ctx, (hash) => new DkgDealing(ctx, hash, rng), rng);
}
