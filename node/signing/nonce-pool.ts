/**
 * The coordinator's stock of preprocessed nonce commitments, per key, epoch and party, so that a signing
 * needs one round trip. Commitments are taken all-or-nothing for a signing set and never handed out twice;
 * a party that restarted has forgotten its nonces, so its stock is dropped as soon as it says so.
 */
import type { WireCommitment } from '../session/messages.ts';

/** Refill below this many per party; ask for a batch of this size. */
export const LOW_WATER = 16;
export const BATCH = 32;

export class NoncePool {
  private readonly stock = new Map<string, WireCommitment[]>();
  private readonly refilling = new Set<string>();

  private static slot(key: string, party: string): string {
    return `${key}/${party}`;
  }

  /** For every party, `count` commitments each, or nothing if any party has too few. */
  take(key: string, parties: readonly string[], count: number): Map<string, WireCommitment[]> | undefined {
    if (parties.some((p) => (this.stock.get(NoncePool.slot(key, p))?.length ?? 0) < count)) return undefined;
    return new Map(parties.map((p) => [p, this.stock.get(NoncePool.slot(key, p))!.splice(0, count)]));
  }

  add(key: string, party: string, commitments: WireCommitment[]): void {
    const slot = NoncePool.slot(key, party);
    this.stock.set(slot, [...(this.stock.get(slot) ?? []), ...commitments]);
  }

  drop(key: string, party: string): void {
    this.stock.delete(NoncePool.slot(key, party));
  }

  /** Parties whose stock for `key` is low and not already being refilled; marks them as refilling. */
  startRefill(key: string, parties: readonly string[]): string[] {
    const low = parties.filter((p) => {
      const slot = NoncePool.slot(key, p);
      return !this.refilling.has(slot) && (this.stock.get(slot)?.length ?? 0) < LOW_WATER;
    });
    for (const p of low) this.refilling.add(NoncePool.slot(key, p));
    return low;
  }

  endRefill(key: string, party: string): void {
    this.refilling.delete(NoncePool.slot(key, party));
  }
}
