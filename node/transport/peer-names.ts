/**
 * How this party calls the others in lines meant for people (error messages, held reasons, progress lines):
 * by the names its config gives them, "self" for this party, and a short id for a peer without a name. The
 * machine-readable fields (culprits, holders, signers) keep full peer ids; `labels` gives the names beside them.
 */

/** A configured peer: its id and, when the operator gave one, its name. */
export type NamedPeer = { readonly id: string; readonly name?: string };

/** The end of a peer id, as the daemon's log lines show a party ("…" and its last 8 characters). */
export const shortPeerId = (id: string): string => (id.length > 12 ? `…${id.slice(-8)}` : id);

export class PeerNames {
  private readonly self: string;
  private readonly peers: () => readonly NamedPeer[];

  /** `peers` is read at each use: the config's peers change while the daemon runs (peers add/rename/remove). */
  constructor(self: string, peers: () => readonly NamedPeer[]) {
    this.self = self;
    this.peers = peers;
  }

  /** "self", the config's name, or the short id. */
  label(id: string): string {
    if (id === this.self) return 'self';
    return this.peers().find((p) => p.id === id)?.name ?? shortPeerId(id);
  }

  /** The label of each of `ids`, by peer id. */
  labels(ids: Iterable<string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const id of ids) out[id] = this.label(id);
    return out;
  }

  /**
   * `text` with the peer id of this party and of every configured peer replaced by its label; "bob (<id>)",
   * as some messages already write it, becomes "bob".
   */
  named(text: string): string {
    let out = text;
    for (const id of [this.self, ...this.peers().map((p) => p.id)]) {
      if (!out.includes(id)) continue;
      const label = this.label(id);
      out = out.split(`${label} (${id})`).join(label).split(id).join(label);
    }
    return out;
  }
}
