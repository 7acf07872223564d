/**
 * Which peers are alive and how close: libp2p's connection monitor pings every connection (host.ts) and closes
 * one whose ping fails, so a peer with an open connection answered lately. Each beat notes, for every connected
 * peer, the time and the monitor's last round trip; that ranks the parties for signing (responsive ones first)
 * and shows in `frostnet peers`. Nothing here sends anything.
 */
import { FrostnetError } from '../../protocol/errors.ts';
import type { Host } from './host.ts';

export type PeerLiveness = { id: string; connected: boolean; lastSeen?: string; rttMs?: number };

type LiveHost = Pick<Host, 'connected' | 'rtt'>;

export class Liveness {
  private readonly host: LiveHost;
  private readonly seen = new Map<string, { at: number; rtt?: number }>();
  private readonly peers: () => string[];
  private readonly clock: () => number;
  private timer?: NodeJS.Timeout;

  /** `clock`: milliseconds since the epoch (Date.now unless a test says otherwise). */
  constructor(host: LiveHost, peers: () => string[], clock: () => number = Date.now) {
    this.host = host;
    this.peers = peers;
    this.clock = clock;
  }

  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => this.observe(), intervalMs);
    this.timer.unref?.();
    this.observe();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Notes every connected configured peer as seen now, with the connection's last measured round trip. */
  observe(): void {
    const connected = new Set(this.host.connected());
    const at = this.clock();
    for (const id of this.peers()) {
      if (!connected.has(id)) continue;
      const rtt = this.host.rtt(id) ?? this.seen.get(id)?.rtt;
      this.seen.set(id, rtt === undefined ? { at } : { at, rtt });
    }
  }

  view(): PeerLiveness[] {
    const connected = new Set(this.host.connected());
    return this.peers().map((id) => {
      const s = this.seen.get(id);
      return {
        id,
        connected: connected.has(id),
        lastSeen: s && new Date(s.at).toISOString(),
        rttMs: s?.rtt === undefined ? undefined : Math.round(s.rtt * 100) / 100,
      };
    });
  }

  /** Connected peers first, then by recent round-trip time; peers never measured last. */
  rank(parties: readonly string[]): string[] {
    const connected = new Set(this.host.connected());
    const score = (p: string) => (connected.has(p) ? 0 : 1e9) + (this.seen.get(p)?.rtt ?? 1e6);
    return [...parties].sort((a, b) => score(a) - score(b));
  }
}

/** How long a ceremony waits for a party's answer to a ping before it names the party unreachable. */
export const REACH_TIMEOUT_MS = 3000;

/**
 * Pings every one of `parties` at once; throws UNREACHABLE naming (by config name, with the peer id) every one
 * that does not answer in time, so a ceremony that needs them all fails at once instead of after a round.
 */
export async function requireReachable(
  host: Pick<Host, 'ping'>,
  parties: readonly string[],
  nameOf: (id: string) => string | undefined,
  why: string,
  timeoutMs = REACH_TIMEOUT_MS,
): Promise<void> {
  const answers = await Promise.all(
    parties.map((id) =>
      host.ping(id, { timeoutMs }).then(
        () => undefined,
        () => id,
      ),
    ),
  );
  const down = answers.filter((id): id is string => id !== undefined);
  if (down.length === 0) return;
  const label = (id: string) => {
    const name = nameOf(id);
    return name ? `${name} (${id})` : id;
  };
  throw new FrostnetError(
    'UNREACHABLE',
    `${why}, and ${down.map(label).join(', ')} ${down.length === 1 ? 'does' : 'do'} not answer`,
    down,
  );
}
