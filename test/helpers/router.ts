/**
 * Delivers ceremony messages between in-process parties, in order, with a hook that lets a test play a
 * misbehaving party by rewriting, dropping or duplicating what one party sends.
 */
import assert from 'node:assert/strict';
import type { CeremonyMessage, Outbound, Step, VssCeremony } from '../../protocol/vss.ts';

export type Envelope = { from: string; to: string; message: CeremonyMessage };
/** Returns the messages to deliver instead of `env` (empty to drop it). */
export type Tamper = (env: Envelope) => Envelope[];

export type RunOutcome<R> = {
  results: Map<string, R>;
  pending: Map<string, R>;
  errors: Map<string, Error>;
};

export function runCeremony<R>(
  parties: Map<string, VssCeremony<R>>,
  tamper: Tamper = (e) => [e],
): RunOutcome<R> {
  const queue: Envelope[] = [];
  const out: RunOutcome<R> = { results: new Map(), pending: new Map(), errors: new Map() };
  const take = (from: string, step: Step<R>) => {
    if (step.pending !== undefined) out.pending.set(from, step.pending);
    if (step.result !== undefined) out.results.set(from, step.result);
    for (const o of step.send as Outbound[]) queue.push(...tamper({ from, to: o.to, message: o.message }));
  };
  const attempt = (party: string, fn: () => Step<R>) => {
    if (out.errors.has(party)) return;
    try {
      take(party, fn());
    } catch (e) {
      out.errors.set(party, e as Error);
    }
  };
  for (const [id, c] of parties) attempt(id, () => c.start());
  while (queue.length > 0) {
    const env = queue.shift()!;
    const target = parties.get(env.to);
    if (target) attempt(env.to, () => target.receive(env.from, env.message));
  }
  return out;
}

/** A run and every message delivered in it, in order: a transcript to compare. */
export type Recorded<R> = RunOutcome<R> & { messages: Envelope[] };

/** An honest run that also records every message in the order it was delivered. */
export function recordCeremony<R>(parties: Map<string, VssCeremony<R>>): Recorded<R> {
  const messages: Envelope[] = [];
  const out = runCeremony(parties, (e) => {
    messages.push(e);
    return [e];
  });
  return { ...out, messages };
}

/**
 * Runs `run` twice with `seed` and once with `other`. Asserts that the seeded run completes for all `parties`
 * and that its second run is byte for byte its first: every message, in the same order, and every result.
 */
export function replays<R>(run: (seed: string) => Recorded<R>, parties: number, seed: string, other: string) {
  const first = run(seed);
  assert.equal(first.errors.size, 0, [...first.errors.values()].join('; '));
  assert.equal(first.results.size, parties);
  const again = run(seed);
  assert.deepEqual(again.messages, first.messages, 'the same seed sends the same messages');
  assert.deepEqual(again.results, first.results, 'the same seed gives the same results');
  return { first, other: run(other) };
}
