/**
 * The signing domains: each kind of request signs under keys of its own branch of the group key, and no branch
 * belongs to two kinds. BIP340 and RFC 9591 both hash the public key into the challenge, so a signature made
 * under one domain's key is never valid under another's: a raw message, whatever its bytes, can never spend a
 * coin of the wallet, act for the EVM account or approve a custody proposal.
 *
 * A new chain or request type takes a new branch here (an unhardened index no other domain uses; the test of
 * this table checks that) and names it as its domain in node/signing/targets.ts, which refuses any request
 * whose keys leave the domain of its kind.
 */
import { taggedHash } from '../protocol/curve.ts';
import { formatPath } from '../protocol/derive.ts';
import { FrostnetError } from '../protocol/errors.ts';
import { EVM_BRANCH } from './evm/keys.ts';

/** The wallet's receive and change branches (BIP44-style m/0/i and m/1/i below the group key). */
export const RECEIVE_BRANCH = 0;
export const CHANGE_BRANCH = 1;

/** "RAW" in ASCII (0x524157): raw messages, where a party's policy enables them, sign below this branch only. */
export const RAW_BRANCH = 0x524157;
/** "DRL" in ASCII (0x44524c): the recovery drill's test signatures, worthless anywhere else. */
export const DRILL_BRANCH = 0x44524c;

export type Domain = 'bitcoin' | 'evm' | 'raw' | 'drill' | 'proposal';

export type DomainRule = {
  /** The first path step of every key of the domain; empty: the untweaked group key itself. */
  readonly branches: readonly number[];
  /** Steps of a path, the branch included: a number, or at least `min`. */
  readonly depth: number | { readonly min: number };
  /** What signs under it, for errors and docs. */
  readonly what: string;
};

export const DOMAINS: Readonly<Record<Domain, DomainRule>> = {
  bitcoin: {
    branches: [RECEIVE_BRANCH, CHANGE_BRANCH],
    depth: 2,
    what: 'Bitcoin inputs of the wallet (m/0/i receive, m/1/i change, Taproot-tweaked)',
  },
  evm: { branches: [EVM_BRANCH], depth: 2, what: `EIP-712 actions of the EVM accounts (m/${EVM_BRANCH}/i)` },
  raw: { branches: [RAW_BRANCH], depth: { min: 1 }, what: `raw messages (m/${RAW_BRANCH}/...)` },
  drill: { branches: [DRILL_BRANCH], depth: 1, what: `recovery drill signatures (m/${DRILL_BRANCH})` },
  proposal: { branches: [], depth: 0, what: 'custody proposals (the untweaked group key, a tagged digest)' },
};

/** The domain whose keys `path` derives, or undefined when no domain owns it. */
export function domainOfPath(path: readonly number[]): Domain | undefined {
  for (const [name, rule] of Object.entries(DOMAINS) as [Domain, DomainRule][]) {
    const depthOk =
      typeof rule.depth === 'number' ? path.length === rule.depth : path.length >= rule.depth.min;
    const branchOk = rule.branches.length === 0 || rule.branches.includes(path[0] as number);
    if (depthOk && branchOk) return name;
  }
  return undefined;
}

/** Throws POLICY_DENIED unless `path` derives a key of `domain`; `what` names the request in the error. */
export function assertInDomain(domain: Domain, path: readonly number[], what: string): void {
  if (domainOfPath(path) === domain) return;
  throw new FrostnetError(
    'POLICY_DENIED',
    `${what} derives ${formatPath(path)}, outside the keys of its kind: ${DOMAINS[domain].what}`,
  );
}

/** At most this many steps in a raw message's path below the raw branch (each costs a derivation). */
export const MAX_RAW_PATH = 255;

/** The full path of a raw message's key: `path` is below the raw branch. */
export function rawMessagePath(path: readonly number[]): number[] {
  if (path.length > MAX_RAW_PATH)
    throw new FrostnetError('INVALID_INPUT', `a raw message's path has at most ${MAX_RAW_PATH} steps`);
  return [RAW_BRANCH, ...path];
}

/** The path of the drill's key. */
export const DRILL_PATH: readonly number[] = [DRILL_BRANCH];

/**
 * What a drill signs for a challenge: a hash tagged for drills alone, never the challenge's bytes, so that no
 * drill signature is a signature of anything else, whoever comes to trust the drill key.
 */
export const drillMessage = (challenge: Uint8Array): Uint8Array => taggedHash('Frostnet/drill', challenge);
