/** EIP-712 typed data: a signing party accepts exactly our two actions, in bounds, and hashes them itself. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { AbiCoder, concat, getBytes, hexlify, keccak256, toBeHex, toUtf8Bytes } from 'ethers';
import {
  decodeExecute,
  decodeRotateKey,
  decodeTypedData,
  executeTypedData,
  MAX_CALL_DATA_BYTES,
  rotateKeyTypedData,
  type TypedData,
} from '../../chains/evm/typed-data.ts';
import { Fn } from '../../protocol/curve.ts';
import { FrostnetError } from '../../protocol/errors.ts';

const account = { chainId: 31337n, address: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
const fields = {
  to: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  value: 10n ** 15n,
  data: '0xa9059cbb',
  nonce: 4n,
  deadline: 1_900_000_000n,
};
const execute = () => executeTypedData(account, fields);
type Json = Record<string, unknown>;
type Mangled = Json & { types: Record<string, Json[]>; domain: Json; message: Json };
/** A deep copy that a test may mangle. */
const copy = (td: TypedData): Mangled => JSON.parse(JSON.stringify(td));
const invalid = (e: unknown) => e instanceof FrostnetError && e.code === 'INVALID_INPUT';

// The EIP-712 digest spelled out from the specification, as the contract computes it.
function specDigest(f: typeof fields, a = account): string {
  const abi = AbiCoder.defaultAbiCoder();
  const hash = (s: string) => keccak256(toUtf8Bytes(s));
  const domain = keccak256(
    abi.encode(
      ['bytes32', 'bytes32', 'bytes32', 'uint256', 'address'],
      [
        hash('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'),
        hash('Frostnet Threshold Account'),
        hash('1'),
        a.chainId,
        a.address,
      ],
    ),
  );
  const struct = keccak256(
    abi.encode(
      ['bytes32', 'address', 'uint256', 'bytes32', 'uint256', 'uint256'],
      [
        hash('Execute(address to,uint256 value,bytes data,uint256 nonce,uint256 deadline)'),
        f.to,
        f.value,
        keccak256(f.data),
        f.nonce,
        f.deadline,
      ],
    ),
  );
  return keccak256(concat(['0x1901', domain, struct]));
}

test('an Execute survives JSON and decodes to its fields and the digest the specification gives', () => {
  const decoded = decodeExecute(JSON.parse(JSON.stringify(execute())));
  assert.equal(decoded.kind, 'Execute');
  assert.deepEqual(decoded.account, account);
  assert.deepEqual(decoded.fields, fields);
  assert.equal(hexlify(decoded.digest), specDigest(fields));
});

test('every field, the chain and the account change the digest', () => {
  const base = hexlify(decodeExecute(execute()).digest);
  const variants = [
    executeTypedData({ ...account, chainId: 1n }, fields),
    executeTypedData({ ...account, address: fields.to }, fields),
    executeTypedData(account, { ...fields, to: account.address }),
    executeTypedData(account, { ...fields, value: fields.value + 1n }),
    executeTypedData(account, { ...fields, data: '0xa9059cbc' }),
    executeTypedData(account, { ...fields, nonce: fields.nonce + 1n }),
    executeTypedData(account, { ...fields, deadline: fields.deadline + 1n }),
  ];
  const digests = variants.map((td) => hexlify(decodeExecute(td).digest));
  assert.equal(new Set([base, ...digests]).size, variants.length + 1);
});

test('numbers may come as decimal or hex strings, safe integers or bigints, with one digest', () => {
  const base = hexlify(decodeExecute(execute()).digest);
  for (const nonce of ['4', '0x4', 4, 4n]) {
    const td = copy(execute());
    td.message.nonce = nonce;
    assert.equal(hexlify(decodeExecute(td).digest), base);
  }
});

test('EIP712Domain may be left out of types, as ethers leaves it out', () => {
  const td = copy(execute());
  delete td.types.EIP712Domain;
  assert.equal(hexlify(decodeExecute(td).digest), hexlify(decodeExecute(execute()).digest));
});

test('typed data that is not exactly ours is refused', () => {
  const mutations: [string, (td: Mangled) => void][] = [
    ['extra top-level field', (td) => (td.extra = 1)],
    ['other primary type', (td) => (td.primaryType = 'Permit')],
    ['extra type', (td) => (td.types.Call = [{ name: 'x', type: 'uint256' }])],
    ['field type changed', (td) => (td.types.Execute[1].type = 'uint128')],
    ['field renamed', (td) => (td.types.Execute[0].name = 'target')],
    ['field order changed', (td) => td.types.Execute.reverse()],
    ['field dropped from type', (td) => td.types.Execute.pop()],
    ['domain type changed', (td) => td.types.EIP712Domain.pop()],
    ['domain name', (td) => (td.domain.name = 'Safe')],
    ['domain version', (td) => (td.domain.version = '2')],
    ['domain salt', (td) => (td.domain.salt = toBeHex(1n, 32))],
    ['chain id zero', (td) => (td.domain.chainId = '0')],
    [
      'bad checksum',
      (td) => (td.domain.verifyingContract = String(td.domain.verifyingContract).replace('F', 'f')),
    ],
    ['short address', (td) => (td.message.to = '0x1234')],
    ['extra message field', (td) => (td.message.gas = '1')],
    ['missing message field', (td) => delete td.message.deadline],
    ['value of 2^256', (td) => (td.message.value = (1n << 256n).toString())],
    ['negative value', (td) => (td.message.value = '-1')],
    ['fractional value', (td) => (td.message.value = '1.5')],
    ['exponent value', (td) => (td.message.value = '1e18')],
    ['unsafe number', (td) => (td.message.nonce = 2 ** 53)],
    ['leading zero', (td) => (td.message.nonce = '04')],
    ['data not hex', (td) => (td.message.data = 'a9059cbb')],
    ['data odd length', (td) => (td.message.data = '0xa9059cb')],
    ['data too long', (td) => (td.message.data = `0x${'00'.repeat(MAX_CALL_DATA_BYTES + 1)}`)],
    ['message is an array', (td) => ((td as Json).message = [])],
  ];
  for (const [what, mutate] of mutations) {
    const td = copy(execute());
    mutate(td);
    assert.throws(() => decodeTypedData(td), invalid, what);
  }
  assert.throws(() => decodeTypedData(null), invalid);
  assert.throws(() => decodeTypedData('{}'), invalid);
  assert.throws(() => executeTypedData(account, { ...fields, value: -1n }), invalid);
});

test('a RotateKey carries a key the account accepts; decoders insist on the kind they expect', () => {
  const newKey = schnorr.getPublicKey(schnorr.utils.randomSecretKey());
  const td = rotateKeyTypedData(account, { newKey, nonce: 5n, deadline: fields.deadline });
  const decoded = decodeRotateKey(JSON.parse(JSON.stringify(td)));
  assert.deepEqual(decoded.fields, { newKey, nonce: 5n, deadline: fields.deadline });
  assert.notEqual(hexlify(decoded.digest), hexlify(decodeExecute(execute()).digest));
  assert.throws(() => decodeExecute(td), invalid);
  assert.throws(() => decodeRotateKey(execute()), invalid);

  let offCurve = 5n; // 5^3 + 7 = 132 is not a square mod p; searched rather than assumed
  for (; ; offCurve++) {
    try {
      schnorr.utils.lift_x(offCurve);
    } catch {
      break;
    }
  }
  for (const bad of [
    getBytes(toBeHex(offCurve, 32)),
    getBytes(toBeHex(Fn.ORDER + 1n, 32)),
    new Uint8Array(33),
  ])
    assert.throws(() => rotateKeyTypedData(account, { newKey: bad, nonce: 5n, deadline: 1n }), invalid);
});
