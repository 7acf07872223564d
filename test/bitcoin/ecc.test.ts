import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nobleEcc } from '../../chains/bitcoin/ecc.ts';
import { Fn, G, hasEvenY, hexToBytes, scalarToBytes, xOnly } from '../../protocol/curve.ts';

test('isXOnlyPoint accepts curve x coordinates and refuses others', () => {
  assert.equal(nobleEcc.isXOnlyPoint(xOnly(G.multiply(7n))), true);
  assert.equal(nobleEcc.isXOnlyPoint(new Uint8Array(32)), false);
  // x = p is not a field element.
  const p = hexToBytes('fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f');
  assert.equal(nobleEcc.isXOnlyPoint(p), false);
  assert.equal(nobleEcc.isXOnlyPoint(xOnly(G).subarray(1)), false);
});

test('xOnlyPointAddTweak lifts to even Y, adds t·G and reports the parity', () => {
  for (const k of [3n, 11n, 12345n]) {
    const P = G.multiply(k);
    const even = hasEvenY(P) ? P : P.negate();
    const t = 99n;
    const Q = even.add(G.multiply(t));
    const r = nobleEcc.xOnlyPointAddTweak(xOnly(P), scalarToBytes(t));
    assert.ok(r);
    assert.deepEqual(r.xOnlyPubkey, xOnly(Q));
    assert.equal(r.parity, hasEvenY(Q) ? 0 : 1);
  }
  // A tweak of n-1 on G gives infinity; a tweak of n is not a scalar.
  assert.equal(nobleEcc.xOnlyPointAddTweak(xOnly(G), scalarToBytes(Fn.ORDER - 1n)), null);
  const n = hexToBytes(Fn.ORDER.toString(16).padStart(64, '0'));
  assert.equal(nobleEcc.xOnlyPointAddTweak(xOnly(G.multiply(5n)), n), null);
});
