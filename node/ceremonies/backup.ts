/**
 * Backups of one party's share of one key: a JSON file whose share and key group are encrypted with
 * XChaCha20-Poly1305 under a key derived from a passphrase with scrypt, as the store does (both through
 * storage/sealing.ts; a backup accepts no scrypt cost below 2^14, a store one down to 2^10). A readable header
 * (key name, group key, epoch, KDF parameters) is authenticated with the ciphertext. On request the party's
 * identity key is encrypted with the share (the header says so): after the loss of a whole machine,
 * `frostnet init --from-backup` sets the party up again under its old peer id, and the import restores the
 * share. Not by default: the identity outlives any refresh, so a leaked backup with it lets its finder act as
 * the party (request signatures, join ceremonies) until the party is replaced by a reshare.
 *
 * A restore never brings back nonces: they live only in the memory of the daemon that made them. It restores
 * only a key this party does not hold, only a share that is this party's own, and only when the other members
 * confirm that the backup's epoch is the group's current one: a backup older than a refresh or reshare is
 * reported as outdated and refused, so it is never used to sign.
 */
import type { PrivateKey } from '@libp2p/interface';
import { isNetworkName, type NetworkName } from '../../chains/bitcoin/network-names.ts';
import type { RecoveryPolicyJson } from '../../chains/bitcoin/recovery.ts';
import { bytesToHex, Fn, G, hexToBytes } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import {
  groupKey,
  identifierOf,
  type KeyShare,
  type KeyShareJSON,
  keyShareFromJSON,
  keyShareToJSON,
} from '../../protocol/keys.ts';
import { verifyingShareOf } from '../../protocol/reshare.ts';
import type { Logger } from '../ops/log.ts';
import { marshalIdentity, peerIdOf, unmarshalIdentity } from '../storage/identity.ts';
import { type KeyStore, validateKeyName } from '../storage/keystore.ts';
import {
  DEFAULT_SCRYPT,
  deriveKey,
  isBoundedScrypt,
  MIN_N,
  newSalt,
  type SaltedScrypt,
  type ScryptParams,
  seal,
  unseal,
} from '../storage/sealing.ts';
import { holdsEpoch, type KeyCeremonies } from './key-ceremonies.ts';
import { canonicalRecovery, recoveryText } from './key-network.ts';

export const BACKUP_FORMAT = 'frostnet-backup';
const VERSION = 1;
const AD_PREFIX = 'frostnet/backup/v1\0';
const MIN_PASSPHRASE = 12;

export type BackupFile = {
  format: typeof BACKUP_FORMAT;
  version: 1;
  /**
   * `network`: the key's Bitcoin network; absent in backups of keys with none stored (made before it was).
   * `recovery`: the key's recovery policy (canonical JSON form); absent for a key without one.
   */
  key: {
    name: string;
    groupKey: string;
    epoch: number;
    threshold: number;
    members: string[];
    network?: NetworkName;
    recovery?: RecoveryPolicyJson;
  };
  /** The ciphertext holds the party's identity key too. */
  identity?: true;
  kdf: SaltedScrypt & { name: 'scrypt' };
  nonce: string;
  ciphertext: string;
};

/** `identity`: the party's libp2p key (hex protobuf), in a backup made with it. */
type Plaintext = { share: KeyShareJSON; party: string; exportedAt: string; identity?: string };

/** Everything readable in the file is bound to the ciphertext: edit any of it and nothing decrypts. */
const associatedData = (f: Pick<BackupFile, 'key' | 'identity' | 'kdf'>) =>
  new TextEncoder().encode(
    AD_PREFIX +
      JSON.stringify([
        f.key.name,
        f.key.groupKey,
        f.key.epoch,
        f.key.threshold,
        f.key.members,
        f.kdf.N,
        f.kdf.r,
        f.kdf.p,
        f.kdf.salt,
        // Only when set, so that files made before the fields existed still open.
        ...(f.identity ? ['identity'] : []),
        ...(f.key.network ? ['network', f.key.network] : []),
        ...(f.key.recovery ? ['recovery', recoveryText(f.key.recovery)] : []),
      ]),
  );

function checkPassphrase(passphrase: unknown): string {
  if (typeof passphrase !== 'string' || [...passphrase].length < MIN_PASSPHRASE)
    throw new FrostnetError(
      'INVALID_INPUT',
      `a backup passphrase has at least ${MIN_PASSPHRASE} characters (FROSTNET_BACKUP_PASSPHRASE or --passphrase-file)`,
    );
  return passphrase;
}

/**
 * Encrypts `share` of key `name`, held by `party`, under `passphrase`; with `identity` (the party's key) the
 * identity too.
 */
export async function sealBackup(
  name: string,
  share: KeyShare,
  party: string,
  passphrase: string,
  opts: {
    kdf?: ScryptParams;
    identity?: PrivateKey;
    network?: NetworkName;
    recovery?: RecoveryPolicyJson;
    /** When the backup is made, in milliseconds since the epoch; default now (Date.now). */
    at?: number;
  } = {},
): Promise<BackupFile> {
  checkPassphrase(passphrase);
  if (opts.identity && peerIdOf(opts.identity) !== party)
    throw new FrostnetError('INTERNAL', 'the identity is not the party whose share is backed up');
  const g = share.group;
  const header: Pick<BackupFile, 'key' | 'identity' | 'kdf'> = {
    key: {
      name,
      groupKey: bytesToHex(groupKey(g).toBytes(true)),
      epoch: g.epoch,
      threshold: g.threshold,
      members: [...g.members],
      ...(opts.network && { network: opts.network }),
      ...(opts.recovery && { recovery: opts.recovery }),
    },
    ...(opts.identity ? { identity: true as const } : {}),
    kdf: { name: 'scrypt', ...(opts.kdf ?? DEFAULT_SCRYPT), salt: newSalt() },
  };
  const key = await deriveKey(passphrase, header.kdf);
  const plain: Plaintext = {
    share: keyShareToJSON(share),
    party,
    exportedAt: new Date(opts.at ?? Date.now()).toISOString(),
    ...(opts.identity ? { identity: bytesToHex(marshalIdentity(opts.identity)) } : {}),
  };
  const bytes = new TextEncoder().encode(JSON.stringify(plain));
  const { nonce, ciphertext: ct } = seal(key, associatedData(header), bytes);
  key.fill(0);
  bytes.fill(0);
  return {
    format: BACKUP_FORMAT,
    version: VERSION,
    ...header,
    nonce: bytesToHex(nonce),
    ciphertext: Buffer.from(ct).toString('base64'),
  };
}

/** Checks the file's shape and bounds (a crafted file must not make scrypt take gigabytes). */
function parseFile(v: unknown): BackupFile {
  const f = v as BackupFile;
  const k = f?.key;
  const kdf = f?.kdf;
  const ok =
    f !== null &&
    typeof f === 'object' &&
    f.format === BACKUP_FORMAT &&
    f.version === VERSION &&
    typeof k?.name === 'string' &&
    typeof k.groupKey === 'string' &&
    Number.isSafeInteger(k.epoch) &&
    Number.isSafeInteger(k.threshold) &&
    Array.isArray(k.members) &&
    (k.network === undefined || isNetworkName(k.network)) &&
    kdf?.name === 'scrypt' &&
    isBoundedScrypt(kdf, MIN_N.backup) &&
    typeof f.nonce === 'string' &&
    /^[0-9a-f]{48}$/.test(f.nonce) &&
    typeof f.ciphertext === 'string' &&
    (f.identity === undefined || f.identity === true);
  if (!ok) throw new FrostnetError('INVALID_INPUT', 'not a frostnet backup file (or a damaged one)');
  if (f.key.recovery !== undefined) {
    let canonical: string;
    try {
      canonical = recoveryText(canonicalRecovery(f.key.recovery));
    } catch (e) {
      throw new FrostnetError('INVALID_INPUT', `the backup's recovery policy: ${(e as Error).message}`);
    }
    // The associated data binds the policy's text: only the canonical form a party writes is read.
    if (canonical !== recoveryText(f.key.recovery))
      throw new FrostnetError('INVALID_INPUT', "the backup's recovery policy is not in canonical form");
  }
  return f;
}

export type OpenedBackup = {
  name: string;
  share: KeyShare;
  party: string;
  /** The party's identity, when the backup was made with it. */
  identity?: PrivateKey;
  /** Undefined in a backup of a key with no network stored. */
  network?: NetworkName;
  /** Undefined in a backup of a key without a recovery policy. */
  recovery?: RecoveryPolicyJson;
  /** When the party exported it, by its daemon's clock (ISO 8601). */
  exportedAt: string;
};

/** Decrypts a backup file; WRONG_PASSPHRASE when it does not open (wrong passphrase or an altered file). */
export async function openBackup(file: unknown, passphrase: string): Promise<OpenedBackup> {
  const f = parseFile(file);
  const key = await deriveKey(checkPassphrase(passphrase), f.kdf);
  const bytes = unseal(key, hexToBytes(f.nonce), associatedData(f), Buffer.from(f.ciphertext, 'base64'));
  key.fill(0);
  if (bytes === undefined)
    throw new FrostnetError(
      'WRONG_PASSPHRASE',
      'the backup does not open with this passphrase (or the file was altered)',
    );
  const plain = JSON.parse(new TextDecoder().decode(bytes)) as Plaintext;
  bytes.fill(0);
  const share = keyShareFromJSON(plain.share);
  if (bytesToHex(groupKey(share.group).toBytes(true)) !== f.key.groupKey || share.group.epoch !== f.key.epoch)
    throw new FrostnetError('INVALID_INPUT', 'the backup header does not match its contents');
  const identity = plain.identity === undefined ? undefined : unmarshalIdentity(hexToBytes(plain.identity));
  if ((identity !== undefined) !== (f.identity === true) || (identity && peerIdOf(identity) !== plain.party))
    throw new FrostnetError('INVALID_INPUT', 'the backup identity is not the one its header names');
  return {
    name: validateKeyName(f.key.name),
    share,
    party: plain.party,
    identity,
    network: f.key.network,
    ...(f.key.recovery && { recovery: f.key.recovery }),
    exportedAt: plain.exportedAt,
  };
}

export type BackupsOptions = {
  self: string;
  /** This party's identity key, for the backups asked to carry it. */
  identity: PrivateKey;
  keys: KeyStore;
  ceremonies: KeyCeremonies;
  log: Logger;
  /** scrypt cost of new backups (tests may lower it); default that of the store. */
  kdf?: ScryptParams;
  /** Milliseconds since the epoch (Date.now unless a test says otherwise): when a backup is exported. */
  clock?: () => number;
};

export type RestoreOutcome = { name: string; epoch: number; groupKey: string; confirmedBy: string[] };

export class Backups {
  private readonly o: BackupsOptions;

  constructor(o: BackupsOptions) {
    this.o = o;
  }

  /** This party's active share of `name` (and, asked to, its identity), encrypted under `passphrase`. */
  async export(name: string, passphrase: string, withIdentity = false): Promise<BackupFile> {
    const share = this.o.keys.settled(name);
    const file = await sealBackup(name, share, this.o.self, passphrase, {
      kdf: this.o.kdf,
      identity: withIdentity ? this.o.identity : undefined,
      network: this.o.keys.get(name)?.network,
      recovery: this.o.keys.get(name)?.recovery,
      at: (this.o.clock ?? Date.now)(),
    });
    this.o.log.info('backup exported', { key: name, epoch: share.group.epoch });
    return file;
  }

  /**
   * Restores a backup into this party, which must not hold the key. The other members must confirm that the
   * backup's epoch is the current one: at least t-1 of them hold it, and none holds a later one.
   */
  async import(file: unknown, passphrase: string): Promise<RestoreOutcome> {
    const { name, share, network, recovery } = await openBackup(file, passphrase);
    const { self, keys, ceremonies } = this.o;
    const g = share.group;
    if (!g.members.includes(self) || share.secret.identifier !== identifierOf(g, self))
      throw new FrostnetError('INVALID_INPUT', `this backup holds another party's share of ${name}`);
    if (!G.multiply(Fn.fromBytes(share.secret.signingShare)).equals(verifyingShareOf(g, self)))
      throw new FrostnetError('INVALID_INPUT', `the share in this backup does not match its key group`);
    const held = keys.get(name) ?? keys.byGroupKey(bytesToHex(groupKey(g).toBytes(true)));
    if (held)
      throw new FrostnetError(
        'CONFLICT',
        `this party holds key ${held.name} already; a backup restores only a missing key`,
      );
    const others = g.members.filter((m) => m !== self);
    const answers = await ceremonies.statusOf(groupKey(g).toBytes(true), others);
    const newer = [...answers.values()].filter((s) => s && s.transcript.length > 0 && s.epoch > g.epoch);
    const diverged = [...answers].filter(
      ([, s]) => s && s.transcript.length > 0 && s.epoch === g.epoch && !holdsEpoch(s, g),
    );
    if (newer.length || diverged.length) {
      const current = Math.max(g.epoch, ...newer.map((s) => s!.epoch));
      throw new FrostnetError(
        'EPOCH_MISMATCH',
        `backup of ${name} is outdated: it holds epoch ${g.epoch}, the group is on epoch ${current}; it was not restored and will not sign. Restore a newer backup, or have a member repair this party's share ("frostnet repair --key ${name} --party ${self}")`,
      );
    }
    const confirmedBy = others.filter((m) => holdsEpoch(answers.get(m), g));
    if (confirmedBy.length < g.threshold - 1) {
      const silent = others.filter((m) => !confirmedBy.includes(m));
      throw new FrostnetError(
        'UNREACHABLE',
        `cannot confirm that epoch ${g.epoch} of ${name} is current: ${confirmedBy.length} of the other members confirm it, ${g.threshold - 1} must (is this party still a member?)`,
        silent,
      );
    }
    await keys.restore(name, share, network, recovery);
    this.o.log.info('backup restored', { key: name, epoch: g.epoch, confirmedBy: confirmedBy.length });
    return { name, epoch: g.epoch, groupKey: bytesToHex(groupKey(g).toBytes(true)), confirmedBy };
  }
}
