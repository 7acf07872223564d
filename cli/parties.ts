/**
 * Parties by name: the daemon's peer list gives each configured party a name, so commands accept names where
 * they take peer ids (and "self" for the party whose daemon they talk to), and print names next to ids.
 */
import type { Client } from './client.ts';
import { UsageError } from './output.ts';

export type PeerView = {
  id: string;
  addrs: string[];
  name?: string;
  connected?: boolean;
  lastSeen?: string;
  rttMs?: number;
};

export type StatusView = {
  peerId: string;
  startedAt?: string;
  addrs: string[];
  keys: number;
  peers: { id: string; connected: boolean; lastSeen?: string; rttMs?: number }[];
  sessions: number;
  requestsRunning: number;
};

// base58btc, as libp2p prints peer ids ("12D3KooW...", "Qm..."); the daemon checks them properly.
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{40,128}$/;

export class PartyBook {
  readonly self: string;
  private readonly byName: Map<string, string>;
  private readonly names: Map<string, string>;
  private readonly peers: string[];

  constructor(self: string, peers: readonly PeerView[]) {
    this.self = self;
    this.peers = peers.map((p) => p.id).filter((id) => id !== self);
    const named = peers.filter((p): p is PeerView & { name: string } => typeof p.name === 'string');
    this.byName = new Map(named.map((p) => [p.name, p.id]));
    this.names = new Map(named.map((p) => [p.id, p.name]));
  }

  static async load(client: Client): Promise<PartyBook> {
    const [status, peers] = await Promise.all([
      client.get<StatusView>('/v1/status'),
      client.get<PeerView[]>('/v1/peers'),
    ]);
    return new PartyBook(status.peerId, peers);
  }

  /** Every configured party: this one first, then its peers. */
  get all(): string[] {
    return [this.self, ...this.peers];
  }

  /** Peer ids for the names, ids and "self" in `refs` (from option --`option` of `command`). */
  resolve(refs: readonly string[], command: string, option: string): string[] {
    const ids = refs.map((ref) => {
      if (ref === 'self') return this.self;
      const byName = this.byName.get(ref);
      if (byName !== undefined) return byName;
      if (PEER_ID.test(ref)) return ref;
      throw new UsageError(
        command,
        `--${option}: ${JSON.stringify(ref)} is neither a peer id nor a party name of this party's config ("frostnet peers list")`,
      );
    });
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup !== undefined) throw new UsageError(command, `--${option} names party ${this.label(dup)} twice`);
    return ids;
  }

  /** "alice (12D3KooW...)", "self (12D3KooW...)" or the bare id. */
  label(id: string): string {
    const name = id === this.self ? 'self' : this.names.get(id);
    return name === undefined ? id : `${name} (${id})`;
  }

  /** `text` with every configured party's peer id replaced by its name ("self" for this party), for people. */
  named(text: string): string {
    let out = text;
    for (const id of this.all) {
      const name = this.short(id);
      if (name !== id) out = out.split(id).join(name);
    }
    return out;
  }

  /** The name alone, or the id when the party has none. */
  short(id: string): string {
    return id === this.self ? 'self' : (this.names.get(id) ?? id);
  }
}
