/**
 * External vectors through this project's own signer, coordinator and DKG checks: RFC 9591 FROST(secp256k1,
 * SHA-256), the ZF frost-secp256k1-tr (BIP340) signing and DKG vectors, and the BIP340 verification vectors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DKG_Round1, DKG_Secret, NonceCommitments } from '@noble/curves/abstract/frost.js';
import { schnorr_FROST, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { type Bytes, bytesToHex, Fn, G, hexToBytes, parsePoint, pointToBytes } from '../../protocol/curve.ts';
import { verifyProofOfKnowledge } from '../../protocol/dkg.ts';
import type { KeyGroup, KeyShare } from '../../protocol/keys.ts';
import { aggregateSignature, NonceStore, type Scheme, signShare, verifyBip340 } from '../../protocol/sign.ts';
import { bip340Vectors, loadVector } from '../helpers/vectors.ts';

// biome-ignore lint/suspicious/noExplicitAny: vector files are untyped JSON
type Json = any;
const b = (h: string) => hexToBytes(h.toLowerCase()) as Bytes;

/** Key shares built from a vector's dealer inputs, with the numeric identifiers the vectors use. */
function vectorShares(v: Json): Map<number, KeyShare> {
  const t = Number(v.config.MIN_PARTICIPANTS);
  const participants: { identifier: number; participant_share: string }[] = v.inputs.participant_shares;
  const coefficients = [v.inputs.group_secret_key, ...v.inputs.share_polynomial_coefficients];
  const identifiers = participants.map((p) => secp256k1_FROST.Identifier.fromNumber(p.identifier));
  const verifyingShares: Record<string, Bytes> = {};
  participants.forEach((p, i) => {
    verifyingShares[identifiers[i]] = pointToBytes(G.multiply(Fn.fromBytes(b(p.participant_share))));
  });
  const group: KeyGroup = {
    threshold: t,
    members: participants.map((p) => `party-${p.identifier}`),
    identifiers,
    public: {
      signers: { min: t, max: participants.length },
      commitments: coefficients.map((c: string) => pointToBytes(G.multiply(Fn.fromBytes(b(c))))),
      verifyingShares,
    },
    chainCode: new Uint8Array(32),
    epoch: 0,
    transcript: new Uint8Array(32),
  };
  return new Map(
    participants.map((p, i) => [
      p.identifier,
      { group, secret: { identifier: identifiers[i], signingShare: b(p.participant_share) } },
    ]),
  );
}

/** An RNG that replays the vector's nonce randomness: hiding first, then binding, as RFC 9591 commit() draws. */
const replay = (...values: string[]) => {
  const queue = values.map(b);
  return (n?: number) => {
    const next = queue.shift();
    assert.ok(next && next.length === (n ?? 32), 'vector randomness exhausted or of the wrong size');
    return next;
  };
};

function runSigningVector(file: string, scheme: Scheme, groupKeyField: string) {
  const v: Json = loadVector(file);
  const shares = vectorShares(v);
  const anyShare = shares.values().next().value as KeyShare;
  assert.equal(bytesToHex(anyShare.group.public.commitments[0]), v.inputs[groupKeyField]);
  const message = b(v.inputs.message);
  const target = { scheme, message, steps: [] };
  const stores = new Map<number, NonceStore>();
  const commitments: NonceCommitments[] = [];
  for (const out of v.round_one_outputs.outputs) {
    const store = new NonceStore();
    stores.set(out.identifier, store);
    const c = store.commit(shares.get(out.identifier)!, {
      scheme,
      rng: replay(out.hiding_nonce_randomness, out.binding_nonce_randomness),
    });
    assert.equal(bytesToHex(c.hiding), out.hiding_nonce_commitment);
    assert.equal(bytesToHex(c.binding), out.binding_nonce_commitment);
    commitments.push(c);
  }
  const pkg = { epoch: 0, scheme, message, commitments };
  const sigShares = new Map<string, Uint8Array>();
  for (const out of v.round_two_outputs.outputs) {
    const key = shares.get(out.identifier)!;
    const share = signShare(key, stores.get(out.identifier)!, pkg, target);
    assert.equal(bytesToHex(share), out.sig_share);
    sigShares.set(`party-${out.identifier}`, share);
  }
  const sig = aggregateSignature(anyShare.group, target, commitments, sigShares);
  assert.equal(bytesToHex(sig), v.final_output.sig);
}

describe('signing vectors', () => {
  test('RFC 9591 FROST(secp256k1, SHA-256): commitments, shares and signature', () => {
    runSigningVector('cfrg-frost-secp256k1-sha256.json', 'rfc9591', 'group_public_key');
  });
  test('ZF frost-secp256k1-tr: BIP340 commitments, shares and signature', () => {
    runSigningVector('zf-frost-secp256k1-tr-vectors.json', 'bip340', 'verifying_key_key');
    const v: Json = loadVector('zf-frost-secp256k1-tr-vectors.json');
    const xonly = b(v.inputs.verifying_key_key).subarray(1);
    assert.ok(verifyBip340(b(v.final_output.sig), b(v.inputs.message), xonly));
  });
});

describe('ZF frost-secp256k1-tr DKG vector', () => {
  const v: Json = loadVector('zf-frost-secp256k1-tr-vectors_dkg.json');
  const t = v.config.MIN_PARTICIPANTS;
  const n = v.config.MAX_PARTICIPANTS;
  const parties = Array.from({ length: n }, (_, i) => v.inputs[String(i + 1)]);
  const id = (k: number) => schnorr_FROST.Identifier.fromNumber(k);
  const round1 = (p: Json): DKG_Round1 => ({
    identifier: id(p.identifier),
    commitment: p.vss_commitments.map(b),
    proofOfKnowledge: b(p.proof_of_knowledge),
  });

  test('proofs of knowledge verify under the suite DST, and fail for another party or DST', () => {
    const dst = 'FROST-secp256k1-SHA256-TR-v1dkg';
    for (const p of parties) {
      const c0 = parsePoint(b(p.vss_commitments[0]));
      const proof = b(p.proof_of_knowledge);
      const name = `party-${p.identifier}`;
      assert.doesNotThrow(() => verifyProofOfKnowledge(dst, id(p.identifier), c0, proof, name));
      const other = id((p.identifier % n) + 1);
      assert.throws(() => verifyProofOfKnowledge(dst, other, c0, proof, name), {
        code: 'INVALID_PROOF',
        culprits: [name],
      });
      assert.throws(() => verifyProofOfKnowledge(`${dst}/other-session`, id(p.identifier), c0, proof, name), {
        code: 'INVALID_PROOF',
      });
    }
  });

  /** The dealer state the vector describes: its constant term and coefficient. */
  function secretOf(p: Json): DKG_Secret {
    return {
      identifier: BigInt(p.identifier),
      coefficients: [Fn.fromBytes(b(p.signing_key)), Fn.fromBytes(b(p.coefficient))],
      commitment: p.vss_commitments.map(b),
      signers: { min: t, max: n },
      step: 1,
    };
  }

  test('round 2 shares, final shares, verifying shares and group key match', () => {
    for (const p of parties) {
      const others = parties.filter((q) => q !== p);
      const secret = secretOf(p);
      const out = schnorr_FROST.DKG.round2(secret, others.map(round1));
      // inputs[r].signing_shares[d] is the share that dealer d sends to receiver r.
      for (const q of others)
        assert.equal(bytesToHex(out[id(q.identifier)].signingShare), q.signing_shares[p.identifier]);
      const received = others.map((q) => ({
        identifier: id(q.identifier),
        signingShare: b(p.signing_shares[q.identifier]),
      }));
      const key = schnorr_FROST.DKG.round3(secret, others.map(round1), received);
      assert.equal(bytesToHex(key.secret.signingShare), p.signing_share);
      assert.equal(bytesToHex(key.public.verifyingShares[id(p.identifier)]), p.verifying_share);
      assert.equal(bytesToHex(key.public.commitments[0]), v.inputs.verifying_key);
    }
  });
});

describe('BIP340 verification vectors', () => {
  for (const vec of bip340Vectors()) {
    test(`vector ${vec.index} ${vec.valid ? 'accepted' : 'rejected'} ${vec.comment}`, () => {
      assert.equal(verifyBip340(b(vec.signature), b(vec.message), b(vec.publicKey)), vec.valid);
    });
  }
});
