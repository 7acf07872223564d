/**
 * What the EVM helpers need from whoever signs: the x-only key and BIP340 signatures of 32-byte digests under
 * it. The network provides one (a threshold signature under the evmKey tweak steps); singleKeySigner is the
 * reference with a whole secret key, for tests and measurements only.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { G, scalarToBytes, xOnly } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { decodeTypedData, type TypedData } from './typed-data.ts';

export type Bip340Signer = {
  /** The x-only key (32 bytes) the signatures verify under. */
  readonly px: Uint8Array;
  /** A 64-byte BIP340 signature of a 32-byte digest. */
  sign(digest: Uint8Array): Promise<Uint8Array>;
  /**
   * A signature of an account action given as its typed data. The network offers this: its parties sign
   * typed data they decode and check themselves, where a bare digest would tell them nothing.
   */
  signTypedData?(typedData: TypedData): Promise<Uint8Array>;
};

/** Signs an account action: through its typed data when the signer takes typed data, else its digest. */
export function signAction(signer: Bip340Signer, typedData: TypedData): Promise<Uint8Array> {
  return signer.signTypedData
    ? signer.signTypedData(typedData)
    : signer.sign(decodeTypedData(typedData).digest);
}

/** Signs with one whole secret key; the network never has one, so this serves tests and gas measurements. */
export function singleKeySigner(secret: bigint): Bip340Signer {
  const secretBytes = scalarToBytes(secret);
  return {
    px: xOnly(G.multiply(secret)),
    async sign(digest) {
      if (!(digest instanceof Uint8Array) || digest.length !== 32)
        throw new FrostnetError('INVALID_INPUT', 'EVM signatures are over 32-byte digests');
      return schnorr.sign(digest, secretBytes);
    },
  };
}
