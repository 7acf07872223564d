/**
 * A bounded memo for pure functions of public data (a group commitment, a tweaked key): the same inputs give
 * the same value, so a party that needs it twice (the coordinator signs its own share, then aggregates)
 * computes it once. The oldest entry goes when the memo is full.
 */
export class Memo<V> {
  private readonly entries = new Map<string, V>();
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get(key: string, make: () => V): V {
    const hit = this.entries.get(key);
    if (hit !== undefined) return hit;
    const value = make();
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, value);
    return value;
  }
}
