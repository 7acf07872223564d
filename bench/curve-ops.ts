/**
 * The hot secp256k1 operations timed on both backends, side by side in one run: @noble/curves (bigint
 * arithmetic, its own MSMs and precomputed base tables) and libsecp256k1 compiled to WebAssembly
 * (tiny-secp256k1). protocol/ecc.ts picks one per operation by these figures; `node bench/curve-ops.ts` prints
 * them (not part of `npm run bench`, whose rows measure the whole protocol).
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { mulAddUnsafe, pippenger } from '@noble/curves/abstract/curve.js';
import { schnorr } from '@noble/curves/secp256k1.js';
import * as wasm from 'tiny-secp256k1';
import { Fn, G, Point } from '../protocol/curve.ts';
import { decompress, mul, mulBase, mulSmall, uncompressed } from '../protocol/ecc.ts';

/** Mean µs per call over at least `ms` milliseconds, after a few warm-up calls. */
export function microseconds(fn: () => unknown, ms = 400): number {
  for (let i = 0; i < 5; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    fn();
    n++;
    t = performance.now();
  }
  return ((t - t0) / n) * 1000;
}

const scalar = () => Fn.fromBytes(schnorr.utils.randomSecretKey());

export type OpRow = { operation: string; noble: number; wasm?: number; chosen: 'noble' | 'wasm' };

export function measureCurveOps(): OpRow[] {
  const points = Array.from({ length: 200 }, () => G.multiply(scalar()));
  const compressed = points.map((p) => p.toBytes(true));
  const k = scalar();
  const P = points[0];
  const Pu = uncompressed(P);
  let i = 0;
  const rows: OpRow[] = [];
  const add = (operation: string, noble: () => unknown, viaWasm?: () => unknown) => {
    const n = microseconds(noble);
    const w = viaWasm ? microseconds(viaWasm) : undefined;
    rows.push({ operation, noble: n, wasm: w, chosen: w !== undefined && w < n ? 'wasm' : 'noble' });
  };
  add(
    'decompress a 33-byte point',
    () => Point.fromBytes(compressed[i++ % 200]),
    () => decompress(compressed[i++ % 200]),
  );
  add(
    'k·G, constant time (nonce commitments, shares)',
    () => G.multiply(k),
    () => mulBase(k),
  );
  add(
    'k·G, public k (noble: variable time, precomputed table)',
    () => G.multiplyUnsafe(k),
    () => mulBase(k),
  );
  add(
    'k·P, constant time',
    () => P.multiply(k),
    () => mul(P, k),
  );
  add(
    'k·P, public k (noble: variable time, wNAF + GLV)',
    () => P.multiplyUnsafe(k),
    () => mul(P, k),
  );
  add(
    'P + Q',
    () => P.add(points[1]),
    () => wasm.pointAdd(Pu, uncompressed(points[1]), false),
  );
  add('50·P (a small multiple: Horner step of a commitment)', () => mulSmall(P, 50));
  for (const L of [3, 11, 67]) {
    const ps = points.slice(0, L);
    const ss = ps.map(() => scalar());
    const viaWasm = () => ps.reduce((acc, p, j) => acc.add(mul(p, ss[j])), Point.ZERO);
    add(`MSM of ${L} points (noble: interleaved wNAF)`, () => mulAddUnsafe(Point, ps, ss), viaWasm);
    add(`MSM of ${L} points (noble: Pippenger)`, () => pippenger(Point, ps, ss), viaWasm);
  }
  const message = new Uint8Array(32).fill(7);
  const secret = schnorr.utils.randomSecretKey();
  const sig = schnorr.sign(message, secret);
  const pub = schnorr.getPublicKey(secret);
  add(
    'BIP340 verification',
    () => schnorr.verify(sig, message, pub),
    () => wasm.verifySchnorr(message, pub, sig),
  );
  return rows;
}

if (import.meta.main) {
  const load = os.loadavg()[0];
  const rows = measureCurveOps();
  const w = Math.max(...rows.map((r) => r.operation.length));
  console.log(`1-minute load average ${load.toFixed(2)} at the start; µs per call`);
  console.log(`${'operation'.padEnd(w)}  ${'noble'.padStart(8)}  ${'wasm'.padStart(8)}  chosen`);
  for (const r of rows)
    console.log(
      `${r.operation.padEnd(w)}  ${r.noble.toFixed(1).padStart(8)}  ${(r.wasm?.toFixed(1) ?? '').padStart(8)}  ${r.wasm === undefined ? '' : r.chosen}`,
    );
}
