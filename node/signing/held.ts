/**
 * A signing request that parties hold for their operators (an approval, a time lock) is a wait, not a failure.
 * The coordinating daemon reports who holds it and why, and asks again (backing off) until t members sign, the
 * holders' decisions leave fewer than t who could, or the wait's end passes. Custody proposals and ordinary
 * signing requests (PSBT, EVM actions, raw messages) share this loop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { FrostnetError } from '../../protocol/errors.ts';
import { type Exclusion, SignersExhausted, type SignOutcome } from './coordinator.ts';
import { HELD_CODES } from './hold-error.ts';

/** Failures that may go away by themselves (a party restarting); anything else is a refusal. */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set(['UNREACHABLE', 'TIMEOUT', 'NONCE_REUSED']);

/** One party that holds the request: its code (APPROVAL_REQUIRED or TIME_LOCKED), its reason, and until when. */
export type Holder = { party: string; code: string; reason: string; until?: string };

/** A request that waits for approvals: who holds it and why, and how many of the t signers are in hand. */
export type HeldRequest = {
  /** The id the holders' approval queues show (node/policy/describe.ts shortId): the same at every party. */
  id: string;
  kind: string;
  holders: Holder[];
  /** Parties that did not hold or refuse it in the last attempt: they approve it. */
  approvals: string[];
  needed: number;
  /** Parties that refused it outright in the last attempt (the others can still make the threshold). */
  refused?: { party: string; code: string; reason: string }[];
  /** Until when the request waits; absent when only the holders' own expiries end it. */
  expiresAt?: string;
};

export type WaitPlan = {
  id: string;
  kind: string;
  members: readonly string[];
  threshold: number;
  /** Ms since the epoch after which the wait ends; undefined: as long as the holders keep the request. */
  expiresAt?: number;
  /** The longest pause between two asks (default 15 s). */
  maxPauseMs?: number;
  /**
   * The error when fewer than t members could still sign, given the refusing parties (or, when none refused,
   * every excluded one); default the exhausted error itself.
   */
  refused?: (refused: readonly Exclusion[], e: SignersExhausted) => Error;
  /** The error when the wait's end passed while parties still held the request. */
  expired?: (held: readonly Exclusion[]) => Error;
};

export type WaitDeps = { clock: () => number; pause?: (ms: number) => Promise<unknown> };

/** The holders of an exhausted attempt, when the request waits for them rather than failed; else undefined. */
export function heldBy(e: SignersExhausted, members: readonly string[], threshold: number) {
  const held = e.excluded.filter((x) => HELD_CODES.has(x.code));
  const refused = e.excluded.filter((x) => !HELD_CODES.has(x.code) && !TRANSIENT_CODES.has(x.code));
  const possible = members.filter((m) => !refused.some((r) => r.party === m));
  return { held, refused, waits: held.length > 0 && possible.length >= threshold };
}

/**
 * Runs `sign` until it succeeds, waiting while parties hold the request (pauses from 1 s up to maxPauseMs).
 * `report` hears the held state at each attempt, and undefined once the request no longer waits.
 */
export async function signWhenCleared(
  sign: () => Promise<SignOutcome>,
  plan: WaitPlan,
  report: ((h: HeldRequest | undefined) => void) | undefined,
  deps: WaitDeps,
): Promise<SignOutcome> {
  const pause = deps.pause ?? sleep;
  const max = plan.maxPauseMs ?? 15_000;
  for (let wait = Math.min(1000, max); ; wait = Math.min(wait * 2, max)) {
    try {
      const out = await sign();
      report?.(undefined);
      return out;
    } catch (e) {
      if (!(e instanceof SignersExhausted)) {
        report?.(undefined);
        throw e;
      }
      const { held, refused, waits } = heldBy(e, plan.members, plan.threshold);
      if (!waits) {
        report?.(undefined);
        throw plan.refused ? plan.refused(refused.length ? refused : e.excluded, e) : e;
      }
      if (plan.expiresAt !== undefined && deps.clock() >= plan.expiresAt) {
        report?.(undefined);
        throw (
          plan.expired?.(held) ??
          new FrostnetError(
            'POLICY_DENIED',
            `request ${plan.id} expired before ${plan.threshold} members approved it`,
            held.map((h) => h.party),
          )
        );
      }
      const out = new Set(e.excluded.map((x) => x.party));
      report?.({
        id: plan.id,
        kind: plan.kind,
        holders: held.map(({ party, code, reason, until }) => ({
          party,
          code,
          reason,
          ...(until && { until }),
        })),
        approvals: plan.members.filter((m) => !out.has(m)),
        ...(refused.length && {
          refused: refused.map(({ party, code, reason }) => ({ party, code, reason })),
        }),
        needed: plan.threshold,
        ...(plan.expiresAt !== undefined && { expiresAt: new Date(plan.expiresAt).toISOString() }),
      });
      await pause(wait);
    }
  }
}
