/**
 * `npm run bench`: the in-process baselines, real daemons on 127.0.0.1, and the on-chain figures, printed as one
 * table and written as JSON to bench/results/latest.json. Every daemon and chain it starts is stopped at the
 * end, also when a step fails or the run is interrupted.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from '../deploy/local-network.ts';
import { type Anvil, startAnvil } from '../test/helpers/anvil.ts';
import {
  dkgOnce,
  type Group,
  label,
  nobleDkgOnce,
  nobleSigner,
  refresher,
  signer,
  singleKeySigner,
} from './baseline.ts';
import { p2wshMultisigInputVsize, taprootSpends } from './bitcoin.ts';
import { bareNodeRssMB, Cluster } from './cluster.ts';
import { ANVIL_TRACING, inProcessSigner, measureGroupsGas, networkSigner } from './evm.ts';
import {
  type KeyInfo,
  keygen,
  refreshOnce,
  rssAll,
  settled,
  signOnce,
  signUnderFaults,
  throughput,
} from './network.ts';
import { dkgPerParty, signPerParty } from './per-party.ts';
import { measureRecovery } from './recovery.ts';
import { table } from './report.ts';
import { buildRows, type Pair, type PerParty, type Results } from './rows.ts';
import { here, interleaved, round, sample, type Workload } from './stats.ts';

// Sample sizes: enough for a stable median on a 2-core machine, few enough that a run stays well under ten
// minutes there. The p99 of SIGN_RUNS samples is the slowest of them, and the table says so.
const SIGN_RUNS = 40;
const SIGN_WARMUP = 3;
const DKG_RUNS = 3;
const REFRESH_RUNS = 3;
const SINGLE_KEY_RUNS = 200;
const THROUGHPUT_WARMUP_MS = 3000;
const THROUGHPUT_WINDOW_MS = 10_000;
const FAULT_RUNS = 40;
const PER_PARTY_DKG_RUNS = 3;
const PER_PARTY_SIGN_RUNS = { small: 40, large: 5 };
const DAEMONS = 15;
const VIA = 0; // every request goes through party 1's control API, so party 1 coordinates

const GROUPS: Record<string, Group> = {
  '2-of-3': { t: 2, n: 3 },
  '3-of-5': { t: 3, n: 5 },
  '7-of-10': { t: 7, n: 10 },
  '11-of-15': { t: 11, n: 15 },
};
/** Groups whose signing and whose DKG are measured through the daemons too. */
const NETWORK_SIGN = ['2-of-3', '3-of-5', '7-of-10'];
const NETWORK_DKG = ['3-of-5', '11-of-15'];
/** Groups whose EVM account gas is measured, side by side. */
const GAS_GROUPS = ['2-of-3', '3-of-5', '7-of-10'];

const started = performance.now();
const log = (s: string) =>
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}\n`);

let cluster: Cluster | undefined;
let anvil: Anvil | undefined;
async function cleanup(): Promise<void> {
  const [c, a] = [cluster, anvil];
  cluster = undefined;
  anvil = undefined;
  await Promise.allSettled([c?.close(), a?.stop()]);
}
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    log(`${sig}: stopping every daemon and anvil`);
    void cleanup().finally(() => process.exit(130));
  });

function machine() {
  let commit = 'unknown';
  let uncommitted: string[] = [];
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    commit = git('rev-parse', '--short', 'HEAD');
    // The daemons run the working tree: say which measured code differs from the commit.
    uncommitted = git('status', '--porcelain', '--', 'protocol', 'node', 'cli', 'chains', 'proto')
      .split('\n')
      .filter(Boolean);
  } catch {
    // not a git checkout
  }
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memTotalGB: round(os.totalmem() / 1e9),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    commit,
    uncommitted,
  };
}

/** Why each section that failed did; the table shows them, and the run goes on with the next section. */
const errors: Record<string, string> = {};

async function section<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    errors[name] = (e as Error).message;
    log(`${name} failed: ${(e as Error).message}`);
    return undefined;
  } finally {
    await revive(name);
  }
}

/** Restarts crashed daemons (a crash is a finding: it goes in the table) so that the next figure can be measured. */
async function revive(during: string): Promise<void> {
  for (const crash of (await cluster?.revive()) ?? []) {
    errors[`daemon crash during ${during} (${Object.keys(errors).length + 1})`] = crash;
    log(`daemon crashed during ${during}, started again: ${crash}`);
  }
}

async function measure(): Promise<Results> {
  const bareRssMB = await bareNodeRssMB();
  log(`starting ${DAEMONS} daemons`);
  const t0 = performance.now();
  const c = (cluster = await Cluster.create(DAEMONS));
  await c.startAll();
  await c.connected();
  log(`daemons up and connected in ${round((performance.now() - t0) / 1000)} s`);
  await sleep(3000); // start-up garbage collected, heartbeats exchanged: idle
  const idleRssMB = rssAll(c);
  log(`idle RSS: ${idleRssMB.map((x) => Math.round(x)).join(' ')} MB`);

  /** A workload through the daemons; its CPU counter is the first n daemons', the parties of its key. */
  const net = (n: number, run: () => Promise<unknown>, after?: () => Promise<unknown>): Workload => ({
    run,
    cpuMs: () => c.totalCpuMs(n),
    after: async () => {
      await revive(`a ${n}-party run`);
      await after?.();
    },
  });

  log('in-process: single-key signature, DKGs and signatures (noble and this project), per-party rows');
  const singleKey = await sample(here(singleKeySigner()), SINGLE_KEY_RUNS, 20);
  const dkg: Record<string, Pair> = {};
  const sign: Record<string, Pair> = {};
  for (const [name, g] of Object.entries(GROUPS)) {
    const core = await sample(here(dkgOnce(g)), DKG_RUNS, 1);
    dkg[name] = NETWORK_DKG.includes(name)
      ? { inProcess: core, core }
      : { inProcess: await sample(here(nobleDkgOnce(g)), DKG_RUNS, 1), core };
    const signCore = await sample(here(signer(g)), NETWORK_SIGN.includes(name) ? SIGN_RUNS : 20, SIGN_WARMUP);
    sign[name] = NETWORK_SIGN.includes(name)
      ? { inProcess: signCore, core: signCore }
      : { inProcess: await sample(here(nobleSigner(g)), 20, SIGN_WARMUP), core: signCore };
  }
  log('per party: 2-of-3 and 67-of-100 signing, 11-of-15 and 67-of-100 DKG, this project beside noble');
  const perParty: PerParty[] = [
    { group: { t: 2, n: 3 }, sign: signPerParty(2, 3, PER_PARTY_SIGN_RUNS.small) },
    { group: { t: 11, n: 15 }, dkg: dkgPerParty(11, 15, PER_PARTY_DKG_RUNS) },
    {
      group: { t: 67, n: 100 },
      dkg: dkgPerParty(67, 100, PER_PARTY_DKG_RUNS),
      sign: signPerParty(67, 100, PER_PARTY_SIGN_RUNS.large),
    },
  ];

  for (const name of NETWORK_DKG) {
    const g = GROUPS[name];
    log(`DKG ${name}: ${DKG_RUNS} through ${g.n} daemons and ${DKG_RUNS} in-process, turn about`);
    let run = 0;
    const r = await interleaved(
      net(g.n, () => keygen(c, `dkg-${g.t}of${g.n}-${++run}`, g.t, g.n)),
      here(nobleDkgOnce(g)),
      DKG_RUNS,
    );
    dkg[name] = { ...dkg[name], network: r.a, inProcess: r.b };
  }

  const keys: Record<string, KeyInfo> = {};
  for (const name of NETWORK_SIGN) {
    const g = GROUPS[name];
    const key = await section(`key ${name} for signing`, async () => {
      const k = await keygen(c, `sign-${g.t}of${g.n}`, g.t, g.n);
      await settled(c, k.name, g.n);
      return k;
    });
    if (!key) {
      sign[name] = { ...sign[name], inProcess: await sample(here(nobleSigner(g)), SIGN_RUNS, SIGN_WARMUP) };
      continue;
    }
    keys[name] = key;
    log(`sign ${name}: ${SIGN_RUNS} sequential through the daemons and ${SIGN_RUNS} in-process, turn about`);
    const r = await interleaved(
      net(g.n, () => signOnce(c, VIA, key.name)),
      here(nobleSigner(g)),
      SIGN_RUNS,
      SIGN_WARMUP,
    );
    sign[name] = { ...sign[name], network: r.a, inProcess: r.b };
  }

  const k35 = keys['3-of-5'];
  const tput = [];
  // Through party 1 alone (one coordinator, as one application using its own party), and for the last run
  // spread over all five parties (every party coordinating a share of the requests).
  const runs: [number, number[]][] = [
    [16, [VIA]],
    [64, [VIA]],
    [64, [0, 1, 2, 3, 4]],
  ];
  for (const [concurrency, via] of k35 ? runs : []) {
    const how = via.length === 1 ? `through party ${via[0] + 1}` : `spread over ${via.length} parties`;
    log(`throughput 3-of-5, ${concurrency} requests in flight ${how}`);
    const t = await section(`throughput at ${concurrency} ${how}`, () =>
      throughput(
        c,
        via,
        { name: k35.name, members: 5 },
        concurrency,
        THROUGHPUT_WARMUP_MS,
        THROUGHPUT_WINDOW_MS,
      ),
    );
    if (t) tput.push(t);
  }

  log(`refresh 3-of-5: ${REFRESH_RUNS} through the daemons and ${REFRESH_RUNS} in-process, turn about`);
  const refresh = await section('refresh 3-of-5', async () => {
    await settled(c, k35.name, 5);
    const r = await interleaved(
      net(
        5,
        () => refreshOnce(c, VIA, k35.name),
        () => settled(c, k35.name, 5),
      ),
      here(refresher(GROUPS['3-of-5'])),
      REFRESH_RUNS,
    );
    return { network: r.a, inProcess: r.b };
  });

  log(
    `3-of-5: ${FAULT_RUNS} sequential signatures quiet, then ${FAULT_RUNS} while a signer is killed and restarted`,
  );
  const faults = k35
    ? await section('signing under faults', async () => {
        await settled(c, k35.name, 5);
        return signUnderFaults(c, VIA, k35.name, 5, FAULT_RUNS);
      })
    : undefined;

  log('Taproot spends signed by the network');
  const taproot = await section('Taproot spend', () => taprootSpends(c, VIA, k35));
  log(
    `EVM gas on anvil for the accounts of ${GAS_GROUPS.join(', ')}, signed by the network where it has the key`,
  );
  const gas = await section('EVM gas', async () => {
    anvil = await startAnvil(ANVIL_TRACING);
    return measureGroupsGas(
      anvil.rpcUrl,
      GAS_GROUPS.map((name) => GROUPS[name]),
      (g) => {
        const key = keys[label(g)];
        return key
          ? { signer: networkSigner(c, VIA, key), signedBy: 'network' }
          : { signer: inProcessSigner(g), signedBy: 'in-process FROST' };
      },
    );
  });

  log('recovery: input sizes of recovery-enabled coins and the account recovery gas, FROST in process');
  const recovery = await section('recovery costs', async () => {
    anvil ??= await startAnvil(ANVIL_TRACING);
    return measureRecovery(anvil.rpcUrl);
  });

  return {
    bareRssMB,
    idleRssMB,
    singleKey,
    dkg,
    sign,
    throughput: tput,
    refresh,
    perParty,
    faults,
    taproot,
    gas,
    ...(recovery && { recovery }),
    errors,
    p2wshInputVsize: { '2-of-3': p2wshMultisigInputVsize(2, 3), '3-of-5': p2wshMultisigInputVsize(3, 5) },
  };
}

/**
 * Measured numbers rounded all the way down, for a JSON file a person can read; numbers with at most two
 * decimals (gas, vbytes, figures already rounded) are kept as they are.
 */
function roundDeep(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v * 100) ? v : round(v);
  if (Array.isArray(v)) return v.map(roundDeep);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, roundDeep(x)]));
  return v;
}

async function main(): Promise<void> {
  const info = machine();
  const loadStart = os.loadavg();
  log(`machine: ${info.nproc} CPUs (${info.cpu}), ${info.memTotalGB} GB, node ${info.node}`);
  const results = await measure();
  await cleanup();
  const rows = buildRows(results, GROUPS, DAEMONS);
  const durationS = round((performance.now() - started) / 1000);
  const loadEnd = os.loadavg();
  process.stdout.write(`${table(rows)}\n`);
  log(
    `done in ${durationS} s; load average (1/5/15 min) ${loadStart.map(round).join('/')} at start, ${loadEnd.map(round).join('/')} at end`,
  );
  const outDir = join(ROOT, 'bench/results');
  await mkdir(outDir, { recursive: true });
  const json = {
    date: new Date().toISOString(),
    machine: info,
    loadAverage: { start: loadStart, end: loadEnd },
    durationS,
    samples: {
      faults: FAULT_RUNS,
      perPartyDkg: PER_PARTY_DKG_RUNS,
      perPartySign: PER_PARTY_SIGN_RUNS,
      sign: SIGN_RUNS,
      dkg: DKG_RUNS,
      refresh: REFRESH_RUNS,
      singleKey: SINGLE_KEY_RUNS,
      throughputWindowMs: THROUGHPUT_WINDOW_MS,
    },
    rows,
    results,
  };
  await writeFile(join(outDir, 'latest.json'), `${JSON.stringify(roundDeep(json), null, 2)}\n`);
}

try {
  await main();
} catch (e) {
  log(`failed: ${(e as Error).stack ?? e}`);
  for (const p of cluster?.parties ?? []) {
    const said = cluster?.logTail(p.index, 4000);
    if (said) log(`${p.name} (${p.peerId}) stderr, last lines:\n${said}`);
  }
  process.exitCode = 1;
} finally {
  await cleanup();
}
