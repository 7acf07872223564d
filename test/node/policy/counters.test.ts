/**
 * The rolling counters kept by key: after any sequence of checks, signatures, restarts and clock moves they
 * count what a scan of every record would count (the reference below is the scan they replaced).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { DAY_MS, HOUR_MS, RollingCounters } from '../../../node/policy/counters.ts';
import type { Spend } from '../../../node/policy/describe.ts';
import { FakeClock, withDir } from './helpers.ts';

const RESERVATION_MS = 10 * 60_000;

/** Every record, counted by scanning them all. */
class Reference {
  accepted: { id: string; key: string; at: number }[] = [];
  signed: { id: string; key: string; asset: string; amount: bigint; at: number }[] = [];
  reserved = new Map<string, { key: string; asset: string; amount: bigint; until: number }>();

  accept(key: string, id: string, spend: Spend | undefined, now: number) {
    if (spend) this.reserved.set(id, { key, ...spend, until: now + RESERVATION_MS });
    if (this.accepted.some((a) => a.key === key && a.id === id && a.at > now - HOUR_MS)) return;
    this.accepted.push({ id, key, at: now });
  }

  sign(key: string, id: string, spend: Spend | undefined, now: number) {
    this.reserved.delete(id);
    if (!spend) return;
    if (this.signed.some((s) => s.key === key && s.id === id && s.at > now - DAY_MS)) return;
    this.signed.push({ id, key, ...spend, at: now });
  }

  usage(key: string, id: string, spend: Spend | undefined, now: number) {
    const requests = new Set(
      this.accepted.filter((a) => a.key === key && a.at > now - HOUR_MS && a.id !== id).map((a) => a.id),
    );
    let spent = 0n;
    if (spend) {
      const counted = new Set<string>();
      for (const s of this.signed)
        if (
          s.key === key &&
          s.asset === spend.asset &&
          s.at > now - DAY_MS &&
          s.id !== id &&
          !counted.has(s.id)
        ) {
          counted.add(s.id);
          spent += s.amount;
        }
      for (const [rid, r] of this.reserved)
        if (r.key === key && r.asset === spend.asset && r.until > now && rid !== id && !counted.has(rid))
          spent += r.amount;
    }
    return { requestsLastHour: requests.size, spentLastDay: spent };
  }
}

/** A small deterministic generator, so that a failure replays. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

test('counted by key as a scan of every record counts, through restarts and a moving clock', async () => {
  for (const seed of [1, 2, 3, 4]) {
    await withDir(async (dir) => {
      const next = rng(seed);
      const clock = new FakeClock();
      const file = join(dir, 'policy-counters.json');
      let c = await RollingCounters.open(file, clock.read, RESERVATION_MS);
      const ref = new Reference();
      const keys = ['a', 'b'];
      // Amounts fixed by id, as a request's id fixes what it spends.
      const spendOf = (id: number): Spend | undefined =>
        id % 4 === 0 ? undefined : { asset: id % 2 ? 'bitcoin' : 'evm:1', amount: BigInt(id * 1000) };
      for (let step = 0; step < 600; step++) {
        const key = keys[next(2)];
        const n = next(40);
        const id = `${key}${n}`;
        const spend = spendOf(n);
        const op = next(20);
        if (op < 8) {
          await c.accepted(key, id, spend);
          ref.accept(key, id, spend, clock.now);
        } else if (op < 14) {
          await c.signed(key, id, spend);
          ref.sign(key, id, spend, clock.now);
        } else if (op < 18) clock.advance([1, 60, 600, 3000, 20_000][next(5)]);
        else if (op === 18) {
          c = await RollingCounters.open(file, clock.read, RESERVATION_MS);
          ref.reserved.clear(); // a restart drops the reservations with the nonces they were for
        }
        assert.deepEqual(
          c.usage(key, id, spend),
          ref.usage(key, id, spend, clock.now),
          `seed ${seed}, step ${step}: ${key} ${id}`,
        );
      }
    });
  }
});
