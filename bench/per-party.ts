/**
 * One party's share of the work in large groups (67-of-100), in process: what a party computes in a DKG and in
 * a signature, this project's core beside @noble/curves' own FROST API given the same inputs in the same run
 * (the naive cost). The other parties' messages are made beforehand and not timed: a 100-party ceremony run
 * whole in one thread would take minutes with noble and say nothing more about one party.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { DKG_Round1, FROST, NonceCommitments } from '@noble/curves/abstract/frost.js';
import { schnorr_FROST, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import { contextHash } from '../protocol/context.ts';
import { type Bytes, evalPolynomial, Fn } from '../protocol/curve.ts';
import { createDkg } from '../protocol/dkg.ts';
import { type KeyGroup, type KeyShare, numberedIdentifier } from '../protocol/keys.ts';
import { aggregateSignature, NonceStore, type SigningTarget, signShare } from '../protocol/sign.ts';
import { hashFields } from '../protocol/transcript.ts';
import type { Round1 } from '../protocol/vss.ts';
import { dkgContexts, partyNames } from '../test/helpers/keys.ts';
import { nobleDkgSuite } from '../test/helpers/noble.ts';
import { ownCpuMs, type Samples } from './stats.ts';

/** Published ZF frost figures (frost-secp256k1, Ryzen 9 5900X), not measured here: reference rows only. */
export const ZF_FROST = {
  machine: 'Ryzen 9 5900X',
  round2Ms: { '2-of-3': 0.15, '67-of-100': 4.41 },
  aggregateMs: { '2-of-3': 0.25, '67-of-100': 3.82 },
};

const time = (fn: () => void): { wall: number; cpu: number } => {
  const c0 = ownCpuMs();
  const t0 = performance.now();
  fn();
  return { wall: performance.now() - t0, cpu: ownCpuMs() - c0 };
};

const push = (s: Samples, m: { wall: number; cpu: number }) => {
  s.wall.push(m.wall);
  s.cpu.push(m.cpu);
};

const empty = (): Samples => ({ wall: [], cpu: [], failures: [] });

/**
 * One party's whole DKG among n (its dealing, every other dealer's round 1 and round 2 checked, its outcome and
 * confirmation), `runs` times with this project's code and as many with noble's DKG.round1/2/3, turn about.
 * The measured party is the middle member: the cost of checking shares grows with the identifier's size.
 */
export function dkgPerParty(t: number, n: number, runs: number): { core: Samples; noble: Samples } {
  const members = partyNames(n);
  const me = Math.floor(n / 2);
  const x = BigInt(me + 1);
  const contexts = dkgContexts(t, members);
  const ctxHash = contextHash(contexts[me]);
  const suite = nobleDkgSuite(ctxHash);
  const id = (i: number) => numberedIdentifier(i + 1);
  // The other dealers, dealt once by noble (their proofs bound to this ceremony), and their shares for `me`.
  const others = members.map((_, k) => k).filter((k) => k !== me);
  const dealt = others.map((k) => suite.DKG.round1(id(k), { min: t, max: n }));
  const packages: DKG_Round1[] = dealt.map((o) => o.public);
  const sharesForMe = dealt.map((o) => evalPolynomial(o.secret.coefficients!, x));
  const out = { core: empty(), noble: empty() };
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? (['core', 'noble'] as const) : (['noble', 'core'] as const);
    for (const which of order) {
      if (which === 'noble') {
        push(
          out.noble,
          time(() => {
            const own = suite.DKG.round1(id(me), { min: t, max: n });
            suite.DKG.round2(own.secret, packages);
            suite.DKG.round3(
              own.secret,
              packages,
              packages.map((p, k) => ({
                identifier: p.identifier,
                signingShare: Fn.toBytes(sharesForMe[k]) as Bytes,
              })),
            );
          }),
        );
        continue;
      }
      const party = createDkg(contexts[me]);
      let own: Round1 | undefined;
      const first = time(() => {
        own = party.start().send[0].message as Round1;
        for (const [k, p] of packages.entries())
          party.receive(members[others[k]], {
            round: 1,
            commitment: p.commitment,
            proof: p.proofOfKnowledge,
          });
      });
      // What the other dealers would send in round 2: this party's share and their view of every package.
      const byDealer = new Map<number, { commitment: readonly Uint8Array[]; proof: Uint8Array }>([
        [me, own!],
        ...packages.map(
          (p, k) => [others[k], { commitment: p.commitment, proof: p.proofOfKnowledge }] as const,
        ),
      ]);
      const digests = members.map((m, k) => {
        const p = byDealer.get(k)!;
        return hashFields('round1', ctxHash, m, [...p.commitment], p.proof);
      });
      const second = time(() => {
        for (const [k, s] of sharesForMe.entries()) {
          const step = party.receive(members[others[k]], { round: 2, share: Fn.toBytes(s), digests });
          if (k === sharesForMe.length - 1 && !step.pending)
            throw new Error('the party did not reach its outcome');
        }
      });
      push(out.core, { wall: first.wall + second.wall, cpu: first.cpu + second.cpu });
    }
  }
  return out;
}

/** A t-of-n key dealt by noble, as this project's key shares (a 100-party DKG in one thread would take long). */
function dealtKey(t: number, n: number): KeyShare[] {
  const ids = Array.from({ length: n }, (_, i) => numberedIdentifier(i + 1));
  const deal = secp256k1_FROST.trustedDealer({ min: t, max: n }, ids);
  const group: KeyGroup = {
    threshold: t,
    members: partyNames(n),
    identifiers: ids,
    public: deal.public,
    chainCode: new Uint8Array(32),
    epoch: 0,
    transcript: new Uint8Array(32),
  };
  return ids.map((id) => ({ group, secret: deal.secretShares[id] }));
}

export type SignPerParty = { round2: Samples; aggregate: Samples };

/**
 * In a t-of-n BIP340 signature: one signer's round 2 (its share, the group commitment included) and the
 * coordinator's aggregation with its verification, each computed from scratch (nothing remembered from
 * another party's computation), by this project's core and by noble's FROST API on the same packages.
 */
export function signPerParty(
  t: number,
  n: number,
  runs: number,
): { core: SignPerParty; noble: SignPerParty } {
  const keys = dealtKey(t, n);
  const signers = keys.slice(0, t);
  const pub = keys[0].group.public;
  const group = keys[0].group;
  const suite: FROST = schnorr_FROST;
  const out = {
    core: { round2: empty(), aggregate: empty() },
    noble: { round2: empty(), aggregate: empty() },
  };
  for (let run = 0; run < runs; run++) {
    const message = randomBytes(32);
    const target: SigningTarget = { scheme: 'bip340', message, steps: [] };
    // Round 1 by noble (the same commitments for both), then every share by noble: inputs, not timed.
    const round1 = signers.map((k) => suite.commit(k.secret));
    const commitments: NonceCommitments[] = round1.map((r) => r.commitments);
    const shares = new Map<string, Uint8Array>();
    const nobleShares: Record<string, Bytes> = {};
    signers.forEach((k, i) => {
      const copy = { hiding: round1[i].nonces.hiding.slice(), binding: round1[i].nonces.binding.slice() };
      const s = suite.signShare(k.secret, pub, copy as (typeof round1)[0]['nonces'], commitments, message);
      nobleShares[k.secret.identifier] = s;
      shares.set(group.members[i], s);
    });
    // One signer's round 2: noble's, then this project's (a fresh package, so nothing is remembered).
    const store = new NonceStore();
    const own = store.commit(signers[0], { scheme: 'bip340' });
    const mine = [own, ...commitments.slice(1)];
    const nobleNonce = suite.commit(signers[0].secret);
    const theirs = [nobleNonce.commitments, ...commitments.slice(1)];
    push(
      out.noble.round2,
      time(() => suite.signShare(signers[0].secret, pub, nobleNonce.nonces, theirs, message)),
    );
    const pkg = { epoch: 0, scheme: 'bip340' as const, message, commitments: mine };
    push(
      out.core.round2,
      time(() => signShare(signers[0], store, pkg, target)),
    );
    // Aggregation of the noble-made shares: the core has not seen this package before.
    push(
      out.noble.aggregate,
      time(() => suite.aggregate(pub, commitments, message, nobleShares)),
    );
    push(
      out.core.aggregate,
      time(() => aggregateSignature(group, target, commitments, shares)),
    );
  }
  return out;
}
