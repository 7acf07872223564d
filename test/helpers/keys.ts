/** In-process key groups made by this project's own DKG, for protocol tests. */
import { randomBytes } from 'node:crypto';
import { evmKey } from '../../chains/evm/keys.ts';
import type { Bip340Signer } from '../../chains/evm/signer.ts';
import type { CeremonyContext } from '../../protocol/context.ts';
import { createDkg } from '../../protocol/dkg.ts';
import { groupKey, type KeyShare } from '../../protocol/keys.ts';
import { aggregateSignature, NonceStore, type SigningTarget, signShare } from '../../protocol/sign.ts';
import { type RunOutcome, recordCeremony, runCeremony, type Tamper } from './router.ts';
import { seededBytes } from './seeded.ts';

export const partyNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `party-${i + 1}`);

export function dkgContexts(
  threshold: number,
  members: string[],
  sessionId: Uint8Array = randomBytes(32),
): CeremonyContext[] {
  return members.map((self) => ({
    kind: 'dkg',
    sessionId,
    threshold,
    dealers: members,
    receivers: members,
    self,
  }));
}

export function runDkg(threshold: number, members: string[], tamper?: Tamper) {
  const parties = new Map(dkgContexts(threshold, members).map((c) => [c.self, createDkg(c)]));
  return runCeremony(parties, tamper);
}

/**
 * An honest DKG that replays: its session id and every party's rng come from `seed` (test/helpers/seeded.ts),
 * so the same seed gives the same messages, in the same order, and the same key.
 */
export function seededDkg(threshold: number, members: string[], seed: string) {
  const contexts = dkgContexts(threshold, members, seededBytes(`${seed}/session id`)(32));
  return recordCeremony(
    new Map(contexts.map((c) => [c.self, createDkg(c, seededBytes(`${seed}/${c.self}`))])),
  );
}

/** The shares of a DKG that completed everywhere; fails loudly otherwise. */
function sharesOf(out: RunOutcome<KeyShare>, n: number): Map<string, KeyShare> {
  if (out.errors.size || out.results.size !== n)
    throw new Error(`DKG failed: ${[...out.errors.values()].join('; ')}`);
  return out.results;
}

/** A fresh t-of-n key, one share per party; fails loudly if the DKG does not complete everywhere. */
export const makeKey = (threshold: number, n: number): Map<string, KeyShare> =>
  sharesOf(runDkg(threshold, partyNames(n)), n);

/** The same t-of-n key for the same `seed` (seededDkg), one share per party. */
export const seededKey = (threshold: number, n: number, seed: string): Map<string, KeyShare> =>
  sharesOf(seededDkg(threshold, partyNames(n), seed), n);

/** Signs `target` with the given signers, each with its own nonce store; returns the signature. */
export function signWith(keys: Map<string, KeyShare>, signers: string[], target: SigningTarget): Uint8Array {
  const stores = new Map(signers.map((s) => [s, new NonceStore()]));
  const commitments = signers.map((s) => stores.get(s)!.commit(keys.get(s)!));
  const group = keys.get(signers[0])!.group;
  const pkg = { epoch: group.epoch, scheme: target.scheme, message: target.message, commitments };
  const shares = new Map(signers.map((s) => [s, signShare(keys.get(s)!, stores.get(s)!, pkg, target)]));
  return aggregateSignature(group, target, commitments, shares);
}

/** Every k-subset of `items`, in order. */
export function* subsets<T>(items: readonly T[], k: number, start = 0, acc: T[] = []): Generator<T[]> {
  if (acc.length === k) {
    yield [...acc];
    return;
  }
  for (let i = start; i <= items.length - (k - acc.length); i++) {
    acc.push(items[i]);
    yield* subsets(items, k, i + 1, acc);
    acc.pop();
  }
}

/**
 * A t-of-n key from this project's DKG as an EVM signer: its account key (evmKey) and signatures of digests
 * by its first t members, every share tweaked by the account key's steps, as the daemons sign.
 */
export function frostEvmSigner(t: number, n: number, account = 0): Bip340Signer {
  const shares = makeKey(t, n);
  const members = partyNames(n);
  const group = shares.get(members[0]!)!.group;
  const { px, steps } = evmKey({ key: groupKey(group), chainCode: group.chainCode }, account);
  const signers = members.slice(0, t);
  return {
    px,
    sign: async (digest) => signWith(shares, signers, { scheme: 'bip340', message: digest, steps }),
  };
}
