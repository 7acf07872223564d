/**
 * The ECC backend bitcoinjs-lib needs (x-only point checks and tweaks for P2TR), written over @noble/curves so
 * that the project keeps one curve library. Importing this module installs it.
 */
import { initEccLib } from 'bitcoinjs-lib';
import { hasEvenY, type Point, parsePoint, parseScalar, xOnly } from '../../protocol/curve.ts';
import { tweakPoint } from '../../protocol/tweak.ts';

type EccLib = NonNullable<Parameters<typeof initEccLib>[0]>;

/** lift_x (BIP340): the even-Y point with this x coordinate, or undefined when there is none. */
function liftX(x: Uint8Array): Point | undefined {
  if (!(x instanceof Uint8Array) || x.length !== 32) return undefined;
  const compressed = new Uint8Array(33);
  compressed[0] = 0x02;
  compressed.set(x, 1);
  try {
    return parsePoint(compressed);
  } catch {
    return undefined;
  }
}

export const nobleEcc: EccLib = {
  isXOnlyPoint: (p) => liftX(p) !== undefined,
  xOnlyPointAddTweak(p, tweak) {
    const point = liftX(p);
    if (!point) return null;
    try {
      const q = tweakPoint(point, [{ evenY: true, add: parseScalar(tweak) }]);
      return { parity: hasEvenY(q) ? 0 : 1, xOnlyPubkey: xOnly(q) };
    } catch {
      // A tweak not below the order, or a sum at infinity: bitcoinjs expects null.
      return null;
    }
  },
};

// bitcoinjs checks the backend against its own vectors here.
initEccLib(nobleEcc);
