/**
 * EIP-712 typed data of ThresholdAccount actions. A signing party receives the typed data, never a bare hash:
 * decodeTypedData checks it is exactly one of our two actions, in bounds, and recomputes the digest itself.
 * The typed data is JSON-safe (eth_signTypedData_v4 shape, numbers as decimal strings) so it can travel.
 */
import { schnorr } from '@noble/curves/secp256k1.js';
import { getAddress, getBytes, hexlify, isHexString, TypedDataEncoder, toBeHex } from 'ethers';
import { Fn } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';
import { exactFields, isRecord } from '../fields.ts';

export const DOMAIN_NAME = 'Frostnet Threshold Account';
export const DOMAIN_VERSION = '1';
/** Largest call data an Execute may carry; bigger requests are refused before anything is hashed. */
export const MAX_CALL_DATA_BYTES = 64 * 1024;

export type TypedDataField = { readonly name: string; readonly type: string };

const DOMAIN_FIELDS: readonly TypedDataField[] = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
  { name: 'verifyingContract', type: 'address' },
];

/** The two actions, field for field as ThresholdAccount's type hashes spell them. */
export const ACTION_TYPES = {
  Execute: [
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'data', type: 'bytes' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
  RotateKey: [
    { name: 'newKey', type: 'uint256' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
} as const satisfies Record<string, readonly TypedDataField[]>;

export type PrimaryType = keyof typeof ACTION_TYPES;

/** Typed data of an account action; `P` names its primary type (one of ACTION_TYPES unless said). */
export type TypedData<P extends string = PrimaryType> = {
  types: Record<string, TypedDataField[]>;
  primaryType: P;
  domain: { name: string; version: string; chainId: string; verifyingContract: string };
  message: Record<string, string>;
};

/** The account an action is for: the chain and the account's address. */
export type AccountRef = { readonly chainId: bigint; readonly address: string };

export type ExecuteFields = {
  readonly to: string;
  readonly value: bigint;
  /** 0x-prefixed hex call data. */
  readonly data: string;
  readonly nonce: bigint;
  readonly deadline: bigint;
};

export type RotateKeyFields = {
  readonly newKey: Uint8Array;
  readonly nonce: bigint;
  readonly deadline: bigint;
};

export type DecodedExecute = {
  readonly kind: 'Execute';
  readonly digest: Uint8Array;
  readonly account: AccountRef;
  readonly fields: ExecuteFields;
};
export type DecodedRotateKey = {
  readonly kind: 'RotateKey';
  readonly digest: Uint8Array;
  readonly account: AccountRef;
  readonly fields: RotateKeyFields;
};
export type DecodedAction = DecodedExecute | DecodedRotateKey;

const UINT256_LIMIT = 1n << 256n;

const invalid = (reason: string): FrostnetError =>
  new FrostnetError('INVALID_INPUT', `EIP-712 request: ${reason}`);

const exactRecord = (v: unknown, keys: readonly string[], what: string) =>
  exactFields(v, keys, what, invalid);

function sameFields(got: unknown, want: readonly TypedDataField[]): boolean {
  return (
    Array.isArray(got) &&
    got.length === want.length &&
    got.every((f, i) => {
      const w = want[i];
      if (!isRecord(f) || w === undefined) return false;
      const keys = Object.keys(f);
      return keys.length === 2 && f.name === w.name && f.type === w.type;
    })
  );
}

/** A uint256 given as bigint, safe integer, decimal string or 0x-hex string. */
function parseUint(v: unknown, what: string): bigint {
  let n: bigint | undefined;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && v.length <= 80 && /^(0|[1-9][0-9]*|0x[0-9a-fA-F]+)$/.test(v))
    n = BigInt(v);
  if (n === undefined || n < 0n || n >= UINT256_LIMIT) throw invalid(`${what} is not a uint256`);
  return n;
}

function parseAddress(v: unknown, what: string): string {
  if (typeof v !== 'string' || !isHexString(v, 20)) throw invalid(`${what} is not a 20-byte hex address`);
  try {
    return getAddress(v);
  } catch {
    throw invalid(`${what} has a wrong checksum`);
  }
}

function parseCallData(v: unknown): string {
  if (typeof v !== 'string' || !isHexString(v) || v.length % 2 !== 0)
    throw invalid('data is not 0x-prefixed hex bytes');
  if ((v.length - 2) / 2 > MAX_CALL_DATA_BYTES)
    throw invalid(`data is longer than ${MAX_CALL_DATA_BYTES} bytes`);
  return v.toLowerCase();
}

/** A key the contract accepts: an x coordinate on the curve, below the group order. */
function parseKey(v: unknown, what: string): Uint8Array {
  const x = parseUint(v, what);
  let onCurve = true;
  try {
    schnorr.utils.lift_x(x);
  } catch {
    onCurve = false;
  }
  if (!onCurve || x >= Fn.ORDER) throw invalid(`${what} is not a key the account can verify for`);
  return getBytes(toBeHex(x, 32));
}

/** The parts every account action shares, validated: its type, account, message, nonce, deadline, digest. */
export type DecodedEnvelope<P extends string> = {
  readonly primaryType: P;
  readonly account: AccountRef;
  readonly message: Record<string, unknown>;
  readonly nonce: bigint;
  readonly deadline: bigint;
  /** The EIP-712 digest of the message with these (parsed) values. */
  digestOf(values: Record<string, unknown>): Uint8Array;
};

/**
 * Validates typed data of one of the actions in `actionTypes` (each a type the account's contract hashes, with
 * a nonce and a deadline) against the account's domain: exactly these fields, nothing more.
 */
export function decodeEnvelope<P extends string>(
  input: unknown,
  actionTypes: Readonly<Record<P, readonly TypedDataField[]>>,
): DecodedEnvelope<P> {
  const td = exactRecord(input, ['types', 'primaryType', 'domain', 'message'], 'typed data');
  const names = Object.keys(actionTypes) as P[];
  const primaryType = td.primaryType as P;
  if (!names.includes(primaryType)) throw invalid(`primaryType must be ${names.join(' or ')}`);
  const fields = actionTypes[primaryType];
  const types = td.types;
  if (!isRecord(types)) throw invalid('types is not an object');
  // EIP712Domain may be left out, as ethers and some wallets do; when present it must be ours.
  const withDomain = Object.hasOwn(types, 'EIP712Domain');
  exactRecord(types, withDomain ? ['EIP712Domain', primaryType] : [primaryType], 'types');
  if (withDomain && !sameFields(types.EIP712Domain, DOMAIN_FIELDS))
    throw invalid('EIP712Domain is not the account domain');
  if (!sameFields(types[primaryType], fields)) throw invalid(`${primaryType} type is not the account's`);

  const domain = exactRecord(td.domain, ['name', 'version', 'chainId', 'verifyingContract'], 'domain');
  if (domain.name !== DOMAIN_NAME || domain.version !== DOMAIN_VERSION)
    throw invalid(`domain is not ${DOMAIN_NAME} version ${DOMAIN_VERSION}`);
  const chainId = parseUint(domain.chainId, 'chainId');
  if (chainId === 0n) throw invalid('chainId is zero');
  const account: AccountRef = {
    chainId,
    address: parseAddress(domain.verifyingContract, 'verifyingContract'),
  };

  const message = exactRecord(
    td.message,
    fields.map((f) => f.name),
    'message',
  );
  const hashDomain = {
    name: DOMAIN_NAME,
    version: DOMAIN_VERSION,
    chainId,
    verifyingContract: account.address,
  };
  return {
    primaryType,
    account,
    message,
    nonce: parseUint(message.nonce, 'nonce'),
    deadline: parseUint(message.deadline, 'deadline'),
    digestOf: (values) =>
      getBytes(TypedDataEncoder.hash(hashDomain, { [primaryType]: fields.map((f) => ({ ...f })) }, values)),
  };
}

/** Validates typed data of one of our two actions and recomputes its digest. */
export function decodeTypedData(input: unknown): DecodedAction {
  const { primaryType, account, message, nonce, deadline, digestOf } = decodeEnvelope(input, ACTION_TYPES);
  if (primaryType === 'Execute') {
    const f: ExecuteFields = {
      to: parseAddress(message.to, 'to'),
      value: parseUint(message.value, 'value'),
      data: parseCallData(message.data),
      nonce,
      deadline,
    };
    return { kind: 'Execute', digest: digestOf(f), account, fields: f };
  }
  const f: RotateKeyFields = { newKey: parseKey(message.newKey, 'newKey'), nonce, deadline };
  return { kind: 'RotateKey', digest: digestOf({ ...f, newKey: hexlify(f.newKey) }), account, fields: f };
}

/** decodeTypedData for a request that must be an Execute. */
export function decodeExecute(input: unknown): DecodedExecute {
  const decoded = decodeTypedData(input);
  if (decoded.kind !== 'Execute') throw invalid(`expected an Execute, got ${decoded.kind}`);
  return decoded;
}

/** decodeTypedData for a request that must be a RotateKey. */
export function decodeRotateKey(input: unknown): DecodedRotateKey {
  const decoded = decodeTypedData(input);
  if (decoded.kind !== 'RotateKey') throw invalid(`expected a RotateKey, got ${decoded.kind}`);
  return decoded;
}

/** The typed data of an action of type `primaryType` with these `fields` (EIP712Domain included). */
export function accountTypedData<P extends string>(
  account: AccountRef,
  primaryType: P,
  fields: readonly TypedDataField[],
  message: Record<string, string>,
): TypedData<P> {
  return {
    types: {
      EIP712Domain: DOMAIN_FIELDS.map((f) => ({ ...f })),
      [primaryType]: fields.map((f) => ({ ...f })),
    },
    primaryType,
    domain: {
      name: DOMAIN_NAME,
      version: DOMAIN_VERSION,
      chainId: account.chainId.toString(),
      verifyingContract: account.address,
    },
    message,
  };
}

function build(account: AccountRef, primaryType: PrimaryType, message: Record<string, string>): TypedData {
  const td = accountTypedData(account, primaryType, ACTION_TYPES[primaryType], message);
  decodeTypedData(td); // the same checks a signing party will run
  return td;
}

/** Typed data of an Execute; throws INVALID_INPUT for out-of-bounds fields. */
export function executeTypedData(account: AccountRef, f: ExecuteFields): TypedData {
  return build(account, 'Execute', {
    to: f.to,
    value: f.value.toString(),
    data: f.data,
    nonce: f.nonce.toString(),
    deadline: f.deadline.toString(),
  });
}

/** Typed data of a RotateKey; throws INVALID_INPUT for out-of-bounds fields or a key the account refuses. */
export function rotateKeyTypedData(account: AccountRef, f: RotateKeyFields): TypedData {
  if (!(f.newKey instanceof Uint8Array) || f.newKey.length !== 32)
    throw invalid('newKey is not a 32-byte x-only key');
  return build(account, 'RotateKey', {
    newKey: hexlify(f.newKey),
    nonce: f.nonce.toString(),
    deadline: f.deadline.toString(),
  });
}
