/**
 * Key shares on disk. Each key has a public record (node/storage/key-records.ts: held, creating or removed,
 * versioned, records of before versions still read) and secret records for the active and pending shares,
 * encrypted by the store. A ceremony's outcome is first written as pending and
 * becomes active only in one atomic batch, so a crash at any point leaves the previous epoch usable.
 * Decrypted shares stay in memory: signing must not decrypt on every request.
 *
 * A reshare can remove this party: its pending outcome is then the new group without a share, and activating
 * it erases the share and leaves only a public marker of the epoch that removed it (no secret remains), so that
 * the party can still tell the others, when they settle that epoch, that it confirmed it.
 */
import type { NetworkName } from '../../chains/bitcoin/network-names.ts';
import { bytesToHex, hexToBytes } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import {
  groupKey,
  type KeyGroup,
  type KeyShare,
  keyGroupFromJSON,
  keyGroupToJSON,
  replaceMember,
} from '../../protocol/keys.ts';
import { isRemoved, type RemovedFromGroup, type ReshareResult } from '../../protocol/reshare.ts';
import {
  type EpochRecord,
  KEY_RECORD_VERSION,
  type KeyRecord,
  readKeyRecord,
  type StoredConfirmations,
  type StoredRecoveryPolicy,
} from './key-records.ts';
import type { Store, StoreOp } from './store.ts';

export type { StoredConfirmations, StoredRecoveryPolicy } from './key-records.ts';

export type KeyEntry = {
  readonly name: string;
  readonly createdAt: string;
  /**
   * The Bitcoin network of the key, a property its members agreed on at keygen; undefined for a key made before
   * it was stored (its PSBT requests are then read on the network they name, as they always were).
   */
  readonly network?: NetworkName;
  /**
   * The recovery policy of the key, in its canonical JSON form, agreed by every member at keygen: the script
   * tree each address commits to. Undefined for a key without one (its addresses commit to no tree).
   */
  readonly recovery?: StoredRecoveryPolicy;
  readonly active?: KeyShare;
  /** A ceremony outcome awaiting every participant's confirmation: a new share, or this party's removal. */
  readonly pending?: ReshareResult;
  /** Everyone who took part in the ceremony of each epoch (defaults to the group's members). */
  readonly activeParticipants?: readonly string[];
  readonly pendingParticipants?: readonly string[];
  readonly pendingConfirmations?: StoredConfirmations;
  readonly activeCertificate?: StoredConfirmations;
};

/**
 * A key this party holds no share of any more, removed by a reshare or erased by its operator: the group at
 * that epoch, public data only, so that it can still tell the others which epoch it had settled.
 */
export type RemovedKey = {
  readonly name: string;
  readonly createdAt: string;
  readonly group: KeyGroup;
  readonly participants: readonly string[];
  readonly erased?: boolean;
  readonly certificate?: StoredConfirmations;
};

/** One epoch of a key as this party knows it, for settling it with the others; `share`: it holds one. */
export type EpochView = {
  readonly group: KeyGroup;
  readonly participants: readonly string[];
  readonly share: boolean;
  /** Settled epoch: its certificate; pending epoch: the confirmations gathered. */
  readonly confirmations?: StoredConfirmations;
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
  /** Milliseconds since the epoch: when a key record is created. */
  private readonly clock: () => number;
  private readonly entries = new Map<string, KeyEntry>();
  private readonly removedKeys = new Map<string, RemovedKey>();

  private constructor(store: Store, clock: () => number) {
    this.store = store;
    this.clock = clock;
  }

  /** The keys of `store`; `clock` (default Date.now) dates the records created from now on. */
  static async open(store: Store, clock: () => number = Date.now): Promise<KeyStore> {
    const ks = new KeyStore(store, clock);
    for (const { name, kind } of await store.list('key/')) {
      if (kind !== 'public') continue;
      const raw = await store.getPublic(name);
      if (raw === undefined) continue;
      const rec = readKeyRecord(raw, name);
      if (rec.state === 'removed')
        ks.removedKeys.set(rec.name, {
          name: rec.name,
          createdAt: rec.createdAt,
          group: keyGroupFromJSON(rec.removed.group),
          participants: rec.removed.participants ?? rec.removed.group.members,
          erased: rec.erased,
          certificate: rec.removed.confirmations,
        });
      else ks.entries.set(rec.name, await ks.load(rec));
    }
    return ks;
  }

  private async load(rec: KeyRecord & { state: 'held' | 'creating' }): Promise<KeyEntry> {
    const share = async (which: 'active' | 'pending', g: EpochRecord['group']): Promise<KeyShare> => {
      const secret = await this.store.getSecret(shareName(rec.name, which));
      if (!secret) throw new FrostnetError('STORE_CORRUPT', `key ${rec.name}: the ${which} share is missing`);
      return { group: keyGroupFromJSON(g), secret: decodeSecret(secret) };
    };
    const pending = rec.pending && {
      outcome:
        rec.state === 'held' && rec.pending.removal
          ? { removed: true as const, group: keyGroupFromJSON(rec.pending.group) }
          : await share('pending', rec.pending.group),
      participants: rec.pending.participants,
      confirmations: rec.pending.confirmations,
    };
    const active = rec.state === 'held' ? rec.active : undefined;
    return {
      name: rec.name,
      createdAt: rec.createdAt,
      network: rec.network,
      ...(rec.recovery !== undefined && { recovery: rec.recovery }),
      active: active && (await share('active', active.group)),
      pending: pending?.outcome,
      activeParticipants: active?.participants,
      pendingParticipants: pending?.participants,
      pendingConfirmations: pending?.confirmations,
      activeCertificate: active?.confirmations,
    };
  }

  list(): KeyEntry[] {
    return [...this.entries.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): KeyEntry | undefined {
    return this.entries.get(name);
  }

  /** The active key named `name`, or UNKNOWN_KEY (saying so when a reshare removed this party). */
  active(name: string): KeyShare {
    const share = this.entries.get(name)?.active;
    if (share) return share;
    throw this.noShare(name);
  }

  /**
   * UNKNOWN_KEY for a key this party holds no share of, saying why when it knows; CONFLICT for a key whose
   * first share here is pending (a DKG, or a reshare that makes this party a member): this party confirmed it,
   * and it settles once the others' confirmations reach it.
   */
  private noShare(name: string): FrostnetError {
    if (this.entries.get(name)?.pending)
      return new FrostnetError(
        'CONFLICT',
        `key ${name} is not settled on this party yet (its new share waits for the others' confirmations): try again once it settles; "frostnet keys abandon" drops one that never will`,
      );
    const gone = this.removedKeys.get(name);
    if (gone)
      return new FrostnetError(
        'UNKNOWN_KEY',
        `this party ${gone.erased ? 'erased its share of' : 'was removed from'} key ${name} at epoch ${gone.group.epoch} and holds no share of it`,
      );
    return new FrostnetError('UNKNOWN_KEY', `no key named ${name} on this party (see "frostnet keys")`);
  }

  /** The active share of `name` when no epoch of it is pending (CONFLICT otherwise): what a ceremony starts from. */
  settled(name: string): KeyShare {
    const share = this.active(name);
    if (this.entries.get(name)?.pending)
      throw new FrostnetError('CONFLICT', `key ${name} has an unsettled epoch; try again once it settles`);
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

  /** The key this party was removed from, by name. */
  removed(name: string): RemovedKey | undefined {
    return this.removedKeys.get(name);
  }

  /**
   * What this party knows of the key with this group key: its settled epoch (the active one, or the one that
   * removed it) and its pending one, each with the parties of the ceremony that made it.
   */
  epochs(hex: string): { settled?: EpochView; pending?: EpochView } {
    const e = this.byGroupKey(hex);
    const participants = (g: KeyGroup, p?: readonly string[]) => p ?? g.members;
    if (e)
      return {
        settled: e.active && {
          group: e.active.group,
          participants: participants(e.active.group, e.activeParticipants),
          share: true,
          confirmations: e.activeCertificate,
        },
        pending: e.pending && {
          group: e.pending.group,
          participants: participants(e.pending.group, e.pendingParticipants),
          share: !isRemoved(e.pending),
          confirmations: e.pendingConfirmations,
        },
      };
    for (const r of this.removedKeys.values())
      if (groupKeyHex(r.group) === hex)
        return {
          settled: {
            group: r.group,
            participants: r.participants,
            share: false,
            confirmations: r.certificate,
          },
        };
    return {};
  }

  /**
   * Records a ceremony outcome as pending (a DKG, or a reshare to a newcomer, creates the entry), with this
   * party's signed confirmation of it. Written before the confirmation is sent: from then on this party may
   * have confirmed, so it never drops the pending epoch on its own (see node/ceremonies/certificates.ts).
   * `participants` names the ceremony's parties when they are not just the new members.
   */
  async setPending(
    name: string,
    outcome: ReshareResult,
    opts: {
      create: boolean;
      participants?: readonly string[];
      confirmations: StoredConfirmations;
      /** The key's network, for a key this party does not hold yet (an existing key keeps its own). */
      network?: NetworkName;
      /** The key's recovery policy, likewise: for a key this party does not hold yet. */
      recovery?: StoredRecoveryPolicy;
    },
  ): Promise<void> {
    validateKeyName(name);
    const e = this.entries.get(name);
    if (opts.create && e?.active) throw new FrostnetError('CONFLICT', `a key named ${name} already exists`);
    if (!opts.create && !e?.active) throw new FrostnetError('UNKNOWN_KEY', `no key named ${name}`);
    const next: KeyEntry = {
      name,
      createdAt: e?.createdAt ?? this.createdNow(),
      network: e ? e.network : opts.network,
      ...((e ? e.recovery : opts.recovery) !== undefined && { recovery: e ? e.recovery : opts.recovery }),
      active: e?.active,
      activeParticipants: e?.activeParticipants,
      activeCertificate: e?.activeCertificate,
      pending: outcome,
      pendingParticipants: opts.participants && [...opts.participants],
      pendingConfirmations: opts.confirmations,
    };
    const secret: StoreOp = isRemoved(outcome)
      ? { type: 'del', kind: 'secret', name: shareName(name, 'pending') }
      : { type: 'putSecret', name: shareName(name, 'pending'), value: encodeSecret(outcome.secret) };
    await this.write(next, [secret]);
    this.removedKeys.delete(name);
  }

  /** Keeps the confirmations gathered for the pending epoch (a superset of what is stored), to serve them. */
  async setPendingConfirmations(name: string, confirmations: StoredConfirmations): Promise<void> {
    const e = this.entries.get(name);
    if (!e?.pending) return;
    await this.write({ ...e, pendingConfirmations: confirmations }, []);
  }

  /**
   * Makes the pending outcome active and forgets the old share, in one batch, keeping `certificate` (every
   * participant's signed confirmation) to show the others. A removal erases this party's share and keeps only
   * the public marker of the epoch that removed it.
   */
  async activatePending(name: string, certificate?: StoredConfirmations): Promise<ReshareResult> {
    const e = this.entries.get(name);
    if (!e?.pending) throw new FrostnetError('CONFLICT', `key ${name} has no pending epoch`);
    const pending = e.pending;
    if (isRemoved(pending)) {
      await this.markRemoved(e, pending, e.pendingParticipants ?? pending.group.members, false, certificate);
      return pending;
    }
    const next: KeyEntry = {
      ...e,
      active: pending,
      activeParticipants: e.pendingParticipants,
      activeCertificate: certificate,
      pending: undefined,
      pendingParticipants: undefined,
      pendingConfirmations: undefined,
    };
    await this.write(next, [
      { type: 'putSecret', name: shareName(name, 'active'), value: encodeSecret(pending.secret) },
      { type: 'del', kind: 'secret', name: shareName(name, 'pending') },
    ]);
    return pending;
  }

  private async markRemoved(
    e: KeyEntry,
    r: RemovedFromGroup,
    participants: readonly string[],
    erased = false,
    certificate?: StoredConfirmations,
  ) {
    const rec: KeyRecord = {
      v: KEY_RECORD_VERSION,
      name: e.name,
      createdAt: e.createdAt,
      ...(e.network && { network: e.network }),
      state: 'removed',
      removed: epochRecord(r.group, participants, certificate),
      erased,
    };
    await this.store.batch([
      { type: 'del', kind: 'secret', name: shareName(e.name, 'active') },
      { type: 'del', kind: 'secret', name: shareName(e.name, 'pending') },
      { type: 'putPublic', name: recordName(e.name), value: rec },
    ]);
    this.entries.delete(e.name);
    this.removedKeys.set(e.name, {
      name: e.name,
      createdAt: e.createdAt,
      group: r.group,
      participants,
      erased,
      certificate,
    });
  }

  /**
   * Stores `share` as the active share of a key this party does not hold (a repaired share, a restored backup).
   * A key it holds, active or pending, is never overwritten.
   */
  async restore(
    name: string,
    share: KeyShare,
    network: NetworkName | undefined,
    recovery?: StoredRecoveryPolicy,
  ): Promise<void> {
    validateKeyName(name);
    const e = this.entries.get(name) ?? this.byGroupKey(groupKeyHex(share.group));
    if (e)
      throw new FrostnetError(
        'CONFLICT',
        `this party already holds key ${e.name} (epoch ${entryGroup(e).epoch}); only a missing key is restored`,
      );
    await this.write(
      { name, createdAt: this.createdNow(), network, ...(recovery && { recovery }), active: share },
      [
        { type: 'putSecret', name: shareName(name, 'active'), value: encodeSecret(share.secret) },
        { type: 'del', kind: 'secret', name: shareName(name, 'pending') },
      ],
    );
    this.removedKeys.delete(name);
  }

  /**
   * Records this party's vouch that `replacement` now holds `old`'s identifier of key `name` (a member that lost
   * its device and came back under a new identity). Only the public record changes; never while an epoch is
   * pending, since that epoch's group was agreed with the old member list.
   */
  async replaceMember(name: string, old: string, replacement: string): Promise<KeyShare> {
    const share = this.settled(name);
    const e = this.entryOf(name);
    const active: KeyShare = { ...share, group: replaceMember(share.group, old, replacement) };
    const swap = (m: string) => (m === old ? replacement : m);
    await this.write({ ...e, active, activeParticipants: e.activeParticipants?.map(swap) }, []);
    return active;
  }

  /**
   * Deletes this party's share of key `name` at its operator's word: a device being retired, or a removal by a
   * reshare that this party confirmed but never saw settle (its pending removal is then taken as done). Only a
   * public marker of the settled epoch stays, so the party can still tell the others what it had settled.
   * Refused while a new share is pending. Returns the epoch of the marker.
   */
  async erase(name: string): Promise<number> {
    const e = this.entries.get(name);
    if (!e) throw this.noShare(name);
    if (e.pending && !isRemoved(e.pending))
      throw new FrostnetError('CONFLICT', `key ${name} has an unsettled epoch; try again once it settles`);
    if (e.pending) return (await this.activatePending(name)).group.epoch;
    const active = e.active;
    if (!active)
      throw new FrostnetError('STORE_CORRUPT', `key ${name}: neither an active nor a pending epoch`);
    await this.markRemoved(
      e,
      { removed: true, group: active.group },
      e.activeParticipants ?? active.group.members,
      true,
      e.activeCertificate,
    );
    return active.group.epoch;
  }

  /**
   * Drops the pending epoch (a DKG's entry goes with it): only at its operator's explicit word, since once this
   * party confirmed it, the others may activate it.
   */
  async discardPending(name: string): Promise<void> {
    const e = this.entries.get(name);
    if (!e?.pending) return;
    const del: StoreOp = { type: 'del', kind: 'secret', name: shareName(name, 'pending') };
    if (!e.active) {
      await this.store.batch([del, { type: 'del', kind: 'public', name: recordName(name) }]);
      this.entries.delete(name);
      return;
    }
    await this.write(
      { ...e, pending: undefined, pendingParticipants: undefined, pendingConfirmations: undefined },
      [del],
    );
  }

  /** The entry of a key this party holds (active or pending), or UNKNOWN_KEY. */
  private entryOf(name: string): KeyEntry {
    const e = this.entries.get(name);
    if (!e) throw this.noShare(name);
    return e;
  }

  /** The creation time of a record written now (ISO 8601, from the store's clock). */
  private createdNow(): string {
    return new Date(this.clock()).toISOString();
  }

  private async write(e: KeyEntry, ops: StoreOp[]): Promise<void> {
    await this.store.batch([...ops, { type: 'putPublic', name: recordName(e.name), value: toRecord(e) }]);
    this.entries.set(e.name, e);
  }
}

/** The group an entry is on: its active one, or the pending one of a key it does not hold yet. */
export function entryGroup(e: KeyEntry): KeyGroup {
  const g = e.active?.group ?? e.pending?.group;
  if (!g) throw new FrostnetError('STORE_CORRUPT', `key ${e.name}: neither an active nor a pending epoch`);
  return g;
}

const epochRecord = (
  g: KeyGroup,
  participants?: readonly string[],
  confirmations?: StoredConfirmations,
): EpochRecord => ({
  group: keyGroupToJSON(g),
  ...(participants && { participants: [...participants] }),
  ...(confirmations && { confirmations }),
});

/** The version-2 record of an entry: `held` when it has an active share, else `creating`. */
function toRecord(e: KeyEntry): KeyRecord {
  const base = {
    v: KEY_RECORD_VERSION,
    name: e.name,
    createdAt: e.createdAt,
    ...(e.network && { network: e.network }),
    ...(e.recovery && { recovery: e.recovery }),
  } as const;
  const pending = e.pending && epochRecord(e.pending.group, e.pendingParticipants, e.pendingConfirmations);
  if (e.active)
    return {
      ...base,
      state: 'held',
      active: epochRecord(e.active.group, e.activeParticipants, e.activeCertificate),
      ...(pending && {
        pending: { ...pending, ...(e.pending && isRemoved(e.pending) && { removal: true as const }) },
      }),
    };
  if (!pending || (e.pending && isRemoved(e.pending)))
    throw new FrostnetError(
      'INTERNAL',
      `key ${e.name}: no state to record (neither a share nor a new one pending)`,
    );
  return { ...base, state: 'creating', pending };
}
