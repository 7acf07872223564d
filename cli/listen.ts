/**
 * Listen addresses at init: a port 0 ("any") is replaced by a port that is free now, so that the party's
 * address can be handed to the other parties before its daemon ever runs (leased, so that parties set up on
 * one machine at the same time never get the same port); and the addresses to share, with
 * wildcard hosts (0.0.0.0, ::) replaced by this machine's interface addresses.
 */
import { randomInt } from 'node:crypto';
import { lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';

const TCP_ADDR = /^\/(ip4|ip6|dns4|dns6|dns)\/([^/]+)\/tcp\/(\d+)$/;

type TcpAddr = { proto: string; host: string; port: number };

function parse(ma: string): TcpAddr | undefined {
  const m = TCP_ADDR.exec(ma);
  return m ? { proto: m[1], host: m[2], port: Number(m[3]) } : undefined;
}

const format = (a: TcpAddr) => `/${a.proto}/${a.host}/tcp/${a.port}`;

/** Binds `port` (0: any) on `host` and lets it go again; the port bound, or undefined when it was taken. */
async function tryBind(host: string, port: number): Promise<number | undefined> {
  const srv = createServer();
  const bound = await new Promise<boolean>((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => resolve(true));
  });
  if (!bound) return undefined;
  const actual = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return actual;
}

/** The first port the system hands out to outgoing connections (Linux; the IANA dynamic range elsewhere). */
async function ephemeralStart(): Promise<number> {
  const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '');
  const low = Number(text.trim().split(/\s+/)[0]);
  return Number.isInteger(low) && low > 1024 && low <= 65535 ? low : 49152;
}

const LOWEST_PORT = 10_000;

/** How long a port handed out stays leased: long enough for `init` now and `start` soon after. */
export const PORT_LEASE_MS = 60 * 60_000;

/** Where the leases live: one empty file per port handed out, named by the port, its mtime the lease time. */
const LEASE_DIR = join(tmpdir(), `frostnet-port-leases-${process.getuid?.() ?? 'user'}`);

export type PortChoice = {
  /** A random integer in [0, max): injected by tests. */
  pick?: (max: number) => number;
  leaseDir?: string;
  now?: () => number;
};

/**
 * Whether `dir` may hold this user's leases: a real directory (not a symlink), this user's, writable by no one
 * else. Another user could otherwise pre-create it to steer which ports are handed out or which files go.
 */
async function usableLeaseDir(dir: string): Promise<boolean> {
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch(() => {});
  const s = await lstat(dir).catch(() => undefined);
  const uid = process.getuid?.();
  if (!s?.isDirectory()) return false;
  return (uid === undefined || s.uid === uid) && (s.mode & 0o022) === 0;
}

/**
 * Takes the lease on `port` unless another process on this machine holds a live one. A lease is taken before
 * the port is tried, so that two processes never probe (and so briefly bind) a port a third has handed out.
 * A lease older than PORT_LEASE_MS, or dated in the future, has run out. Anything unexpected (a full disk, an
 * entry that is not a plain file) never fails the caller: the port then counts as unleased, or as taken.
 */
async function lease(dir: string, port: number, now: number): Promise<boolean> {
  const file = join(dir, String(port));
  const take = () =>
    writeFile(file, '', { flag: 'wx' }).then(
      () => 'taken' as const,
      (e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? ('held' as const) : ('unusable' as const)),
    );
  const first = await take();
  if (first !== 'held') return true;
  const held = await lstat(file).catch(() => undefined);
  if (held === undefined || !held.isFile()) return false;
  // Dated more than a minute ahead (more than clocks drift): planted, not a lease of ours.
  const age = now - held.mtimeMs;
  if (age > -60_000 && age < PORT_LEASE_MS) return false;
  await rm(file, { force: true }).catch(() => {});
  return (await take()) === 'taken';
}

/**
 * A TCP port that is free on `host` now, chosen below the range of ports the system gives outgoing
 * connections, so that no connection takes it before the daemon listens on it (a port from bind(0) is in
 * that range and can be taken any moment). The port is leased for an hour: no other call on this machine,
 * in this process or another, hands it out again before its daemon has had time to start.
 */
export async function freePort(host = '127.0.0.1', choice: PortChoice = {}): Promise<number> {
  const { pick = randomInt, leaseDir = LEASE_DIR, now = Date.now } = choice;
  const leasing = await usableLeaseDir(leaseDir);
  const top = (await ephemeralStart()) - 1;
  for (let tries = 0; top - LOWEST_PORT >= 1000 && tries < 100; tries++) {
    const candidate = LOWEST_PORT + pick(top - LOWEST_PORT + 1);
    if (leasing && !(await lease(leaseDir, candidate, now()))) continue;
    const port = await tryBind(host, candidate);
    if (port !== undefined) return port;
  }
  const any = await tryBind(host, 0);
  if (any === undefined) throw new Error(`cannot bind a TCP port on ${host}`);
  return any;
}

/** `addrs` with every /tcp/0 given a concrete free port; other addresses are left to the config's checks. */
export async function concreteListen(addrs: readonly string[]): Promise<string[]> {
  return Promise.all(
    addrs.map(async (ma) => {
      const a = parse(ma);
      if (a === undefined || a.port !== 0) return ma;
      const bindHost = a.proto === 'ip4' || a.proto === 'ip6' ? a.host : '0.0.0.0';
      return format({ ...a, port: await freePort(bindHost) });
    }),
  );
}

/** What another party dials: each listen address with /p2p/<peer id>, wildcards expanded. */
export function shareableAddrs(listen: readonly string[], peerId: string): string[] {
  const out = listen.flatMap((ma) => {
    const a = parse(ma);
    if (a === undefined) return [ma];
    if (a.proto === 'ip4' && a.host === '0.0.0.0')
      return interfaceHosts('IPv4').map((h) => format({ ...a, host: h }));
    if (a.proto === 'ip6' && a.host === '::')
      return interfaceHosts('IPv6').map((h) => format({ ...a, host: h }));
    return [ma];
  });
  return [...new Set(out)].map((ma) => `${ma}/p2p/${peerId}`);
}

/** This machine's addresses of one family: the external ones, or loopback when there is none. */
function interfaceHosts(family: 'IPv4' | 'IPv6'): string[] {
  const all = Object.values(networkInterfaces())
    .flat()
    .filter(
      (i) => i !== undefined && i.family === family && !(family === 'IPv6' && i.address.startsWith('fe80')),
    );
  const external = all.filter((i) => !i!.internal).map((i) => i!.address);
  return external.length > 0 ? external : family === 'IPv4' ? ['127.0.0.1'] : ['::1'];
}
