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

/** Throws INVALID_INPUT naming the first `what` address this machine cannot listen on, and why. */
export async function checkBindable(
  what: string,
  addrs: readonly { ma: string; host: string; port: number }[],
) {
  for (const a of addrs) {
    const e = await tryBind(a.host, a.port);
    if (!e) continue;
    const why =
      e.code === 'EADDRINUSE'
        ? `port ${a.port} is in use on this machine`
        : e.code === 'EADDRNOTAVAIL'
          ? `${a.host} is not an address of this machine`
          : e.code === 'EACCES'
            ? `port ${a.port} needs privileges this user lacks`
            : e.message;
    throw new FrostnetError('INVALID_INPUT', `${what} ${a.ma}: ${why}`);
  }
}

/** The listen addresses and the API port of a config to be, as checkBindable takes them. */
export function bindTargets(listen: readonly string[]) {
  return listen.flatMap((ma) => {
    const hp = hostPort(ma);
    return hp ? [{ ma, ...hp }] : [];
  });
}
