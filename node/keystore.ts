/**
 * Key shares on disk. Each key has a public record (name, active group, pending group) and secret records for
 * the active and pending shares, encrypted by the store. A ceremony's outcome is first written as pending and
 * becomes active only in one atomic batch, so a crash at any point leaves the previous epoch usable.
 * Decrypted shares stay in memory: signing must not decrypt on every request.
 */
import { bytesToHex, hexToBytes } from '../protocol/curve.ts';
import { FrostnetError } from '../protocol/errors.ts';
import {
  groupKey,
  type KeyGroup,
  type KeyShare,
  type KeyShareJSON,
  keyGroupFromJSON,
  keyGroupToJSON,
} from '../protocol/keys.ts';
import type { Store, StoreOp } from './store.ts';

type KeyRecord = {
  name: string;
  createdAt: string;
  active?: KeyShareJSON['group'];
  pending?: KeyShareJSON['group'];
};

export type KeyEntry = {
  readonly name: string;
  readonly createdAt: string;
  readonly active?: KeyShare;
  readonly pending?: KeyShare;
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateKeyName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name))
    throw new FrostnetError(
      'INVALID_INPUT',
      `key name ${JSON.stringify(name)}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  return name;
}

const recordName = (name: string) => `key/${name}`;
const shareName = (name: string, slot: 'active' | 'pending') => `share/${slot}/${name}`;

const encodeSecret = (s: KeyShare['secret']) =>
  new TextEncoder().encode(
    JSON.stringify({ identifier: s.identifier, signingShare: bytesToHex(s.signingShare) }),
  );

function decodeSecret(bytes: Uint8Array): KeyShare['secret'] {
  const j = JSON.parse(new TextDecoder().decode(bytes));
  return { identifier: j.identifier, signingShare: hexToBytes(j.signingShare) as Uint8Array<ArrayBuffer> };
}

export const groupKeyHex = (g: KeyGroup): string => bytesToHex(groupKey(g).toBytes(true));

export class KeyStore {
  private readonly store: Store;
  private readonly entries = new Map<string, KeyEntry>();

  private constructor(store: Store) {
    this.store = store;
  }

  static async open(store: Store): Promise<KeyStore> {
    const ks = new KeyStore(store);
    for (const { name, kind } of await store.list('key/')) {
      if (kind !== 'public') continue;
      const rec = await store.getPublic<KeyRecord>(name);
      if (rec) ks.entries.set(rec.name, await ks.load(rec));
    }
    return ks;
  }

  private async load(rec: KeyRecord): Promise<KeyEntry> {
    const slot = async (which: 'active' | 'pending', g?: KeyShareJSON['group']) => {
      if (!g) return undefined;
      const secret = await this.store.getSecret(shareName(rec.name, which));
      if (!secret) throw new FrostnetError('STORE_CORRUPT', `key ${rec.name}: the ${which} share is missing`);
      return { group: keyGroupFromJSON(g), secret: decodeSecret(secret) };
    };
    return {
      name: rec.name,
      createdAt: rec.createdAt,
      active: await slot('active', rec.active),
      pending: await slot('pending', rec.pending),
    };
  }

  list(): KeyEntry[] {
    return [...this.entries.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): KeyEntry | undefined {
    return this.entries.get(name);
  }

  /** The active key named `name`, or UNKNOWN_KEY. */
  active(name: string): KeyShare {
    const share = this.entries.get(name)?.active;
    if (!share)
      throw new FrostnetError('UNKNOWN_KEY', `no key named ${name} on this party (see "frostnet keys")`);
    return share;
  }

  /** The entry whose active or pending group has this group key. */
  byGroupKey(hex: string): KeyEntry | undefined {
    for (const e of this.entries.values()) {
      const g = e.active?.group ?? e.pending?.group;
      if (g && groupKeyHex(g) === hex) return e;
    }
    return undefined;
  }

  /** Records a ceremony outcome as pending (a DKG creates the entry). Written before confirming it to peers. */
  async setPending(name: string, share: KeyShare, opts: { create: boolean }): Promise<void> {
    validateKeyName(name);
    const e = this.entries.get(name);
    if (opts.create && e?.active) throw new FrostnetError('CONFLICT', `a key named ${name} already exists`);
    if (!opts.create && !e?.active) throw new FrostnetError('UNKNOWN_KEY', `no key named ${name}`);
    const next: KeyEntry = {
      name,
      createdAt: e?.createdAt ?? new Date().toISOString(),
      active: e?.active,
      pending: share,
    };
    await this.write(next, [
      { type: 'putSecret', name: shareName(name, 'pending'), value: encodeSecret(share.secret) },
    ]);
  }

  /** Makes the pending share active and forgets the old one, in one batch. */
  async activatePending(name: string): Promise<KeyShare> {
    const e = this.entries.get(name);
    if (!e?.pending) throw new FrostnetError('CONFLICT', `key ${name} has no pending epoch`);
    const next: KeyEntry = { ...e, active: e.pending, pending: undefined };
    await this.write(next, [
      { type: 'putSecret', name: shareName(name, 'active'), value: encodeSecret(e.pending.secret) },
      { type: 'del', kind: 'secret', name: shareName(name, 'pending') },
    ]);
    return e.pending;
  }

  /** Drops a pending epoch that can never become active; a DKG's entry goes with it. */
  async discardPending(name: string): Promise<void> {
    const e = this.entries.get(name);
    if (!e?.pending) return;
    const del: StoreOp = { type: 'del', kind: 'secret', name: shareName(name, 'pending') };
    if (!e.active) {
      await this.store.batch([del, { type: 'del', kind: 'public', name: recordName(name) }]);
      this.entries.delete(name);
      return;
    }
    await this.write({ ...e, pending: undefined }, [del]);
  }

  private async write(e: KeyEntry, ops: StoreOp[]): Promise<void> {
    const rec: KeyRecord = { name: e.name, createdAt: e.createdAt };
    if (e.active) rec.active = keyGroupToJSON(e.active.group);
    if (e.pending) rec.pending = keyGroupToJSON(e.pending.group);
    await this.store.batch([...ops, { type: 'putPublic', name: recordName(e.name), value: rec }]);
    this.entries.set(e.name, e);
  }
}
