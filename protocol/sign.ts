/**
 * Two-round threshold signing on @noble/curves FROST: RFC 9591 FROST(secp256k1, SHA-256) and its BIP340
 * variant. Signer side: commit, then sign once, only a package that carries this party's own commitment
 * unchanged, for the message and scheme this party decided itself, at the key epoch it holds. Coordinator side:
 * aggregate, verify the signature, and on failure name exactly the parties whose shares are invalid.
 */
import type { FROST, NonceCommitments, Nonces, RNG } from '@noble/curves/abstract/frost.js';
import { schnorr, schnorr_FROST, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { type Bytes, bytesToHex, equalBytes, type Point, parseScalar, xOnly } from './curve.ts';
import { FrostnetError } from './errors.ts';
import { groupKey, identifierOf, type KeyGroup, type KeyShare, type PartyId } from './keys.ts';
import { type TweakStep, tweakPoint, tweakPublic, tweakSecret } from './tweak.ts';

export type Scheme = 'bip340' | 'rfc9591';
export const SCHEMES: readonly Scheme[] = ['bip340', 'rfc9591'];

const SUITES: Record<Scheme, FROST> = { bip340: schnorr_FROST, rfc9591: secp256k1_FROST };

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
  tweakPoint(groupKey(group), steps);

/** BIP340 verification under an x-only key; false (never a throw) for any malformed input. */
export function verifyBip340(signature: Uint8Array, message: Uint8Array, xOnlyKey: Uint8Array): boolean {
  try {
    return signature.length === 64 && xOnlyKey.length === 32 && schnorr.verify(signature, message, xOnlyKey);
  } catch {
    return false;
  }
}

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
    const { nonces, commitments } = SUITES[opts.scheme ?? 'bip340'].commit(share.secret, opts.rng);
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
  const suite = SUITES[target.scheme];
  const pub = tweakPublic(group.public, target.steps);
  const sec = tweakSecret(secret, groupKey(group), target.steps);
  try {
    return suite.signShare(sec, pub, n, [...pkg.commitments], target.message);
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
  const pub = tweakPublic(group.public, target.steps);
  const byId: Record<string, Bytes> = {};
  for (const p of signers) byId[identifierOf(group, p)] = shares.get(p) as Bytes;
  let signature: Uint8Array;
  try {
    signature = SUITES[target.scheme].aggregate(pub, [...commitments], target.message, byId);
  } catch (e) {
    const cheaters: string[] = (e as { cheaters?: string[] }).cheaters ?? [];
    const culprits = signers.filter((p) => cheaters.includes(identifierOf(group, p)));
    throw new FrostnetError(
      'INVALID_SIGNATURE_SHARE',
      culprits.length
        ? `invalid signature share from ${culprits.join(', ')}`
        : `aggregation failed: ${(e as Error).message}`,
      culprits,
    );
  }
  // noble's aggregate has already verified the signature under the (tweaked) key: it checks z·G = R + c·P
  // before encoding, and names the cheaters otherwise, so a second verification would only repeat it.
  return signature;
}
