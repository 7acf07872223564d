/**
 * What `init` checks before it writes anything: that this machine can listen where the config says. Each TCP
 * address is bound for a moment and released; an address of another machine or a port in use is refused,
 * naming the address, instead of failing at the daemon's first start.
 */
import { createServer } from 'node:net';
import { FrostnetError } from '../../protocol/errors.ts';

/** Host and port of a /ip4/H/tcp/P or /ip6/H/tcp/P address; undefined for others (dns names, say). */
function hostPort(ma: string): { host: string; port: number } | undefined {
  const m = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)(?:\/|$)/.exec(ma);
  return m ? { host: m[2], port: Number(m[3]) } : undefined;
}

function tryBind(host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (e) => resolve(e as NodeJS.ErrnoException));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

type BindTarget = { ma: string; host: string; port: number };

/** Why this machine cannot listen on `a` (undefined: it can, now): the socket error in words. */
async function bindProblem(a: BindTarget): Promise<{ inUse: boolean; why: string } | undefined> {
  const e = await tryBind(a.host, a.port);
  if (!e) return undefined;
  const why =
    e.code === 'EADDRINUSE'
      ? `port ${a.port} is in use on this machine`
      : e.code === 'EADDRNOTAVAIL'
        ? `${a.host} is not an address of this machine`
        : e.code === 'EACCES'
          ? `port ${a.port} needs privileges this user lacks`
          : e.message;
  return { inUse: e.code === 'EADDRINUSE', why };
}

/** Throws INVALID_INPUT naming the first `what` address this machine cannot listen on, and why. */
export async function checkBindable(what: string, addrs: readonly BindTarget[]) {
  for (const a of addrs) {
    const p = await bindProblem(a);
    if (p) throw new FrostnetError('INVALID_INPUT', `${what} ${a.ma}: ${p.why}`);
  }
}

/**
 * The error of a daemon that could not listen on `listen`, as one line: libp2p's error wraps Node's, stack
 * frames included, so each address is probed again as `init` checks it, and the first it cannot bind is named
 * with the reason (a port in use is CONFLICT). Only when every address binds now (the cause went away, or was
 * another) is libp2p's message given, its first line.
 */
export function listenFailure(e: unknown, listen: readonly string[]): Promise<FrostnetError> {
  return bindFailure(e, 'cannot listen on', bindTargets(listen));
}

/** listenFailure for any addresses: `what` starts the message ("the control API cannot listen on"). */
export async function bindFailure(
  e: unknown,
  what: string,
  targets: readonly BindTarget[],
): Promise<FrostnetError> {
  for (const a of targets) {
    const p = await bindProblem(a);
    if (p) return new FrostnetError(p.inUse ? 'CONFLICT' : 'INVALID_INPUT', `${what} ${a.ma}: ${p.why}`);
  }
  const first = (e instanceof Error ? e.message : String(e)).split('\n')[0]!.replace(/:\s*$/, '');
  return new FrostnetError('INVALID_INPUT', `${what} ${targets.map((a) => a.ma).join(', ')}: ${first}`);
}

/** The listen addresses and the API port of a config to be, as checkBindable takes them. */
export function bindTargets(listen: readonly string[]) {
  return listen.flatMap((ma) => {
    const hp = hostPort(ma);
    return hp ? [{ ma, ...hp }] : [];
  });
}
