/** @noble/curves' own FROST, set up as this project's ceremonies use it: the reference for tests and the bench. */
import { createFROST, type FROST } from '@noble/curves/abstract/frost.js';
import { secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { Point } from '../../protocol/curve.ts';
import { dkgDomain } from '../../protocol/dkg.ts';

/** noble's RFC 9591 secp256k1 suite with its DKG hash bound to the ceremony with this context hash. */
export const nobleDkgSuite = (contextHash: Uint8Array): FROST =>
  createFROST({
    name: 'FROST-secp256k1-SHA256-v1',
    Point,
    hashToScalar: secp256k1_hasher.hashToScalar,
    hash: sha256,
    HDKG: dkgDomain(contextHash),
  });
