/**
 * Heartbeats: every configured peer is pinged periodically; the last time it answered and its round-trip
 * time rank it for signing (responsive parties first) and show in `frostnet peers`.
 */
import { FrostnetError } from '../../protocol/errors.ts';
import type { Host } from './host.ts';

export type PeerLiveness = { id: string; connected: boolean; lastSeen?: string; rttMs?: number };

export class Liveness {
  private readonly host: Pick<Host, 'ping' | 'connected'>;
  private readonly seen = new Map<string, { at: number; rtt: number }>();
  private timer?: NodeJS.Timeout;
  private peers: () => string[];

  constructor(host: Pick<Host, 'ping' | 'connected'>, peers: () => string[]) {
    this.host = host;
    this.peers = peers;
  }

  start(intervalMs: number): void {
    this.stop();
    const beat = () => void this.pingAll();
    this.timer = setInterval(beat, intervalMs);
    this.timer.unref?.();
    beat();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async pingAll(): Promise<void> {
    await Promise.all(
      this.peers().map(async (id) => {
        try {
          const rtt = await this.host.ping(id, { timeoutMs: 2000 });
          this.seen.set(id, { at: Date.now(), rtt });
        } catch {
          // Unreachable now: lastSeen stays where it was.
        }
      }),
    );
  }

  view(): PeerLiveness[] {
    const connected = new Set(this.host.connected());
    return this.peers().map((id) => {
      const s = this.seen.get(id);
      return {
        id,
        connected: connected.has(id),
        lastSeen: s && new Date(s.at).toISOString(),
        rttMs: s && Math.round(s.rtt * 100) / 100,
      };
    });
  }

  /** Connected peers first, then by recent round-trip time; peers never seen last. */
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
