/**
 * Timing and summary statistics for the benchmark. Each sample has two figures: wall-clock milliseconds, and
 * the CPU milliseconds the processes doing the work spent on it. On a shared machine the first moves with the
 * load; the second mostly does not, and tells contention apart from work.
 */
import { performance } from 'node:perf_hooks';

/** The q-quantile (0..1) of `samples`, nearest-rank: a value that was actually observed, never interpolated. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

export const median = (samples: readonly number[]): number => quantile(samples, 0.5);
export const mean = (samples: readonly number[]): number =>
  samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length);

/**
 * Something to measure, the CPU counter (ms, monotonic) of whatever does the work, and what must happen after
 * each run, failed or not, before the next one, untimed (say, waiting for every party to settle on a new epoch).
 */
export type Workload = { run: () => unknown; cpuMs: () => number; after?: () => unknown };
/** Figures of the runs that succeeded, and why each other run failed (a failed run is not a sample). */
export type Samples = { wall: number[]; cpu: number[]; failures: string[] };
const empty = (): Samples => ({ wall: [], cpu: [], failures: [] });

/** CPU time of this process (user + system, every thread), in ms: the counter for in-process work. */
export const ownCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** An in-process workload. */
export const here = (run: () => unknown): Workload => ({ run, cpuMs: ownCpuMs });

async function once(w: Workload, into: Samples): Promise<void> {
  try {
    const c0 = w.cpuMs();
    const t0 = performance.now();
    await w.run();
    into.wall.push(performance.now() - t0);
    into.cpu.push(w.cpuMs() - c0);
  } catch (e) {
    into.failures.push((e as Error).message);
  } finally {
    await w.after?.();
  }
}

/**
 * `runs` samples of `w` after `warmup` unmeasured runs: the warm-up lets V8 optimise the hot code first, so that
 * the figures describe a long-running process rather than a cold start.
 */
export async function sample(w: Workload, runs: number, warmup = 0): Promise<Samples> {
  const out = empty();
  for (let i = 0; i < warmup; i++) await once(w, empty());
  for (let i = 0; i < runs; i++) await once(w, out);
  return out;
}

/**
 * Samples of two workloads taken turn about (a b, b a, a b, ...): on a machine whose load drifts, both see the
 * same conditions, so their ratio stays fair even when the absolute figures move.
 */
export async function interleaved(
  a: Workload,
  b: Workload,
  runs: number,
  warmup = 0,
): Promise<{ a: Samples; b: Samples }> {
  for (let i = 0; i < warmup; i++) {
    await sample(a, 0, 1);
    await sample(b, 0, 1);
  }
  const out = { a: empty(), b: empty() };
  for (let i = 0; i < runs; i++) {
    const [first, second] = i % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const);
    await once(first === 'a' ? a : b, out[first]);
    await once(second === 'a' ? a : b, out[second]);
  }
  return out;
}

/** Rounds for display and JSON: three significant digits is all a benchmark on a shared machine can claim. */
export function round(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))));
  return Number(x.toFixed(Math.min(digits, 4)));
}
