/**
 * Changes to a party's peer list, as pure functions of the config: add (or replace, by peer id), remove,
 * rename. Names are unique: a name another peer has is refused, naming that peer, so that `--signers bob`
 * can never pick the wrong party.
 */
import { FrostnetError } from '../protocol/errors.ts';
import type { Config, PeerConfig } from './config.ts';

function refuseTakenName(cfg: Config, name: string | undefined, id: string): void {
  if (name === undefined) return;
  const other = cfg.peers.find((p) => p.name === name && p.id !== id);
  if (other)
    throw new FrostnetError(
      'CONFLICT',
      `the name ${name} already names peer ${other.id}; rename or remove that one first, or pick another name`,
    );
}

/** The peer whose id or name is `ref`; NOT_FOUND-like BAD_REQUEST otherwise. */
export function findPeer(cfg: Config, ref: string): PeerConfig {
  const p = cfg.peers.find((x) => x.id === ref) ?? cfg.peers.find((x) => x.name === ref);
  if (!p)
    throw new FrostnetError(
      'BAD_REQUEST',
      `no peer ${ref} in this party's config (see "frostnet peers list")`,
    );
  return p;
}

/** Adds `p`, or replaces the peer with its id (keeping its name unless `p` gives one). */
export function withPeer(cfg: Config, p: { id: string; addrs: string[]; name?: string }): Config {
  const old = cfg.peers.find((x) => x.id === p.id);
  const name = p.name ?? old?.name;
  refuseTakenName(cfg, name, p.id);
  const next: PeerConfig = { id: p.id, addrs: p.addrs, ...(name !== undefined && { name }) };
  return { ...cfg, peers: [...cfg.peers.filter((x) => x.id !== p.id), next] };
}

export function withoutPeer(cfg: Config, ref: string): { config: Config; removed: PeerConfig } {
  const removed = findPeer(cfg, ref);
  return { config: { ...cfg, peers: cfg.peers.filter((x) => x.id !== removed.id) }, removed };
}

export function renamedPeer(cfg: Config, ref: string, name: string): Config {
  const p = findPeer(cfg, ref);
  refuseTakenName(cfg, name, p.id);
  return { ...cfg, peers: cfg.peers.map((x) => (x.id === p.id ? { ...x, name } : x)) };
}
