/**
 * The Bip340 library on a real EVM: exactly the BIP340 vectors with 32-byte messages, and random signatures
 * from an independent implementation (@noble/curves).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { schnorr } from '@noble/curves/secp256k1.js';
import { Contract, ContractFactory, concat, hexlify, JsonRpcProvider, toBeHex } from 'ethers';
import { encodeSignature } from '../../chains/evm/account.ts';
import { compiledContract } from '../../chains/evm/compile.ts';
import { Fn } from '../../protocol/curve.ts';
import { type Anvil, startAnvil } from '../helpers/anvil.ts';

const FIELD = schnorr.Point.Fp.ORDER;

type Vector = {
  index: string;
  px: string;
  message: string;
  signature: string;
  valid: boolean;
  comment: string;
};

const vectors: Vector[] = readFileSync(
  new URL('../vectors/bip-0340_test-vectors.csv', import.meta.url),
  'utf8',
)
  .trim()
  .split('\n')
  .slice(1)
  .map((line) => {
    const [index, , px, , message, signature, result, comment] = line.split(',');
    return { index, px, message, signature, valid: result === 'TRUE', comment };
  })
  .filter((v) => v.message.length === 64);

/** The even and the odd y of the point with x = rx, or two non-roots when there is no such point. */
function hintCandidates(rx: bigint): { even: bigint; odd: bigint } {
  try {
    const { y } = schnorr.utils.lift_x(rx);
    return { even: y, odd: FIELD - y };
  } catch {
    return { even: 0n, odd: 1n };
  }
}

const hex32 = (n: bigint) => toBeHex(n, 32);

describe('Bip340 verifier library', () => {
  let anvil: Anvil;
  let provider: JsonRpcProvider;
  let harness: Contract;

  before(async () => {
    anvil = await startAnvil();
    provider = new JsonRpcProvider(anvil.rpcUrl, undefined, { cacheTimeout: -1 });
    const { abi, bytecode } = compiledContract('Bip340Harness');
    const deployed = await new ContractFactory(abi, bytecode, await provider.getSigner(0)).deploy();
    await deployed.waitForDeployment();
    harness = new Contract(await deployed.getAddress(), abi, provider);
  });

  after(async () => {
    provider?.destroy();
    await anvil?.stop();
  });

  test('the copied file holds the 32-byte-message vectors, valid and invalid', () => {
    assert.equal(vectors.length, 15);
    assert.ok(vectors.some((v) => v.valid) && vectors.some((v) => !v.valid));
  });

  test('accepts each valid vector with the even-y hint and nothing else; rejects each invalid one with any hint', async () => {
    for (const v of vectors) {
      const sig = `0x${v.signature}`;
      const { even, odd } = hintCandidates(BigInt(sig.slice(0, 66)));
      const withHint = (ry: bigint) =>
        harness.verify(`0x${v.px}`, `0x${v.message}`, concat([sig, hex32(ry)]));
      assert.equal(await withHint(even), v.valid, `vector ${v.index} (${v.comment || 'valid'}), even y`);
      assert.equal(await withHint(odd), false, `vector ${v.index}, odd y`);
    }
  });

  test('keys: valid exactly when on the curve and below the group order', async () => {
    for (const px of new Set(vectors.map((v) => BigInt(`0x${v.px}`)))) {
      let onCurve = true;
      try {
        schnorr.utils.lift_x(px);
      } catch {
        onCurve = false;
      }
      assert.equal(await harness.isValidKey(px), onCurve && px < Fn.ORDER, `key ${hex32(px)}`);
    }
    assert.equal(await harness.isValidKey(0n), false);
  });

  test('random signatures by an independent signer verify; any changed byte fails', async () => {
    for (let i = 0; i < 24; i++) {
      const secret = schnorr.utils.randomSecretKey();
      const px = BigInt(hexlify(schnorr.getPublicKey(secret)));
      const message = randomBytes(32);
      const sig = schnorr.sign(message, secret, randomBytes(32));
      const encoded = encodeSignature(sig);
      assert.equal(await harness.verify(px, message, encoded), true, `signature ${i}`);
      const wrongMessage = Uint8Array.from(message);
      wrongMessage[i % 32] ^= 1;
      assert.equal(await harness.verify(px, wrongMessage, encoded), false, `signature ${i}, other message`);
      const wrongS = Uint8Array.from(sig);
      wrongS[32 + (i % 32)] ^= 1;
      assert.equal(
        await harness.verify(px, message, encodeSignature(wrongS)),
        false,
        `signature ${i}, other s`,
      );
      assert.equal(
        await harness.verify(px, message, hexlify(sig)),
        false,
        `signature ${i}, without the hint`,
      );
    }
  });
});
