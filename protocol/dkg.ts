/**
 * Distributed key generation: PedPoP (Pedersen VSS with proofs of knowledge) on @noble/curves FROST, run
 * through the three-round engine. The proof of knowledge is bound to the ceremony context through the DKG
 * hash's domain separation tag, so a proof from another session, group or party does not verify.
 */

import type { Identifier } from '@noble/curves/abstract/frost.js';
import { createFROST, type DKG_Round1, type DKG_Round2, type FROST } from '@noble/curves/abstract/frost.js';
import { secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { type CeremonyContext, ceremonyIdentifiers, validateContext } from './context.ts';
import {
  type Bytes,
  bytesToHex,
  evalCommitment,
  Fn,
  G,
  hexToBytes,
  Point,
  parsePoint,
  parseScalar,
} from './curve.ts';
import { FrostnetError } from './errors.ts';
import type { KeyShare, PartyId } from './keys.ts';
import { hashFields } from './transcript.ts';
import { type Dealing, type Dealt, VssCeremony } from './vss.ts';

const SUITE = 'FROST-secp256k1-SHA256-v1';

/** The RFC 9591 secp256k1 suite with its DKG hash bound to one ceremony context. */
function boundSuite(contextHash: Uint8Array): { suite: FROST; dst: string } {
  const dst = `${SUITE}dkg/${bytesToHex(contextHash)}`;
  const suite = createFROST({
    name: SUITE,
    Point,
    hashToScalar: secp256k1_hasher.hashToScalar,
    hash: sha256,
    HDKG: dst,
  });
  return { suite, dst };
}

/**
 * Verifies a PedPoP proof of knowledge (R || z with z·G = R + c·C0, c = HDKG(id || C0 || R)) of the party
 * with FROST identifier `identifier`; throws INVALID_PROOF naming `party` if bad.
 */
export function verifyProofOfKnowledge(
  dst: string,
  identifier: string,
  c0: Point,
  proof: Uint8Array,
  party: PartyId,
): void {
  // 65 bytes: compressed R || z (RFC 9591 suites); 64 bytes: x-only R with even y || z (BIP340 suites).
  if (!(proof instanceof Uint8Array) || (proof.length !== 65 && proof.length !== 64))
    throw new FrostnetError('INVALID_PROOF', `proof of knowledge of ${party} must be 64 or 65 bytes`, [
      party,
    ]);
  const rBytes = proof.length === 65 ? proof.subarray(0, 33) : Uint8Array.of(2, ...proof.subarray(0, 32));
  const R = parsePoint(rBytes, 'proof commitment');
  const z = parseScalar(proof.subarray(-32), 'proof response');
  const id = Fn.fromBytes(hexToBytes(identifier));
  const msg = new Uint8Array([...Fn.toBytes(id), ...c0.toBytes(true), ...R.toBytes(true)]);
  const c = secp256k1_hasher.hashToScalar(msg, { DST: dst });
  const lhs = z === 0n ? Point.ZERO : G.multiply(z);
  if (!lhs.equals(R.add(c0.multiply(c))))
    throw new FrostnetError('INVALID_PROOF', `invalid proof of knowledge from ${party}`, [party]);
}

class DkgDealing implements Dealing<KeyShare> {
  readonly commitmentLength: number;
  private readonly ctx: CeremonyContext;
  private readonly suite: FROST;
  private readonly dst: string;
  private readonly ids: Map<PartyId, Identifier>;
  private readonly state: ReturnType<FROST['DKG']['round1']>['secret'];
  private readonly own: DKG_Round1;

  constructor(ctx: CeremonyContext, contextHash: Uint8Array) {
    this.ctx = ctx;
    this.commitmentLength = ctx.threshold;
    ({ suite: this.suite, dst: this.dst } = boundSuite(contextHash));
    this.ids = ceremonyIdentifiers(ctx);
    const r1 = this.suite.DKG.round1(this.id(ctx.self), {
      min: ctx.threshold,
      max: ctx.receivers.length,
    });
    this.state = r1.secret;
    this.own = r1.public;
  }

  private id(p: PartyId): Identifier {
    return this.ids.get(p)!;
  }

  deal() {
    return { commitment: this.own.commitment.map((c) => parsePoint(c)), proof: this.own.proofOfKnowledge };
  }

  checkRound1(dealer: PartyId, dealt: Dealt): void {
    verifyProofOfKnowledge(this.dst, this.id(dealer), dealt.commitment[0], dealt.proof, dealer);
  }

  private othersRound1(round1: ReadonlyMap<PartyId, Dealt>): DKG_Round1[] {
    return [...round1]
      .filter(([p]) => p !== this.ctx.self)
      .map(([p, d]) => ({
        identifier: this.id(p),
        commitment: d.commitment.map((c) => c.toBytes(true) as Bytes),
        proofOfKnowledge: d.proof as Bytes,
      }));
  }

  sharesFor(receivers: readonly PartyId[], round1: ReadonlyMap<PartyId, Dealt>): Map<PartyId, bigint> {
    const out = this.suite.DKG.round2(this.state, this.othersRound1(round1));
    return new Map(receivers.map((r) => [r, Fn.fromBytes(out[this.id(r)].signingShare)]));
  }

  expectedShare(commitment: readonly Point[], x: bigint): Point {
    return evalCommitment(commitment, x);
  }

  combine(round1: ReadonlyMap<PartyId, Dealt>, shares: ReadonlyMap<PartyId, bigint>, transcript: Uint8Array) {
    const round2: DKG_Round2[] = [...shares].map(([p, s]) => ({
      identifier: this.id(p),
      signingShare: Fn.toBytes(s) as Bytes,
    }));
    const key = this.suite.DKG.round3(this.state, this.othersRound1(round1), round2);
    const group = {
      threshold: this.ctx.threshold,
      members: [...this.ctx.receivers],
      identifiers: this.ctx.receivers.map((r) => this.id(r)),
      public: key.public,
      chainCode: hashFields('chaincode', transcript),
      epoch: 0,
      transcript,
    };
    return { result: { group, secret: key.secret }, summary: publicSummary(group.identifiers, key.public) };
  }
}

/** The public outcome every member confirms: group commitments and every verifying share, in member order. */
export function publicSummary(
  identifiers: readonly string[],
  pub: { commitments: readonly Uint8Array[]; verifyingShares: Record<string, Uint8Array> },
): Uint8Array {
  return hashFields(
    'public',
    [...pub.commitments],
    identifiers.map((id) => pub.verifyingShares[id]),
  );
}

/** Starts a DKG for `ctx` (kind 'dkg'): call start(), then receive() each inbound message. */
export function createDkg(ctx: CeremonyContext): VssCeremony<KeyShare> {
  if (ctx.kind !== 'dkg') throw new FrostnetError('INVALID_INPUT', 'createDkg needs a dkg context');
  validateContext(ctx);
  return new VssCeremony(ctx, (hash) => new DkgDealing(ctx, hash));
}
