/**
 * The curve backend's building blocks against @noble/curves' own arithmetic: decompression, small multiples,
 * Horner evaluation of commitments and their evaluation at many identifiers by finite differences.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import { evalCommitment, evalCommitmentAt, Fn, G, Point, parsePoint } from '../../protocol/curve.ts';
import { decompress, msm, mul, mulBase, mulSmall } from '../../protocol/ecc.ts';

const point = (k: bigint) => G.multiply(k);

describe('curve backend', () => {
  test('decompress matches noble and refuses what is not a point', () => {
    for (let i = 1n; i < 40n; i++) {
      const p = point(i * 0x1234567n);
      assert.ok(decompress(p.toBytes(true)).equals(Point.fromBytes(p.toBytes(true))));
    }
    for (const bad of [
      new Uint8Array(33),
      Uint8Array.of(2, ...new Uint8Array(32).fill(0xff)),
      Uint8Array.of(4),
    ])
      assert.throws(() => parsePoint(bad), { code: 'INVALID_INPUT' });
  });

  test('mulSmall, mul, mulBase and msm agree with noble', () => {
    const p = point(987654321n);
    for (let n = 0; n < 260; n++)
      assert.ok(mulSmall(p, n).equals(n === 0 ? Point.ZERO : p.multiply(BigInt(n))));
    const k = Fn.create(0xfedcba9876543210fedcba9876543210fedcba98765432n);
    assert.ok(mul(p, k).equals(p.multiply(k)));
    assert.ok(mulBase(k).equals(G.multiply(k)));
    const ps = [1n, 2n, 3n].map((i) => point(i * 77n));
    const ss = [k, 1n, 0n];
    assert.ok(msm(ps, ss).equals(mulAddUnsafe(Point, ps, ss)));
  });

  test('commitments evaluate the same by Horner, by finite differences and by an MSM of the powers', () => {
    for (const [t, n] of [
      [2, 3],
      [5, 9],
      [11, 15],
      [25, 40],
    ]) {
      const commitment = Array.from({ length: t }, (_, i) => point(BigInt(i + 5) * 3331n));
      const xs = Array.from({ length: n }, (_, i) => BigInt(i + 1));
      const byPowers = (x: bigint) => {
        const powers = commitment.map((_, k) => Fn.pow(x, BigInt(k)));
        return mulAddUnsafe(Point, commitment, powers);
      };
      const all = evalCommitmentAt(commitment, xs);
      xs.forEach((x, i) => {
        assert.ok(evalCommitment(commitment, x).equals(byPowers(x)), `Horner at ${x}`);
        assert.ok(all[i].equals(byPowers(x)), `differences at ${x}`);
      });
      const scattered = [7n, 2n, BigInt(3 * n), 1n << 40n];
      for (const [i, p] of evalCommitmentAt(commitment, scattered).entries())
        assert.ok(p.equals(byPowers(scattered[i])));
      // A commitment without its constant term (refresh): powers 1..t.
      const x = 9n;
      const shifted = mulAddUnsafe(
        Point,
        commitment,
        commitment.map((_, k) => Fn.pow(x, BigInt(k + 1))),
      );
      assert.ok(evalCommitment(commitment, x, 1).equals(shifted));
    }
  });
});
