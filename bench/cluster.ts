/**
 * Real party daemons for the benchmark, started the way an operator starts them (`frostnet start`, with the
 * Node options a deployed daemon has), each its own process, data dir and ports on 127.0.0.1: the harness of
 * deploy/local-network.ts with the benchmark's settings, and what measuring adds: /proc readings of each process
 * (RSS, CPU time) and revive after a crash. Its extra Node flags (--cpu-prof) are the harness's, and so is the
 * stop that lets a daemon exit cleanly (SIGTERM), so that a profile gets written.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalNetwork } from '../deploy/local-network.ts';

const PASSPHRASE = 'benchmark passphrase';

/** VmRSS of a process from /proc/<pid>/status, in MB (10^6 bytes). */
export function vmRssMB(pid: number): number {
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!kb) throw new Error(`no VmRSS for process ${pid}`);
  return (Number(kb[1]) * 1024) / 1e6; // VmRSS counts KiB
}

/**
 * The memory floor: VmRSS of a bare Node process of the same binary, idle after `settleMs`. What a daemon
 * holds beyond it is the daemon's own.
 */
export async function bareNodeRssMB(settleMs = 2000): Promise<number> {
  const proc = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  try {
    await sleep(settleMs);
    return vmRssMB(proc.pid!);
  } finally {
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }
}

/** Clock ticks per second for /proc/<pid>/stat CPU times. */
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export class Cluster extends LocalNetwork {
  /**
   * n initialised parties, each configured with all the others as peers; `entry`: the script each daemon runs,
   * the `frostnet` command by default, or another that takes the same arguments and prints the same first line
   * (bench/daemon-allow-all.ts, for an experiment).
   */
  static override async create(n: number, o: { entry?: string } = {}): Promise<Cluster> {
    return new Cluster({
      passphrase: PASSPHRASE,
      logLevel: 'warn',
      // The default 20 s round timeout is an operator's choice, not a speed: on a loaded two-core machine
      // fifteen daemons can take longer than that for one DKG round, and a run that times out measures
      // nothing. A longer timeout lets such a run finish and be measured as slow.
      roundTimeoutMs: 45_000,
      entry: o.entry,
      // Keep only the tail of stderr: enough to explain a failure, bounded however long the bench runs.
      log: { tail: 4000 },
      readyTimeoutMs: 120_000,
      // A daemon's start-up (loading its modules, opening the store) is a couple of CPU seconds; starting them
      // a few at a time, one per core, is as fast as all at once and keeps each start within its timeout.
      startConcurrency: availableParallelism(),
    }).populate(n);
  }

  pid(i: number): number {
    const p = this.parties[i];
    if (p.crashed) throw new Error(`${p.name} ${p.crashed}`);
    const pid = p.proc?.pid;
    if (pid === undefined) throw new Error(`${p.name} is not running`);
    return pid;
  }

  /**
   * Starts again every daemon that crashed, so that one crash costs one measurement rather than the rest of
   * the run; returns what each crash was, for the report.
   */
  async revive(): Promise<string[]> {
    const crashes: string[] = [];
    for (const p of this.parties)
      if (p.crashed) {
        crashes.push(`${p.name} ${p.crashed}`);
        await this.start(p.index, p.started);
      }
    if (crashes.length) await this.connected();
    return crashes;
  }

  /** Resident set size of daemon i now, in MB (10^6 bytes). */
  rssMB(i: number): number {
    return vmRssMB(this.pid(i));
  }

  /** User + system CPU time daemon i has used so far, in ms (from /proc/<pid>/stat). */
  cpuMs(i: number): number {
    const stat = readFileSync(`/proc/${this.pid(i)}/stat`, 'utf8');
    // Fields after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15 of the whole line)
    return (ticks * 1000) / CLK_TCK;
  }

  /** CPU time of the first `n` daemons (all of them by default) together, in ms. */
  totalCpuMs(n = this.parties.length): number {
    return this.parties.slice(0, n).reduce((a, p) => a + this.cpuMs(p.index), 0);
  }
}
