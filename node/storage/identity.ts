/**
 * A party's identity: an Ed25519 libp2p key. Its peer id names the party in every key group.
 * The private key is a secret: keep it in the encrypted store (see loadOrCreateIdentity), never in a plain file.
 */

import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { errorMessage, FrostnetError } from '../../protocol/errors.ts';

/** Store record holding the identity key (libp2p protobuf encoding). */
export const IDENTITY_SECRET = 'identity/ed25519';

export async function generateIdentity(): Promise<PrivateKey> {
  return generateKeyPair('Ed25519');
}

/** The libp2p protobuf encoding of the key (what `unmarshalIdentity` reads back). */
export function marshalIdentity(key: PrivateKey): Uint8Array {
  if (key.type !== 'Ed25519')
    throw new FrostnetError('INVALID_INPUT', `identity must be Ed25519, not ${key.type}`);
  return privateKeyToProtobuf(key);
}

/** Reads a key written by `marshalIdentity`; throws INVALID_INPUT for anything but an Ed25519 key. */
export function unmarshalIdentity(bytes: Uint8Array): PrivateKey {
  let key: PrivateKey;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (e) {
    throw new FrostnetError(
      'INVALID_INPUT',
      `not a libp2p private key: ${e instanceof Error ? e.message : e}`,
    );
  }
  if (key.type !== 'Ed25519')
    throw new FrostnetError('INVALID_INPUT', `identity must be Ed25519, not ${key.type}`);
  return key;
}

/** The peer id string (base58btc, "12D3KooW...") of a key. */
export function peerIdOf(key: PrivateKey): string {
  return peerIdFromPrivateKey(key).toString();
}

/** Parses a peer id string; throws INVALID_INPUT naming `what` when it is not one. */
export function parsePeerId(id: string, what = 'peer id'): PeerId {
  if (typeof id !== 'string' || id.length === 0 || id.length > 128) {
    throw new FrostnetError('INVALID_INPUT', `${what} must be a peer id string`);
  }
  try {
    return peerIdFromString(id);
  } catch {
    throw new FrostnetError('INVALID_INPUT', `${what} ${JSON.stringify(id)} is not a valid peer id`);
  }
}

/** The part of the store the identity needs (node/storage/store.ts Store satisfies it). */
export interface SecretStore {
  getSecret(name: string): Promise<Uint8Array | undefined>;
  putSecret(name: string, value: Uint8Array): Promise<void>;
}

/**
 * The party's key from the store, created and stored on first use: `given` (one restored from a backup) or a
 * new one. A `given` key never replaces a stored key of another peer id.
 */
export async function loadOrCreateIdentity(store: SecretStore, given?: PrivateKey): Promise<PrivateKey> {
  const stored = await store.getSecret(IDENTITY_SECRET);
  if (stored !== undefined) {
    let key: PrivateKey;
    try {
      key = unmarshalIdentity(stored);
    } catch (e) {
      throw new FrostnetError('STORE_CORRUPT', `stored identity is unreadable: ${errorMessage(e)}`);
    }
    if (given && !key.equals(given))
      throw new FrostnetError('CONFLICT', `this store holds another identity (${peerIdOf(key)})`);
    return key;
  }
  const key = given ?? (await generateIdentity());
  await store.putSecret(IDENTITY_SECRET, marshalIdentity(key));
  return key;
}

/** What a ceremony needs of identities: this party's signature, and checking any party's. */
export interface Signatures {
  /** This party's Ed25519 signature of `statement`. */
  sign(statement: Uint8Array): Promise<Uint8Array>;
  /** Whether `signature` is `party`'s signature of `statement`; false for anything malformed, never a throw. */
  verify(party: string, statement: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** Signatures with this party's identity key; a party's public key is its peer id (Ed25519 ids embed it). */
export function identitySignatures(key: PrivateKey): Signatures {
  return {
    sign: async (statement) => key.sign(statement),
    verify: async (party, statement, signature) => {
      try {
        const publicKey = peerIdFromString(party).publicKey;
        return (
          publicKey !== undefined && signature.length === 64 && (await publicKey.verify(statement, signature))
        );
      } catch {
        return false;
      }
    },
  };
}
