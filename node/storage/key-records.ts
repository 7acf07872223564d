/**
 * The public record of one key in the store (`key/<name>`), as a tagged union of the states a key can be in at
 * this party, so that no impossible state is representable on disk:
 *
 * - `held`: it holds a share of the active epoch, and maybe a pending one (a new share, or its removal);
 * - `creating`: it holds no active share yet, only a pending one (a DKG, or a reshare that adds this party);
 * - `removed`: it holds no share any more (a reshare removed it, or its operator erased it), only the public
 *   group of the epoch that removed it, to tell the others which epoch it had settled.
 *
 * Version 2 carries `v: 2` and `state`. Records written before it (version 1: no `v`, a bag of optional fields
 * `active`, `pending`, `pendingRemoval`, `removed`, `erased`, ...) are read by `readKeyRecord` as the state they
 * describe, and written back as version 2 the next time the key changes. A record of a later version, or one
 * whose fields describe no state, is refused as STORE_CORRUPT naming the key.
 */
import { isNetworkName, type NetworkName } from '../../chains/bitcoin/network-names.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import type { KeyShareJSON } from '../../protocol/keys.ts';

export type GroupJSON = KeyShareJSON['group'];

/** Signed round-3 confirmations of one ceremony, hex, signatures by party (node/ceremonies/certificates.ts). */
export type StoredConfirmations = {
  sessionId: string;
  confirmation: string;
  signatures: Record<string, string>;
};

export const KEY_RECORD_VERSION = 2;

/**
 * A key's recovery policy as the store keeps it: the JSON form of chains/bitcoin/recovery.ts (RecoveryPolicyJson,
 * the same shape), canonical. The store checks its shape; what it means (keys, checksums, the canonical form) is
 * checked where it is used: by the daemon when it starts (node/ceremonies/key-network.ts) and by every signer.
 */
export type StoredRecoveryPolicy = { version: 1; leaves: { key: string; older: number }[] };

function isStoredRecovery(v: unknown): v is StoredRecoveryPolicy {
  const p = v as Partial<StoredRecoveryPolicy> | null;
  return (
    p !== null &&
    typeof p === 'object' &&
    p.version === 1 &&
    Array.isArray(p.leaves) &&
    p.leaves.length > 0 &&
    p.leaves.every(
      (l) =>
        l !== null && typeof l === 'object' && typeof l.key === 'string' && Number.isSafeInteger(l.older),
    )
  );
}

/** One epoch of the key: its group (public data only), the parties of its ceremony, its confirmations. */
export type EpochRecord = {
  group: GroupJSON;
  /** The parties of the ceremony that made the epoch, when they are not just its members (a reshare). */
  participants?: string[];
  /**
   * Settled epoch: the complete certificate that activated it; pending epoch: the confirmations gathered so far
   * (this party's own first). Absent in records written before certificates existed.
   */
  confirmations?: StoredConfirmations;
};

export type KeyRecord = {
  v: typeof KEY_RECORD_VERSION;
  name: string;
  createdAt: string;
  /** The Bitcoin network the members agreed at keygen; absent for a key made before it was stored. */
  network?: NetworkName;
  /** The recovery policy the members agreed at keygen (chains/bitcoin/recovery.ts); absent: none. */
  recovery?: StoredRecoveryPolicy;
} & (
  | { state: 'held'; active: EpochRecord; pending?: EpochRecord & { removal?: true } }
  | { state: 'creating'; pending: EpochRecord }
  | { state: 'removed'; removed: EpochRecord; erased: boolean }
);

/** A version-1 record, as written before versions existed. */
type KeyRecordV1 = {
  name: string;
  createdAt: string;
  network?: NetworkName;
  recovery?: StoredRecoveryPolicy;
  active?: GroupJSON;
  pending?: GroupJSON;
  pendingRemoval?: true;
  activeParticipants?: string[];
  pendingParticipants?: string[];
  removed?: GroupJSON;
  removedParticipants?: string[];
  erased?: true;
  pendingConfirmations?: StoredConfirmations;
  activeCertificate?: StoredConfirmations;
  removedCertificate?: StoredConfirmations;
};

const isObject = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);

/** Drops the fields that are undefined, so that a record reads back as it was written. */
function epoch(group: GroupJSON, participants?: string[], confirmations?: StoredConfirmations): EpochRecord {
  return {
    group,
    ...(participants && { participants: [...participants] }),
    ...(confirmations && { confirmations }),
  };
}

/** The state a version-1 record describes. */
function fromV1(r: KeyRecordV1, corrupt: (problem: string) => never): KeyRecord {
  const base = {
    v: KEY_RECORD_VERSION,
    name: r.name,
    createdAt: r.createdAt,
    ...(r.network !== undefined && { network: r.network }),
    ...(r.recovery !== undefined && { recovery: r.recovery }),
  } as const;
  if (r.active)
    return {
      ...base,
      state: 'held',
      active: epoch(r.active, r.activeParticipants, r.activeCertificate),
      ...(r.pending && {
        pending: {
          ...epoch(r.pending, r.pendingParticipants, r.pendingConfirmations),
          ...(r.pendingRemoval === true && { removal: true as const }),
        },
      }),
    };
  if (r.pending) {
    if (r.pendingRemoval) corrupt('a pending removal from a key it holds no share of');
    return {
      ...base,
      state: 'creating',
      pending: epoch(r.pending, r.pendingParticipants, r.pendingConfirmations),
    };
  }
  if (r.removed)
    return {
      ...base,
      state: 'removed',
      removed: epoch(r.removed, r.removedParticipants, r.removedCertificate),
      erased: r.erased === true,
    };
  return corrupt('no active, pending or removed epoch');
}

function checkEpoch(e: unknown, what: string, corrupt: (problem: string) => never): void {
  if (!isObject(e) || !isObject(e.group)) corrupt(`its ${what} epoch is not a group`);
  if (
    e.participants !== undefined &&
    !(Array.isArray(e.participants) && e.participants.every((p) => typeof p === 'string'))
  )
    corrupt(`the participants of its ${what} epoch are not a list of peer ids`);
  if (e.confirmations !== undefined && !isObject(e.confirmations))
    corrupt(`the confirmations of its ${what} epoch are not an object`);
}

/**
 * Reads the record stored under `key/<name>`, of either version, as a version-2 record. Checks its shape (the
 * groups themselves are checked where they are decoded, node/storage/keystore.ts).
 */
export function readKeyRecord(raw: unknown, storedAs: string): KeyRecord {
  const corrupt = (problem: string): never => {
    throw new FrostnetError('STORE_CORRUPT', `key ${storedAs.replace(/^key\//, '')}: ${problem}`);
  };
  if (!isObject(raw)) return corrupt('not an object');
  if (typeof raw.name !== 'string' || `key/${raw.name}` !== storedAs)
    corrupt(`its record (${storedAs}) names ${JSON.stringify(raw.name)}`);
  if (typeof raw.createdAt !== 'string') corrupt('no creation time');
  if (raw.network !== undefined && !isNetworkName(raw.network))
    corrupt(`unknown network ${JSON.stringify(raw.network)}`);
  if (raw.recovery !== undefined && !isStoredRecovery(raw.recovery))
    corrupt('its recovery policy is not a policy');
  if (raw.v === undefined) return fromV1(raw as KeyRecordV1, corrupt);
  if (raw.v !== KEY_RECORD_VERSION)
    return corrupt(
      `version ${JSON.stringify(raw.v)}; this code reads versions 1 and ${KEY_RECORD_VERSION} (a newer frostnet wrote it?)`,
    );
  switch (raw.state) {
    case 'held':
      checkEpoch(raw.active, 'active', corrupt);
      if (raw.pending !== undefined) checkEpoch(raw.pending, 'pending', corrupt);
      break;
    case 'creating':
      checkEpoch(raw.pending, 'pending', corrupt);
      break;
    case 'removed':
      checkEpoch(raw.removed, 'removed', corrupt);
      if (typeof raw.erased !== 'boolean') corrupt('a removal that says neither erased nor not');
      break;
    default:
      corrupt(`unknown state ${JSON.stringify(raw.state)}`);
  }
  return raw as KeyRecord;
}
