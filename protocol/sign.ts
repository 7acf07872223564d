/**
 * Two-round threshold signing: RFC 9591 FROST(secp256k1, SHA-256) and its BIP340 variant, computed by
 * ./frost.ts exactly as @noble/curves' FROST computes them. Signer side: commit, then sign once, only a
 * package that carries this party's own commitment unchanged, for the message and scheme this party decided
 * itself, at the key epoch it holds. Coordinator side: aggregate, verify the signature, and on failure name
 * exactly the parties whose shares are invalid.
 */
import type { NonceCommitments, Nonces, RNG } from '@noble/curves/abstract/frost.js';
import { secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { bytesToHex, equalBytes, Fn, type Point, parsePoint, parseScalar, xOnly } from './curve.ts';
import { mulBase, verifySchnorr } from './ecc.ts';
import { FrostnetError } from './errors.ts';
import { BadCommitment, commitNonces, type Scheme, SigningSession } from './frost.ts';
import {
  groupKey,
  groupKeyBytes,
  identifierOf,
  type KeyGroup,
  type KeyShare,
  type PartyId,
  verifyingShareBytes,
} from './keys.ts';
import { Memo } from './memo.ts';
import { type ComposedTweak, composeSteps, type TweakStep, tweakPoint } from './tweak.ts';

export type { Scheme };
export const SCHEMES: readonly Scheme[] = ['bip340', 'rfc9591'];

export function parseScheme(s: unknown): Scheme {
  if (s === 'bip340' || s === 'rfc9591') return s;
  throw new FrostnetError('INVALID_INPUT', `unknown scheme ${String(s)}: expected bip340 or rfc9591`);
}

/** What is to be signed, as each party works it out for itself from the request. */
export type SigningTarget = {
  readonly scheme: Scheme;
  readonly message: Uint8Array;
  /** Tweaks from the group key to the signing key (derivation, Taproot); empty for the group key itself. */
  readonly steps: readonly TweakStep[];
};

/** Sent by the coordinator to every chosen signer. */
export type SigningPackage = {
  readonly epoch: number;
  readonly scheme: Scheme;
  readonly message: Uint8Array;
  readonly commitments: readonly NonceCommitments[];
};

export const MAX_MESSAGE_BYTES = 1 << 16;

/** The key a target's signature verifies under. */
export const signingKey = (group: KeyGroup, steps: readonly TweakStep[]): Point =>
  steps.length ? tweakOf(group, steps).key : tweakPoint(groupKey(group), steps);

/** BIP340 verification under an x-only key; false (never a throw) for any malformed input. */
export const verifyBip340 = (signature: Uint8Array, message: Uint8Array, xOnlyKey: Uint8Array): boolean =>
  verifySchnorr(signature, message, xOnlyKey);

/**
 * The tweaks of a target folded into one map from the group's shares to the signing key's, remembered per
 * key and steps: a signer and a coordinator need it for every signature under the same address.
 */
const TWEAKS = new Memo<ComposedTweak>(1024);

function tweakOf(group: KeyGroup, steps: readonly TweakStep[]): ComposedTweak {
  const id = `${bytesToHex(groupKeyBytes(group.public))}/${steps.map((s) => `${s.evenY ? 'e' : 'k'}${s.add.toString(16)}`).join('/')}`;
  return TWEAKS.get(id, () => composeSteps(groupKey(group), steps));
}

const applyTweak = (t: ComposedTweak, s: bigint): bigint => Fn.add(t.negate ? Fn.neg(s) : s, t.add);

export function verifySignature(
  scheme: Scheme,
  key: Point,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (scheme === 'bip340') return verifyBip340(signature, message, xOnly(key));
  try {
    return signature.length === 65 && secp256k1_FROST.verify(signature, message, key.toBytes(true));
  } catch {
    return false;
  }
}

/**
 * Secret nonces of one party, in memory only, each usable once. Taking a nonce removes it, so no code path can
 * sign twice with it; a restart loses them all, which is the point.
 */
export class NonceStore {
  private readonly nonces = new Map<string, Nonces>();

  private static keyOf(c: { hiding: Uint8Array; binding: Uint8Array }) {
    return bytesToHex(c.hiding) + bytesToHex(c.binding);
  }

  /**
   * Round 1: fresh nonces for `share`; only the commitments leave. A nonce serves either scheme; `scheme` only
   * picks the suite's nonce-derivation hash, and `rng` replaces the system RNG for the published test vectors.
   */
  commit(share: KeyShare, opts: { scheme?: Scheme; rng?: RNG } = {}): NonceCommitments {
    const { identifier, signingShare } = share.secret;
    const { nonces, commitments } = commitNonces(opts.scheme ?? 'bip340', identifier, signingShare, opts.rng);
    this.nonces.set(NonceStore.keyOf(commitments), nonces);
    return commitments;
  }

  /** Removes and returns the nonces behind `c`; absent means never issued or already used. */
  take(c: NonceCommitments): Nonces | undefined {
    const key = NonceStore.keyOf(c);
    const n = this.nonces.get(key);
    this.nonces.delete(key);
    return n;
  }

  /** Forgets unused nonces (an abandoned session). */
  discard(c: NonceCommitments): void {
    const n = this.take(c);
    if (n) {
      n.hiding.fill(0);
      n.binding.fill(0);
    }
  }

  get size(): number {
    return this.nonces.size;
  }
}

/** Maps a package's commitments to members; rejects duplicates, outsiders and wrong counts. */
export function signersOf(group: KeyGroup, commitments: readonly NonceCommitments[]): PartyId[] {
  const byId = new Map(group.members.map((m, i) => [group.identifiers[i], m]));
  if (
    !Array.isArray(commitments) ||
    commitments.length < group.threshold ||
    commitments.length > group.members.length
  )
    throw new FrostnetError(
      'INVALID_INPUT',
      `a signing package needs between ${group.threshold} and ${group.members.length} commitments`,
    );
  const seen = new Set<string>();
  return commitments.map((c) => {
    const party = byId.get(c?.identifier);
    if (!party)
      throw new FrostnetError('INVALID_INPUT', 'signing package names a party outside the key group');
    if (seen.has(c.identifier))
      throw new FrostnetError('INVALID_INPUT', `signing package names ${party} twice`);
    seen.add(c.identifier);
    if (!(c.hiding instanceof Uint8Array) || !(c.binding instanceof Uint8Array))
      throw new FrostnetError('INVALID_INPUT', `commitment of ${party} is malformed`, [party]);
    return party;
  });
}

/**
 * Signer, round 2. Checks the package against what this party decided to sign, then uses (and thereby erases)
 * the nonce behind its own commitment. Throws before touching the nonce if anything differs.
 */
export function signShare(
  key: KeyShare,
  nonces: NonceStore,
  pkg: SigningPackage,
  target: SigningTarget,
): Uint8Array {
  const { group, secret } = key;
  if (pkg.epoch !== group.epoch)
    throw new FrostnetError(
      'EPOCH_MISMATCH',
      `package is for key epoch ${pkg.epoch}, this party holds ${group.epoch}`,
    );
  if (pkg.scheme !== target.scheme)
    throw new FrostnetError(
      'MESSAGE_MISMATCH',
      `package asks for ${pkg.scheme}, the request was ${target.scheme}`,
    );
  if (!(pkg.message instanceof Uint8Array) || !equalBytes(pkg.message, target.message))
    throw new FrostnetError(
      'MESSAGE_MISMATCH',
      'package message differs from the message this party checked',
    );
  signersOf(group, pkg.commitments);
  const own = pkg.commitments.find((c) => c.identifier === secret.identifier);
  if (!own) throw new FrostnetError('COMMITMENT_MISMATCH', 'package does not include this party');
  const n = nonces.take(own);
  if (!n)
    throw new FrostnetError(
      'NONCE_REUSED',
      'the commitment in the package is not an unused nonce of this party',
    );
  try {
    const tweak = tweakOf(group, target.steps);
    const session = SigningSession.open(target.scheme, tweak.key, pkg.commitments, target.message);
    return session.share(secret.identifier, applyTweak(tweak, Fn.fromBytes(secret.signingShare)), n);
  } catch (e) {
    throw new FrostnetError('INVALID_INPUT', `cannot sign: ${(e as Error).message}`);
  } finally {
    n.hiding.fill(0);
    n.binding.fill(0);
  }
}

/**
 * Coordinator: aggregates the shares of a package's signers and verifies the result under the target key.
 * An invalid or missing share throws INVALID_SIGNATURE_SHARE naming exactly the culprits.
 */
export function aggregateSignature(
  group: KeyGroup,
  target: SigningTarget,
  commitments: readonly NonceCommitments[],
  shares: ReadonlyMap<PartyId, Uint8Array>,
): Uint8Array {
  const signers = signersOf(group, commitments);
  const malformed = signers.filter((p) => {
    const s = shares.get(p);
    if (!s) return true;
    try {
      parseScalar(s, 'signature share');
      return false;
    } catch {
      return true;
    }
  });
  if (malformed.length)
    throw new FrostnetError(
      'INVALID_SIGNATURE_SHARE',
      `missing or malformed share from ${malformed.join(', ')}`,
      malformed,
    );
  const tweak = tweakOf(group, target.steps);
  let session: SigningSession;
  try {
    session = SigningSession.open(target.scheme, tweak.key, commitments, target.message);
  } catch (e) {
    // A commitment point that does not decode is its signer's fault.
    const culprits =
      e instanceof BadCommitment ? signers.filter((p) => identifierOf(group, p) === e.identifier) : [];
    throw new FrostnetError(
      'INVALID_SIGNATURE_SHARE',
      `aggregation failed: ${(e as Error).message}`,
      culprits,
    );
  }
  const z = signers.reduce((acc, p) => Fn.add(acc, Fn.fromBytes(shares.get(p)!)), 0n);
  if (session.verify(z)) return session.encode(z);
  // The aggregate is invalid: check each share against its signer's verifying share to name the culprits.
  const shift = tweak.add === 0n ? undefined : mulBase(tweak.add);
  const culprits = signers.filter((p) => {
    const Y = parsePoint(
      verifyingShareBytes(group.public, identifierOf(group, p)),
      `verifying share of ${p}`,
    );
    const moved = tweak.negate ? Y.negate() : Y;
    return !session.verifyShare(
      identifierOf(group, p),
      Fn.fromBytes(shares.get(p)!),
      shift ? moved.add(shift) : moved,
    );
  });
  throw new FrostnetError(
    'INVALID_SIGNATURE_SHARE',
    culprits.length
      ? `invalid signature share from ${culprits.join(', ')}`
      : 'aggregation failed: the signature does not verify, yet every share does',
    culprits,
  );
}
