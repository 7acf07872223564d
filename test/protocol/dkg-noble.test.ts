/**
 * The DKG against @noble/curves' own FROST DKG: one member of every ceremony is played by noble's
 * DKG.round1/round2/round3 (with this project's context-bound DKG hash), the others by protocol/dkg.ts. Each
 * side accepts the other's proofs of knowledge and shares, and both compute byte-identical group commitments,
 * verifying shares and confirmations, so every party outputs the key.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DKG_Round1, DKG_Round2 } from '@noble/curves/abstract/frost.js';
import { contextHash } from '../../protocol/context.ts';
import { type Bytes, bytesToHex, Fn } from '../../protocol/curve.ts';
import { createDkg, publicSummary } from '../../protocol/dkg.ts';
import { numberedIdentifier } from '../../protocol/keys.ts';
import { hashFields } from '../../protocol/transcript.ts';
import type { CeremonyMessage, Outbound, Round1, Round2 } from '../../protocol/vss.ts';
import { dkgContexts, partyNames } from '../helpers/keys.ts';
import { nobleDkgSuite } from '../helpers/noble.ts';
import { seededBytes } from '../helpers/seeded.ts';

const NOBLE = 'party-1';

function mixedDkg(t: number, n: number) {
  const members = partyNames(n);
  const contexts = dkgContexts(t, members);
  const ctxHash = contextHash(contexts[0]);
  const suite = nobleDkgSuite(ctxHash);
  const id = (p: string) => numberedIdentifier(members.indexOf(p) + 1);
  const ours = new Map(contexts.slice(1).map((c) => [c.self, createDkg(c)]));
  const queue: { from: string; to: string; message: CeremonyMessage }[] = [];
  const results = new Map<string, unknown>();
  const post = (from: string, send: readonly Outbound[], result?: unknown) => {
    for (const o of send) queue.push({ from, ...o });
    if (result) results.set(from, result);
  };

  // noble's member: round 1 to everyone.
  const r1 = suite.DKG.round1(id(NOBLE), { min: t, max: n });
  const own: Round1 = { round: 1, commitment: r1.public.commitment, proof: r1.public.proofOfKnowledge };
  for (const [p, dkg] of ours) post(p, dkg.start().send);
  for (const p of ours.keys()) queue.push({ from: NOBLE, to: p, message: own });

  const inbox1 = new Map<string, Round1>([[NOBLE, own]]);
  const inbox2 = new Map<string, Round2>();
  let nobleKey: ReturnType<typeof suite.DKG.round3> | undefined;
  const digests = () =>
    members.map((d) => {
      const m = inbox1.get(d)!;
      return hashFields('round1', ctxHash, d, [...m.commitment], m.proof);
    });
  const toNoble = (p: string): DKG_Round1 => ({
    identifier: id(p),
    commitment: inbox1.get(p)!.commitment as Bytes[],
    proofOfKnowledge: inbox1.get(p)!.proof as Bytes,
  });

  while (queue.length) {
    const { from, to, message } = queue.shift()!;
    if (to !== NOBLE) {
      const dkg = ours.get(to)!;
      const step = dkg.receive(from, message);
      post(to, step.send, step.result);
      continue;
    }
    if (message.round === 1) {
      inbox1.set(from, message);
      if (inbox1.size < n) continue;
      // Every package is in: noble checks the proofs and deals its shares.
      const others = members.filter((p) => p !== NOBLE).map(toNoble);
      const out = suite.DKG.round2(r1.secret, others);
      const d = digests();
      for (const p of ours.keys())
        queue.push({
          from: NOBLE,
          to: p,
          message: { round: 2, share: out[id(p)].signingShare, digests: d },
        });
    } else if (message.round === 2) {
      inbox2.set(from, message);
      if (inbox2.size < n - 1) continue;
      const others = members.filter((p) => p !== NOBLE).map(toNoble);
      const shares: DKG_Round2[] = [...inbox2].map(([p, m]) => ({
        identifier: id(p),
        signingShare: m.share as Bytes,
      }));
      nobleKey = suite.DKG.round3(r1.secret, others, shares);
      const transcript = hashFields('transcript', ctxHash, digests());
      const summary = publicSummary(members.map(id), nobleKey.public);
      const confirmation = hashFields('confirm', transcript, summary);
      for (const p of ours.keys()) queue.push({ from: NOBLE, to: p, message: { round: 3, confirmation } });
    }
  }
  return { members, results, nobleKey: nobleKey! };
}

describe('DKG interoperates with @noble/curves FROST DKG, byte for byte', () => {
  for (const [t, n] of [
    [2, 3],
    [3, 5],
    [5, 7],
    [7, 10],
  ]) {
    test(`${t}-of-${n}: noble plays one member, this project the others`, () => {
      for (let run = 0; run < 3; run++) {
        const { members, results, nobleKey } = mixedDkg(t, n);
        assert.equal(results.size, n - 1, 'every member of this project output the key');
        for (const p of members.slice(1)) {
          const k = results.get(p) as {
            group: { public: typeof nobleKey.public };
            secret: { signingShare: Uint8Array };
          };
          assert.deepEqual(
            k.group.public.commitments.map(bytesToHex),
            nobleKey.public.commitments.map(bytesToHex),
          );
          for (const [id, v] of Object.entries(nobleKey.public.verifyingShares))
            assert.equal(
              bytesToHex(k.group.public.verifyingShares[id]),
              bytesToHex(v),
              `verifying share ${id}`,
            );
          assert.ok(Fn.fromBytes(k.secret.signingShare) !== 0n);
        }
      }
    });
  }
});

describe('a DKG party draws its randomness as noble does', () => {
  test("from the same seeded rng, every party's round 1 is byte for byte noble's DKG.round1: the same polynomial and proof nonce", () => {
    for (const [t, n] of [
      [2, 3],
      [4, 6],
    ] as const) {
      const contexts = dkgContexts(t, partyNames(n));
      const suite = nobleDkgSuite(contextHash(contexts[0]!));
      for (const [i, c] of contexts.entries()) {
        const seed = `round 1 ${t}-of-${n}/${c.self}`;
        const theirs = suite.DKG.round1(
          numberedIdentifier(i + 1),
          { min: t, max: n },
          undefined,
          seededBytes(seed),
        );
        const sent = createDkg(c, seededBytes(seed)).start().send;
        assert.equal(sent.length, n - 1);
        for (const o of sent)
          assert.deepEqual(
            o.message,
            { round: 1, commitment: theirs.public.commitment, proof: theirs.public.proofOfKnowledge },
            `${c.self} to ${o.to}`,
          );
      }
    }
  });
});
