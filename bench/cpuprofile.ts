/**
 * Reads V8 .cpuprofile files (node --cpu-prof) and says where the time went: self time by area (a package,
 * a project folder, Node internals, GC, idle) and the functions with the most self and inclusive time.
 */
import { readFileSync } from 'node:fs';

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type Profile = {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
};

export type Share = { name: string; ms: number; pct: number };
export type ProfileSummary = {
  wallMs: number;
  /** Sampled time that was not idle. */
  busyMs: number;
  byArea: Share[];
  topSelf: Share[];
  topInclusive: Share[];
};

/** Which part of the program a frame belongs to: a package, a project folder, Node itself, or a V8 pseudo-frame. */
export function areaOf(f: CallFrame): string {
  if (f.url === '') return f.functionName; // (idle), (garbage collector), (program), (root)
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f.url);
  if (pkg) return pkg[1];
  if (f.url.startsWith('node:')) return 'node internals';
  const own =
    /\/work\/[^/]+\/([^/]+)\//.exec(f.url) ?? /\/(protocol|node|chains|cli|bench|test)\//.exec(f.url);
  return own ? `${own[1]}/` : f.url;
}

const frameName = (f: CallFrame) => {
  const file = f.url.replace(/^.*\/(node_modules\/)?/, '');
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
};

function top(map: Map<string, number>, total: number, n: number): Share[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: us / 1000, pct: (100 * us) / total }));
}

/**
 * Microseconds on the monotonic clock V8 stamps its samples with, the same one as process.hrtime (checked on
 * Linux): a window taken in the benchmark process selects the same moments in every daemon's profile.
 */
export const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * Summarises one or more profiles (say, every daemon of a run) as one, counting only samples inside
 * `window` when one is given (so start-up and shut-down stay out of a workload's figures).
 */
export function summarize(
  files: readonly string[],
  n = 15,
  window?: { fromUs: number; toUs: number },
): ProfileSummary {
  const area = new Map<string, number>();
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let wall = 0;
  let idle = 0;
  let total = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  for (const file of files) {
    const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const from = window?.fromUs ?? p.startTime;
    const to = window?.toUs ?? p.endTime;
    wall = Math.max(wall, (Math.min(to, p.endTime) - Math.max(from, p.startTime)) / 1000);
    const byId = new Map(p.nodes.map((x) => [x.id, x]));
    const parent = new Map<number, number>();
    for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
    let at = p.startTime;
    p.samples.forEach((id, i) => {
      const dt = p.timeDeltas[i] ?? 0;
      at += dt;
      const node = byId.get(id);
      if (!node || at < from || at > to) return;
      total += dt;
      const f = node.callFrame;
      if (f.functionName === '(idle)') {
        idle += dt;
        return;
      }
      add(area, areaOf(f), dt);
      add(self, frameName(f), dt);
      const seen = new Set<string>();
      for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
        const cf = byId.get(up)!.callFrame;
        if (cf.url === '') continue;
        const name = frameName(cf);
        if (!seen.has(name)) {
          seen.add(name);
          add(inclusive, name, dt);
        }
      }
    });
  }
  const busy = total - idle;
  return {
    wallMs: wall,
    busyMs: busy / 1000,
    byArea: top(area, busy, n),
    topSelf: top(self, busy, n),
    topInclusive: top(inclusive, busy, n),
  };
}

export function formatSummary(s: ProfileSummary): string {
  const list = (title: string, xs: Share[]) =>
    [
      title,
      ...xs.map((x) => `  ${x.pct.toFixed(1).padStart(5)}%  ${x.ms.toFixed(0).padStart(7)} ms  ${x.name}`),
    ].join('\n');
  return [
    `busy ${s.busyMs.toFixed(0)} ms of CPU (percentages are of busy time)`,
    list('self time by area:', s.byArea),
    list('self time by function:', s.topSelf),
    list('inclusive time by function:', s.topInclusive),
  ].join('\n');
}
