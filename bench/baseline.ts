/**
 * The in-process baselines: no network, no processes and no I/O. Each ceremony runs every party's part one after
 * the other in this one thread: the work the network spreads across processes, and pays messages for. Two of
 * each: @noble/curves' own FROST API (the fixed reference every ratio is against) and this project's protocol
 * code (its own FROST core, protocol/frost.ts).
 */
import { randomBytes } from 'node:crypto';
import type { DKG_Round1, NonceCommitments } from '@noble/curves/abstract/frost.js';
import { schnorr, schnorr_FROST, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import type { KeyShare } from '../protocol/keys.ts';
import { createRefresh } from '../protocol/refresh.ts';
import { verifyBip340 } from '../protocol/sign.ts';
import { makeKey, partyNames, signWith } from '../test/helpers/keys.ts';
import { runCeremony } from '../test/helpers/router.ts';

export type Group = { readonly t: number; readonly n: number };
export const label = (g: Group): string => `${g.t}-of-${g.n}`;

/** A whole t-of-n DKG, all n parties in turn (makeKey throws unless every party ends with a share). */
export const dkgOnce = (g: Group) => (): void => void makeKey(g.t, g.n);

/**
 * The same DKG through @noble/curves' FROST DKG API alone (round1, round2, round3 for every party), the
 * reference: the cryptographic work without this project's transcript, confirmations or batching.
 */
export const nobleDkgOnce = (g: Group) => (): void => {
  const ids = Array.from({ length: g.n }, (_, i) => secp256k1_FROST.Identifier.fromNumber(i + 1));
  const signers = { min: g.t, max: g.n };
  const r1 = ids.map((id) => secp256k1_FROST.DKG.round1(id, signers));
  const others = (i: number): DKG_Round1[] => r1.filter((_, j) => j !== i).map((r) => r.public);
  const r2 = r1.map((r, i) => secp256k1_FROST.DKG.round2(r.secret, others(i)));
  const keys = r1.map((r, i) =>
    secp256k1_FROST.DKG.round3(
      r.secret,
      others(i),
      r2.filter((_, j) => j !== i).map((out) => out[ids[i]]),
    ),
  );
  if (keys.some((k) => k.public.commitments[0].length !== 33))
    throw new Error(`${label(g)}: noble DKG failed`);
};

/**
 * One threshold signature, serialized: each of the t signers commits, then each signs its share, then the
 * shares are aggregated and the signature verified (aggregateSignature does both), as one coordinator and its
 * signers would, but in one thread. Signers are the first t members. The returned function signs a fresh
 * random message per call and checks the result, so a broken build cannot benchmark garbage.
 */
export function signer(g: Group): () => void {
  const keys: Map<string, KeyShare> = makeKey(g.t, g.n);
  const signers = partyNames(g.n).slice(0, g.t);
  const xOnlyKey = keys.get(signers[0])!.group.public.commitments[0].subarray(1);
  return () => {
    const message = randomBytes(32);
    const sig = signWith(keys, signers, { scheme: 'bip340', message, steps: [] });
    if (!verifyBip340(sig, message, xOnlyKey)) throw new Error(`${label(g)}: baseline signature invalid`);
  };
}

/**
 * The same signature through @noble/curves' FROST API alone (commit, signShare, aggregate, which verifies): the
 * reference the network is measured against. The key is the same kind of DKG key.
 */
export function nobleSigner(g: Group): () => void {
  const keys: Map<string, KeyShare> = makeKey(g.t, g.n);
  const signers = partyNames(g.n)
    .slice(0, g.t)
    .map((p) => keys.get(p)!);
  const pub = signers[0].group.public;
  const xOnlyKey = pub.commitments[0].subarray(1);
  return () => {
    const message = randomBytes(32);
    const round1 = signers.map((k) => schnorr_FROST.commit(k.secret));
    const commitments: NonceCommitments[] = round1.map((r) => r.commitments);
    const shares = Object.fromEntries(
      signers.map((k, i) => [
        k.secret.identifier,
        schnorr_FROST.signShare(k.secret, pub, round1[i].nonces, commitments, message),
      ]),
    );
    const sig = schnorr_FROST.aggregate(pub, commitments, message, shares);
    if (!verifyBip340(sig, message, xOnlyKey)) throw new Error(`${label(g)}: noble signature invalid`);
  };
}

/** A refresh of a fresh t-of-n key among all its members, every party in turn. */
export function refresher(g: Group): () => void {
  const keys = makeKey(g.t, g.n);
  return () => {
    const sessionId = randomBytes(32);
    const parties = new Map([...keys].map(([p, k]) => [p, createRefresh(sessionId, p, k)]));
    const out = runCeremony(parties);
    if (out.errors.size || out.results.size !== g.n) throw new Error(`${label(g)}: baseline refresh failed`);
  };
}

/** The floor: one ordinary single-key BIP340 signature with @noble/curves (schnorr.sign, fresh message). */
export function singleKeySigner(): () => void {
  const secret = schnorr.utils.randomSecretKey();
  return () => void schnorr.sign(randomBytes(32), secret);
}
