/**
 * Where the time and memory go, for the targets the benchmark misses: `node bench/profile.ts <workload>`.
 *   sign        3-of-5 on 5 daemons, sequential signatures through party 1
 *   throughput  3-of-5 on 5 daemons, 64 requests in flight through party 1
 *   dkg         11-of-15 DKG on 15 daemons
 *   baseline    the in-process 3-of-5 signature and 11-of-15 DKG, profiled in this process
 *   memory      VmRSS of Node with each of the daemon's big dependencies loaded, and of idle daemons
 * Daemons run with --cpu-prof; only samples taken while the workload ran are counted (start-up is left out).
 * With --allow-all the daemons run bench/daemon-allow-all.ts: the same daemon with an in-memory allow-all
 * policy, to measure what the policy file's per-request state on disk costs.
 * Not part of `npm run bench`: profiling slows what it measures.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT } from '../deploy/local-network.ts';
import { DAEMON_NODE_OPTIONS, daemonEnv } from '../deploy/node-options.ts';
import { dkgOnce, signer } from './baseline.ts';
import { Cluster, vmRssMB } from './cluster.ts';
import { formatSummary, monotonicUs, summarize } from './cpuprofile.ts';
import { keygen, signOnce, throughput } from './network.ts';
import { mean, median, round, type Samples, sample } from './stats.ts';

const workload = process.argv[2] ?? '';
const ENTRY = process.argv.includes('--allow-all') ? join(ROOT, 'bench/daemon-allow-all.ts') : undefined;
const SIGNATURES = 40;
/** Rows per list in the summaries: `--top N`, default 15. */
const TOP = Number(process.argv[process.argv.indexOf('--top') + 1]) || 15;

/** Starts n profiled daemons, runs `setup` (not profiled), then `work` inside the profile window. */
async function profiledCluster<S>(
  n: number,
  setup: (c: Cluster) => Promise<S>,
  work: (c: Cluster, s: S) => Promise<unknown>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'frostnet-prof-'));
  const c = await Cluster.create(n, { entry: ENTRY });
  let window: { fromUs: number; toUs: number } | undefined;
  const cpu: number[][] = [];
  try {
    await c.startAll((i) => ({ nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(dir, `party-${i + 1}`)}`] }));
    await c.connected();
    const prepared = await setup(c);
    await sleep(2000);
    const fromUs = monotonicUs();
    cpu.push(c.parties.map((p) => c.cpuMs(p.index)));
    const t0 = performance.now();
    const out = await work(c, prepared);
    console.log(`workload: ${round(performance.now() - t0)} ms wall`, out ?? '');
    cpu.push(c.parties.map((p) => c.cpuMs(p.index)));
    window = { fromUs, toUs: monotonicUs() };
  } finally {
    await c.close(); // SIGTERM: each daemon writes its profile as it exits
  }
  console.log(`CPU ms per daemon in the workload: ${cpu[1].map((x, i) => round(x - cpu[0][i])).join(' ')}`);
  const files = async (i: number) =>
    (await readdir(join(dir, `party-${i + 1}`))).map((f) => join(dir, `party-${i + 1}`, f));
  console.log('\n== party 1 (coordinator) ==');
  console.log(formatSummary(summarize(await files(0), TOP, window)));
  const others = (await Promise.all(Array.from({ length: n - 1 }, (_, i) => files(i + 1)))).flat();
  console.log(`\n== parties 2..${n}, together ==`);
  console.log(formatSummary(summarize(others, TOP, window)));
  await rm(dir, { recursive: true, force: true });
}

async function profileHere(name: string, fn: () => unknown, runs: number): Promise<void> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  for (let i = 0; i < 3; i++) fn(); // warm up, as the benchmark does
  await session.post('Profiler.start');
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) fn();
  const ms = performance.now() - t0;
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const dir = await mkdtemp(join(tmpdir(), 'frostnet-prof-'));
  const file = join(dir, `${name}.cpuprofile`);
  await writeFile(file, JSON.stringify(profile));
  console.log(`\n== in-process ${name}: ${runs} runs, ${round(ms / runs)} ms each ==`);
  console.log(formatSummary(summarize([file])));
  await rm(dir, { recursive: true, force: true });
}

/**
 * VmRSS of a fresh Node that has loaded `what` (a module path or package name), 2 s after the import finished
 * (on a loaded machine importing the daemon takes longer than any fixed wait).
 */
async function rssWith(what: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const code = `${what ? `await import(${JSON.stringify(what)});` : ''} console.log('loaded'); setInterval(() => {}, 1 << 30);`;
  const proc = spawn(join(ROOT, 'node_modules/.bin/node'), ['--input-type=module', '-e', code], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      proc.stdout.on('data', () => resolve());
      proc.once('exit', (c) => reject(new Error(`importing ${what} failed (${c})`)));
    });
    await sleep(2000);
    return vmRssMB(proc.pid!);
  } finally {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }
}

async function memory(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'frostnet-prof-'));
  const tiny = join(dir, 'tiny.ts');
  await writeFile(tiny, 'export const x: number = 1;\n');
  const rows: [string, string][] = [
    ['bare node', ''],
    ['one tiny .ts file (type stripping loaded)', tiny],
    ['@noble/curves secp256k1', '@noble/curves/secp256k1.js'],
    ['tiny-secp256k1 (libsecp256k1 in WebAssembly)', 'tiny-secp256k1'],
    ['level', 'level'],
    ['protobufjs', 'protobufjs'],
    ['bitcoinjs-lib', 'bitcoinjs-lib'],
    ['ethers', 'ethers'],
    ['libp2p', 'libp2p'],
    // The daemon's big parts; none imports ethers or bitcoinjs-lib at start (test/node/daemon-footprint.test.ts).
    [
      'node/signing/coordinator.ts (chain decoders load on demand)',
      join(ROOT, 'node/signing/coordinator.ts'),
    ],
    [
      'node/policy/party-policy.ts (address checks load with a policy that names addresses)',
      join(ROOT, 'node/policy/party-policy.ts'),
    ],
    ['node/api/server.ts (PSBT finalization loads with the first PSBT)', join(ROOT, 'node/api/server.ts')],
    ['node/daemon.ts (everything a daemon loads, not started)', join(ROOT, 'node/daemon.ts')],
  ];
  const show = (mb: number, label: string) => console.log(`${round(mb).toString().padStart(6)} MB  ${label}`);
  for (const [label, what] of rows) show(await rssWith(what), label);
  show(
    await rssWith(join(ROOT, 'node/daemon.ts'), daemonEnv(process.env)),
    `node/daemon.ts with NODE_OPTIONS=${DAEMON_NODE_OPTIONS}`,
  );
  await rm(dir, { recursive: true, force: true });
  const c = await Cluster.create(5);
  try {
    await c.startAll();
    await c.connected();
    await sleep(3000);
    console.log(
      `${c.parties.map((p) => round(c.rssMB(p.index))).join(' ')} MB  5 daemons started by "frostnet start" (NODE_OPTIONS=${DAEMON_NODE_OPTIONS}), idle`,
    );
  } finally {
    await c.close();
  }
}

const describeRuns = (s: Samples) =>
  `${s.wall.length} ok, wall ${s.wall.map(round).join(' ')} ms, CPU of all daemons ${s.cpu.map(round).join(' ')} ms` +
  (s.failures.length
    ? `; ${s.failures.length} failed: ${s.failures.map((f) => f.slice(0, 200)).join(' | ')}`
    : '');

const key35 = (c: Cluster) => keygen(c, 'p35', 3, 5);

switch (workload) {
  case 'sign':
    await profiledCluster(5, key35, async (c, key) => {
      const s = await sample(
        { run: () => signOnce(c, 0, key.name), cpuMs: () => c.totalCpuMs() },
        SIGNATURES,
      );
      return `${SIGNATURES} signatures, median ${round(median(s.wall))} ms, ${round(mean(s.cpu))} CPU ms each`;
    });
    break;
  case 'throughput':
    await profiledCluster(5, key35, async (c, key) => {
      const t = await throughput(c, [0], { name: key.name, members: 5 }, 64, 2000, 10_000);
      return `${round(t.perSecond)} sig/s, ${round(t.cpuMsPerSignature)} CPU ms per signature (${t.cpuMsPerSignatureByDaemon.map(round).join(' ')} by party), ${round(t.coresUsed)} cores`;
    });
    break;
  case 'dkg':
    await profiledCluster(
      15,
      async () => undefined,
      async (c) => {
        let run = 0;
        const s = await sample(
          { run: () => keygen(c, `p1115-${++run}`, 11, 15), cpuMs: () => c.totalCpuMs() },
          2,
        );
        return `11-of-15 DKG: ${describeRuns(s)}`;
      },
    );
    break;
  case 'baseline':
    await profileHere('sign 3-of-5', signer({ t: 3, n: 5 }), SIGNATURES);
    await profileHere('DKG 11-of-15', dkgOnce({ t: 11, n: 15 }), 2);
    break;
  case 'memory':
    await memory();
    break;
  default:
    console.error('usage: node bench/profile.ts sign|throughput|dkg|baseline|memory [--allow-all]');
    process.exitCode = 2;
}
