/**
 * Heartbeats: every configured peer is pinged periodically; the last time it answered and its round-trip
 * time rank it for signing (responsive parties first) and show in `frostnet peers`.
 */
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
