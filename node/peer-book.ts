/**
 * The daemon's peer book (node/api/control-backend.ts PeerBook): the operator's edits of the peer list, each
 * made by the pure changes of peer-changes.ts, saved to the config file (one write at a time, ConfigFile), and
 * then handed to the host's connection gate as saved. A rename changes no peer's id or address, so the gate is
 * left as it is.
 */
import type { PeerBook } from './api/control-backend.ts';
import type { ConfigFile, PeerConfig } from './config.ts';
import { renamedPeer, withoutPeer, withPeer } from './peer-changes.ts';
import type { Host } from './transport/host.ts';

export function configPeerBook(config: ConfigFile, host: Pick<Host, 'setPeers'>): PeerBook {
  // The latest list, not the one this edit made: an edit saved after this one may already have replaced it.
  const gateTakesSaved = () => host.setPeers(config.current.peers);
  return {
    current: () => config.current.peers,
    add: async (p) => {
      await config.update((current) => withPeer(current, p));
      gateTakesSaved();
      return config.current.peers;
    },
    remove: async (ref) => {
      let removed: PeerConfig | undefined;
      await config.update((current) => {
        const out = withoutPeer(current, ref);
        removed = out.removed;
        return out.config;
      });
      gateTakesSaved();
      return { removed: removed!, peers: config.current.peers };
    },
    rename: async (ref, name) => {
      await config.update((current) => renamedPeer(current, ref, name));
      return config.current.peers;
    },
  };
}
