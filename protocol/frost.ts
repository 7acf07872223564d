/**
 * FROST signing arithmetic (RFC 9591, secp256k1 with SHA-256, and its BIP340 variant), on points decoded once
 * and on the backend of ./ecc.ts. It computes exactly what @noble/curves' FROST API computes (the same
 * hashes, binding factors, group commitment, even-Y adjustments and encodings; test/protocol/frost.test.ts
 * checks commitments, shares and signatures byte for byte against it), but does each piece of curve work once:
 * a signing session decodes every commitment point once, sums the group commitment as one multi-scalar
 * multiplication, and the aggregate is verified once, each share only when that fails.
 */
import type { Identifier, NonceCommitments, Nonces, RNG } from '@noble/curves/abstract/frost.js';
import { schnorr, secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE, concatBytes, randomBytes } from '@noble/curves/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { bytesToHex, Fn, hexToBytes, Point, parsePoint, pointToBytes } from './curve.ts';
import { msm, mul, mulBase, verifySchnorr } from './ecc.ts';
import { FrostnetError } from './errors.ts';
import { Memo } from './memo.ts';
import { lagrangeCoefficient } from './vss.ts';

export type Scheme = 'bip340' | 'rfc9591';

/** A signer's round-1 commitment as it travels: its FROST identifier and two compressed points. */
export type Commitment = {
  readonly identifier: Identifier;
  readonly hiding: Uint8Array;
  readonly binding: Uint8Array;
};

/** The ciphersuite's hash functions (RFC 9591 section 6.5), named as there. */
class Hashes {
  private readonly rho: Uint8Array;
  private readonly chal: Uint8Array;
  private readonly nonce: Uint8Array;
  private readonly msg: Uint8Array;
  private readonly com: Uint8Array;

  constructor(name: string) {
    this.rho = utf8ToBytes(`${name}rho`);
    this.chal = utf8ToBytes(`${name}chal`);
    this.nonce = utf8ToBytes(`${name}nonce`);
    this.msg = utf8ToBytes(`${name}msg`);
    this.com = utf8ToBytes(`${name}com`);
  }

  H1 = (m: Uint8Array): bigint => secp256k1_hasher.hashToScalar(m, { DST: this.rho });
  H2 = (m: Uint8Array): bigint => secp256k1_hasher.hashToScalar(m, { DST: this.chal });
  H3 = (m: Uint8Array): bigint => secp256k1_hasher.hashToScalar(m, { DST: this.nonce });
  H4 = (m: Uint8Array): Uint8Array => sha256(concatBytes(this.msg, m));
  H5 = (m: Uint8Array): Uint8Array => sha256(concatBytes(this.com, m));
}

const HASHES: Record<Scheme, Hashes> = {
  rfc9591: new Hashes('FROST-secp256k1-SHA256-v1'),
  bip340: new Hashes('FROST-secp256k1-SHA256-TR-v1'),
};

/** The same point with Z = 1, so that its encodings and parity cost no further inversion. */
const affine = (p: Point): Point => Point.fromAffine(p.toAffine());
const oddY = (p: Point): boolean => (p.toAffine().y & 1n) === 1n;
const xBytes = (p: Point): Uint8Array => pointToBytes(p).subarray(1);

/**
 * Round 1 for the share `signingShare` of the party `identifier`: two fresh nonces (RFC 9591 nonce_generate:
 * H3 of 32 random bytes and the share) and their commitments, constant time. The same `rng` gives the same
 * bytes as @noble/curves' commit.
 */
export function commitNonces(
  scheme: Scheme,
  identifier: Identifier,
  signingShare: Uint8Array,
  rng: RNG = randomBytes,
): { nonces: Nonces; commitments: NonceCommitments } {
  const H3 = HASHES[scheme].H3;
  const hiding = H3(concatBytes(rng(32), signingShare));
  const binding = H3(concatBytes(rng(32), signingShare));
  return {
    nonces: { hiding: Fn.toBytes(hiding), binding: Fn.toBytes(binding) } as Nonces,
    commitments: {
      identifier,
      hiding: pointToBytes(mulBase(hiding)),
      binding: pointToBytes(mulBase(binding)),
    } as NonceCommitments,
  };
}

/** A commitment whose point does not decode, naming its signer. */
export class BadCommitment extends FrostnetError {
  readonly identifier: Identifier;
  constructor(identifier: Identifier, reason: string) {
    super('INVALID_INPUT', `commitment of signer ${identifier}: ${reason}`);
    this.identifier = identifier;
  }
}

type Entry = { readonly x: bigint; readonly hiding: Uint8Array; readonly binding: Uint8Array };

/**
 * Everything a signing package determines, computed once: the binding factors, the group commitment R and the
 * challenge, for one signing key (after its tweaks, before the scheme's even-Y adjustment), message and set of
 * commitments. Immutable, so sessions are shared: `open` returns the one already computed for the same inputs.
 */
export class SigningSession {
  readonly scheme: Scheme;
  /** The key the signature verifies under, even-Y for BIP340. */
  readonly key: Point;
  /** Whether the scheme negated the tweaked key (and so negates every share and verifying share). */
  readonly negatedKey: boolean;
  readonly message: Uint8Array;
  /** The group commitment, as summed (before BIP340's even-Y adjustment). */
  readonly R: Point;
  readonly challenge: bigint;
  private readonly entries: Map<Identifier, Entry>;
  private readonly rho: Map<Identifier, bigint>;
  private readonly points: Map<Identifier, { hiding: Point; binding: Point }>;
  private readonly xs: bigint[];
  private readonly lambdas = new Map<Identifier, bigint>();

  private constructor(
    scheme: Scheme,
    key: Point,
    negatedKey: boolean,
    message: Uint8Array,
    entries: Map<Identifier, Entry>,
    rhoPrefix: Uint8Array,
  ) {
    const H = HASHES[scheme];
    this.scheme = scheme;
    this.key = key;
    this.negatedKey = negatedKey;
    this.message = message;
    this.entries = entries;
    this.xs = [...entries.values()].map((e) => e.x);
    this.rho = new Map();
    this.points = new Map();
    const hidingSum: Point[] = [];
    const bindings: Point[] = [];
    const factors: bigint[] = [];
    for (const [id, e] of entries) {
      const rho = H.H1(concatBytes(rhoPrefix, Fn.toBytes(e.x)));
      const decode = (b: Uint8Array) => {
        try {
          return parsePoint(b, 'commitment');
        } catch (err) {
          throw new BadCommitment(id, (err as Error).message);
        }
      };
      const p = { hiding: decode(e.hiding), binding: decode(e.binding) };
      this.rho.set(id, rho);
      this.points.set(id, p);
      hidingSum.push(p.hiding);
      bindings.push(p.binding);
      factors.push(rho);
    }
    // Σ D_i + Σ ρ_i·E_i: the hiding commitments carry scalar 1.
    const R = msm([...hidingSum, ...bindings], [...hidingSum.map(() => 1n), ...factors]);
    if (R.is0()) throw new FrostnetError('INVALID_INPUT', 'the group commitment is the identity');
    this.R = affine(R);
    this.challenge =
      scheme === 'bip340'
        ? Fn.create(
            bytesToNumberBE(schnorr.utils.taggedHash('BIP0340/challenge', xBytes(R), xBytes(key), message)),
          )
        : H.H2(concatBytes(pointToBytes(R), pointToBytes(key), message));
  }

  /**
   * The session for `key` (the signing key after its tweaks), `message` and `commitments` (one per signer,
   * identifiers distinct; the caller checks who they belong to). A commitment point that does not decode
   * throws BadCommitment naming its identifier.
   */
  static open(
    scheme: Scheme,
    key: Point,
    commitments: readonly Commitment[],
    message: Uint8Array,
  ): SigningSession {
    const H = HASHES[scheme];
    const normal = affine(key);
    const negatedKey = scheme === 'bip340' && oddY(normal);
    const k = negatedKey ? normal.negate() : normal;
    // RFC 9591 section 4.3: the commitment list sorted by identifier, encoded as it came.
    const sorted = commitments
      .map((c) => ({ id: c.identifier, x: Fn.fromBytes(hexToBytes(c.identifier)), c }))
      .sort((a, b) => (a.x < b.x ? -1 : a.x > b.x ? 1 : 0));
    const encoded = concatBytes(...sorted.flatMap((s) => [Fn.toBytes(s.x), s.c.hiding, s.c.binding]));
    const rhoPrefix = concatBytes(pointToBytes(k), H.H4(message), H.H5(encoded));
    // The prefix holds the even-Y key for BIP340, so whether it was negated is part of the name too.
    return SESSIONS.get(`${scheme}:${negatedKey ? 'odd' : 'even'}:${bytesToHex(rhoPrefix)}`, () => {
      const entries = new Map(
        sorted.map((s) => [s.id, { x: s.x, hiding: s.c.hiding, binding: s.c.binding }] as const),
      );
      return new SigningSession(scheme, k, negatedKey, message, entries, rhoPrefix);
    });
  }

  private entry(identifier: Identifier): Entry {
    const e = this.entries.get(identifier);
    if (!e)
      throw new FrostnetError('INVALID_INPUT', `signer ${identifier} has no commitment in this package`);
    return e;
  }

  private lambda(identifier: Identifier): bigint {
    let l = this.lambdas.get(identifier);
    if (l === undefined) {
      l = lagrangeCoefficient(this.xs, this.entry(identifier).x);
      this.lambdas.set(identifier, l);
    }
    return l;
  }

  /** Whether BIP340 flips the nonces (the group commitment has odd Y). */
  private get negatedNonces(): boolean {
    return this.scheme === 'bip340' && oddY(this.R);
  }

  /**
   * Round 2 for the signer `identifier` with its share `secret` (after the target's tweaks) and the nonces
   * behind its commitment here: z_i = d + e·ρ_i + λ_i·s·c. Scalar arithmetic only.
   */
  share(identifier: Identifier, secret: bigint, nonces: Nonces): Uint8Array {
    this.entry(identifier);
    let d = Fn.fromBytes(nonces.hiding);
    let e = Fn.fromBytes(nonces.binding);
    if (d === 0n || e === 0n) throw new FrostnetError('NONCE_REUSED', 'signing nonces already used');
    if (this.negatedNonces) {
      d = Fn.neg(d);
      e = Fn.neg(e);
    }
    const s = this.negatedKey ? Fn.neg(secret) : secret;
    const z = Fn.add(
      Fn.add(d, Fn.mul(e, this.rho.get(identifier)!)),
      Fn.mul(Fn.mul(this.lambda(identifier), s), this.challenge),
    );
    return Fn.toBytes(z);
  }

  /** The encoded signature for the aggregate response z: R || z (RFC 9591), x(R) || z (BIP340). */
  encode(z: bigint): Uint8Array {
    const r = pointToBytes(this.R);
    return concatBytes(this.scheme === 'bip340' ? r.subarray(1) : r, Fn.toBytes(z));
  }

  /** Whether z completes a valid signature: z·G = R + c·key (R even-Y for BIP340). */
  verify(z: bigint): boolean {
    // One libsecp256k1 call verifies a BIP340 signature of a 32-byte message outright.
    if (this.scheme === 'bip340' && this.message.length === 32)
      return verifySchnorr(this.encode(z), this.message, xBytes(this.key));
    const R = this.negatedNonces ? this.R.negate() : this.R;
    return baseTimes(z).equals(R.add(mul(this.key, this.challenge)));
  }

  /**
   * Whether `z` is a valid share of `identifier` whose verifying share, after the target's tweaks, is
   * `verifyingShare`: z_i·G = ±(D_i + ρ_i·E_i) + c·λ_i·Y_i. Only needed to name the culprits of a failed
   * aggregate.
   */
  verifyShare(identifier: Identifier, z: bigint, verifyingShare: Point): boolean {
    const p = this.points.get(identifier);
    if (!p) return false;
    let commitment = p.hiding.add(mul(p.binding, this.rho.get(identifier)!));
    if (this.negatedNonces) commitment = commitment.negate();
    const Y = this.negatedKey ? verifyingShare.negate() : verifyingShare;
    return baseTimes(z).equals(commitment.add(mul(Y, Fn.mul(this.challenge, this.lambda(identifier)))));
  }
}

const SESSIONS = new Memo<SigningSession>(256);

const baseTimes = (z: bigint): Point => (z === 0n ? Point.ZERO : mulBase(z));
