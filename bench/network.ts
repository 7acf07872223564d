/**
 * Measurements through real daemons: every figure is a request made through a daemon's control API and timed
 * by the client from the POST to the long-poll's answer, as `frostnet sign` sees it.
 */

import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NetworkName } from '../chains/bitcoin/network-names.ts';
import type { Cluster } from './cluster.ts';
import { median, quantile, type Samples } from './stats.ts';

export type KeyInfo = {
  name: string;
  groupKey: string;
  chainCode: string;
  threshold: number;
  members: string[];
  network: NetworkName;
};

/** A t-of-n key over the first n daemons, made through daemon 0, to the end of its request. */
export async function keygen(c: Cluster, name: string, t: number, n: number): Promise<KeyInfo> {
  return (await c.must(0, '/v1/keys', { name, threshold: t, parties: c.ids.slice(0, n) })) as KeyInfo;
}

/** Waits until the first n daemons hold `name` active at one epoch with nothing pending. */
export async function settled(c: Cluster, name: string, n: number, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const views = await Promise.all(
      c.parties.slice(0, n).map((p) => c.call(p.index, 'GET', `/v1/keys/${encodeURIComponent(name)}`)),
    );
    const epochs = new Set(views.map((v) => v.json.epoch));
    if (
      views.every((v) => v.status === 200 && v.json.state === 'active' && v.json.pendingEpoch === undefined)
    )
      if (epochs.size === 1) return [...epochs][0] as number;
    if (Date.now() > deadline) throw new Error(`key ${name} did not settle on one epoch`);
    await sleep(100);
  }
}

// A drill: one 32-byte message under the drill key, allowed by every default policy (raw messages are not).
const signBody = () => ({ drill: randomBytes(32).toString('hex') });

/** One signature of a fresh random message through daemon `via`. */
export async function signOnce(c: Cluster, via: number, name: string): Promise<void> {
  await c.must(via, `/v1/keys/${name}/sign`, signBody());
}

export type Throughput = {
  concurrency: number;
  /** The daemons whose control APIs took the requests (round robin), and so coordinated. */
  via: number[];
  windowMs: number;
  signatures: number;
  failures: number;
  perSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** CPU time the key's daemons spent per signature in the window (user + system, from /proc). */
  cpuMsPerSignature: number;
  /** Each of the key's daemons' CPU ms per signature, in party order. */
  cpuMsPerSignatureByDaemon: number[];
  /** CPU the key's daemons got in the window, in cores (CPU ms per wall ms): on a shared machine, their share. */
  coresUsed: number;
  /** Highest VmRSS seen in the window: of the coordinating daemons, and of the others. */
  peakRssMB: { coordinator: number; others: number };
};

/**
 * Signatures per second with a fixed number of requests in flight, sent round robin to the daemons `via`.
 * Workers start together and keep `concurrency` requests open; only those that complete inside the window
 * (after `warmupMs`, once the pipeline is full) count: the steady state, not the ramp up and the drain.
 */
export async function throughput(
  c: Cluster,
  via: readonly number[],
  key: { name: string; members: number },
  concurrency: number,
  warmupMs: number,
  windowMs: number,
): Promise<Throughput> {
  const from = performance.now() + warmupMs;
  const to = from + windowMs;
  const latencies: number[] = [];
  let failures = 0;
  const cpuNow = () => c.parties.slice(0, key.members).map((p) => c.cpuMs(p.index));
  const peak = { coordinator: 0, others: 0 };
  const sampler = setInterval(() => {
    const now = performance.now();
    if (now < from || now > to) return;
    for (const p of c.parties.slice(0, key.members)) {
      let rss = 0;
      try {
        rss = c.rssMB(p.index);
      } catch {
        continue; // a daemon that crashed: the run reports it
      }
      if (via.includes(p.index)) peak.coordinator = Math.max(peak.coordinator, rss);
      else peak.others = Math.max(peak.others, rss);
    }
  }, 100);
  const worker = async (k: number) => {
    while (performance.now() < to) {
      const t0 = performance.now();
      let ok = false;
      try {
        ok = (await c.run(via[k % via.length], `/v1/keys/${key.name}/sign`, signBody())).state === 'done';
      } catch {
        // counted as a failure below, like a refused request
      }
      const t1 = performance.now();
      if (t1 < from || t1 > to) continue;
      if (ok) latencies.push(t1 - t0);
      else failures++;
    }
  };
  const workers = Array.from({ length: concurrency }, (_, k) => worker(k));
  await sleep(from - performance.now());
  const cpuFrom = cpuNow();
  await sleep(to - performance.now());
  const cpuTo = cpuNow();
  clearInterval(sampler);
  await Promise.all(workers);
  const n = Math.max(1, latencies.length);
  const byDaemon = cpuTo.map((x, i) => (x - cpuFrom[i]) / n);
  return {
    concurrency,
    via: [...via],
    windowMs,
    signatures: latencies.length,
    failures,
    perSecond: latencies.length / (windowMs / 1000),
    latencyP50Ms: median(latencies),
    latencyP99Ms: quantile(latencies, 0.99),
    cpuMsPerSignature: byDaemon.reduce((a, b) => a + b, 0),
    cpuMsPerSignatureByDaemon: byDaemon,
    coresUsed: cpuTo.reduce((a, x, i) => a + x - cpuFrom[i], 0) / windowMs,
    peakRssMB: peak,
  };
}

/** A refresh of `name` through daemon `via`, to the end of its request (every member has confirmed). */
export async function refreshOnce(c: Cluster, via: number, name: string): Promise<void> {
  await c.must(via, `/v1/keys/${name}/refresh`, {});
}

/** VmRSS of every daemon now, in MB. */
export const rssAll = (c: Cluster): number[] => c.parties.map((p) => c.rssMB(p.index));

/** Sequential signatures while a signer is killed and restarted, beside the same number without faults. */
export type FaultRun = { quiet: Samples; faulty: Samples; kills: number };

/**
 * `runs` sequential signatures through daemon `via` on a quiet network, then at least `runs` more while, in
 * the background, one of the signers the coordinator last used is killed (SIGKILL) a moment into a request,
 * started again, and so on, until `minKills` kills. A request in flight when its signer dies is answered by
 * the others; the p99 shows what that costs, the p50 what the restarts cost the rest.
 */
export async function signUnderFaults(
  c: Cluster,
  via: number,
  name: string,
  members: number,
  runs: number,
  minKills = 3,
): Promise<FaultRun> {
  const quiet: Samples = { wall: [], cpu: [], failures: [] };
  const faulty: Samples = { wall: [], cpu: [], failures: [] };
  const once = async (into: Samples) => {
    const t0 = performance.now();
    const r = await c.run(via, `/v1/keys/${name}/sign`, signBody());
    if (r.state === 'done') {
      into.wall.push(performance.now() - t0);
      into.cpu.push(0);
      return r.result.signers as string[];
    }
    into.failures.push(JSON.stringify(r.error));
    return undefined;
  };
  let last: string[] = [];
  for (let i = 0; i < runs; i++) last = (await once(quiet)) ?? last;
  let done = false;
  let kills = 0;
  const chaos = (async () => {
    while (!done) {
      const victim = c.parties.findIndex((p, i) => i !== via && i < members && last.includes(p.peerId));
      if (victim < 0) {
        await sleep(50);
        continue;
      }
      await sleep(150 + Math.random() * 250); // so that the kill lands inside some request
      await c.kill(victim);
      kills++;
      await c.start(victim);
      await sleep(300);
    }
  })();
  try {
    while (faulty.wall.length + faulty.failures.length < runs || kills < minKills)
      last = (await once(faulty)) ?? last;
  } finally {
    done = true;
    await chaos;
  }
  return { quiet, faulty, kills };
}
