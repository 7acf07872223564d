/**
 * Rolling counters of one party: the requests it let through (for requests per hour) and the amounts it signed
 * (for daily limits). Amounts count once this party has signed, before its shares leave it, so requests
 * other parties refused or that never completed cost nothing. They are kept in a JSON file written atomically, so that a
 * restart does not reset a limit.
 *
 * Between the check and the signature a request's amount is reserved in memory: otherwise many requests
 * checked at once would each pass a daily limit that together they break. A reservation lapses after
 * `reservationMs` (longer than a signing session lives), and a restart drops it together with the nonces it
 * was for. Everything is keyed by request id, so a retry of the same transaction is never counted twice (it
 * moves the money once).
 */
import { FrostnetError } from '../../protocol/errors.ts';
import { readJsonFile, writeJsonFile } from '../storage/json-file.ts';
import { BITCOIN_ASSET, type Spend } from './describe.ts';
import type { Usage } from './evaluate.ts';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const COUNTERS_FILE = 'policy-counters.json';
/** Signing sessions live twice a round timeout (default 40 s); this is comfortably longer. */
export const DEFAULT_RESERVATION_MS = 10 * 60_000;

type SignedRecord = { id: string; key: string; asset: string; amount: string; at: number };
type AcceptedRecord = { id: string; key: string; at: number };
type State = { version: 1; accepted: AcceptedRecord[]; signed: SignedRecord[] };
type Reservation = { key: string; asset: string; amount: bigint; until: number };

/**
 * One counter's records in the order they were made (one key's requests, or one key's amounts of one asset):
 * the distinct ids newer than a cutoff and the sum of their amounts, kept as records come and go, so that a
 * check costs the same whatever a busy hour left behind. Records leave from the front only, so one out of
 * time order (a clock set back) stays until those before it left: counted longer, never shorter.
 */
class Window {
  private records: { id: string; at: number; amount: bigint }[] = [];
  private head = 0;
  private readonly ids = new Map<string, { amount: bigint; n: number }>();
  /** The sum of the distinct ids' amounts. */
  sum = 0n;

  add(id: string, at: number, amount = 0n): void {
    this.records.push({ id, at, amount });
    const e = this.ids.get(id);
    if (e) e.n++;
    else {
      this.ids.set(id, { amount, n: 1 });
      this.sum += amount;
    }
  }

  /** Drops the records made at or before `cutoff`. */
  expire(cutoff: number): void {
    while (this.head < this.records.length && this.records[this.head].at <= cutoff) {
      const r = this.records[this.head++];
      const e = this.ids.get(r.id)!;
      if (--e.n === 0) {
        this.ids.delete(r.id);
        this.sum -= e.amount;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  amountOf(id: string): bigint {
    return this.ids.get(id)?.amount ?? 0n;
  }

  get distinct(): number {
    return this.ids.size;
  }
}

/** The window of `name`, made empty on first use. */
const windowOf = (m: Map<string, Window>, name: string): Window => {
  let w = m.get(name);
  if (!w) m.set(name, (w = new Window()));
  return w;
};
const spentName = (key: string, asset: string) => `${key}\n${asset}`;

export class RollingCounters {
  private readonly file: string;
  private readonly clock: () => number;
  private readonly reservationMs: number;
  private state: State;
  private readonly reserved = new Map<string, Reservation>();
  /** The same records as `state`, by key (and asset): what `usage` reads. */
  private readonly requests = new Map<string, Window>();
  private readonly spent = new Map<string, Window>();
  private inFlight?: Promise<void>;
  private queued?: Promise<void>;

  private constructor(file: string, clock: () => number, reservationMs: number, state: State) {
    this.file = file;
    this.clock = clock;
    this.reservationMs = reservationMs;
    this.state = state;
    for (const a of [...state.accepted].sort((x, y) => x.at - y.at))
      windowOf(this.requests, a.key).add(a.id, a.at);
    for (const x of [...state.signed].sort((p, q) => p.at - q.at))
      windowOf(this.spent, spentName(x.key, x.asset)).add(x.id, x.at, BigInt(x.amount));
  }

  /** Key `key`'s requests of the past hour. */
  private requestsOf(key: string, now: number): Window {
    const w = windowOf(this.requests, key);
    w.expire(now - HOUR_MS);
    return w;
  }

  /** Key `key`'s signed amounts of `asset` of the past day. */
  private spentOf(key: string, asset: string, now: number): Window {
    const w = windowOf(this.spent, spentName(key, asset));
    w.expire(now - DAY_MS);
    return w;
  }

  static async open(
    file: string,
    clock: () => number,
    reservationMs = DEFAULT_RESERVATION_MS,
  ): Promise<RollingCounters> {
    const raw = await readJsonFile(file);
    return new RollingCounters(
      file,
      clock,
      reservationMs,
      raw === undefined ? empty() : parseState(raw, file),
    );
  }

  /** What this party already did for `key` (and the spend's asset), leaving request `id` itself out. */
  usage(key: string, id: string, spend: Spend | undefined): Usage {
    const now = this.clock();
    const requests = this.requestsOf(key, now);
    let spent = 0n;
    if (spend) {
      const signed = this.spentOf(key, spend.asset, now);
      spent = signed.sum - signed.amountOf(id);
      for (const [rid, r] of this.reserved)
        if (r.key === key && r.asset === spend.asset && r.until > now && rid !== id && !signed.has(rid))
          spent += r.amount;
    }
    return { requestsLastHour: requests.distinct - (requests.has(id) ? 1 : 0), spentLastDay: spent };
  }

  /** Request `id` passed the policy: it counts towards requests per hour, and its amount is reserved. */
  async accepted(key: string, id: string, spend: Spend | undefined): Promise<void> {
    const now = this.clock();
    if (spend) this.reserved.set(id, { key, ...spend, until: now + this.reservationMs });
    const requests = this.requestsOf(key, now);
    if (requests.has(id)) return;
    requests.add(id, now);
    this.state.accepted.push({ id, key, at: now });
    await this.save(now);
  }

  /** This party signed request `id` (its shares leave once this is on disk): its amount counts for a day. */
  async signed(key: string, id: string, spend: Spend | undefined): Promise<void> {
    this.reserved.delete(id);
    if (!spend) return;
    const now = this.clock();
    const signed = this.spentOf(key, spend.asset, now);
    if (signed.has(id)) return;
    signed.add(id, now, spend.amount);
    this.state.signed.push({ id, key, asset: spend.asset, amount: spend.amount.toString(), at: now });
    await this.save(now);
  }

  /**
   * Drops what no window can count any more, then writes the file. Writes are coalesced: while one is in
   * flight, every change made meanwhile goes into the single next one, so many requests share one fsync; each
   * caller's promise resolves once a write that includes its change is durable.
   */
  private save(now: number): Promise<void> {
    const dayAgo = now - DAY_MS;
    for (const [id, r] of this.reserved) if (r.until <= now) this.reserved.delete(id);
    this.state = {
      version: 1,
      accepted: this.state.accepted.filter((a) => a.at > now - HOUR_MS),
      signed: this.state.signed.filter((s) => s.at > dayAgo),
    };
    if (this.queued) return this.queued;
    if (!this.inFlight) return this.write();
    this.queued = this.inFlight
      .catch(() => {})
      .then(() => {
        this.queued = undefined;
        return this.write();
      });
    return this.queued;
  }

  private write(): Promise<void> {
    const done = writeJsonFile(this.file, this.state);
    const tracked = done.finally(() => {
      if (this.inFlight === tracked) this.inFlight = undefined;
    });
    this.inFlight = tracked;
    return done;
  }
}

const empty = (): State => ({ version: 1, accepted: [], signed: [] });

function parseState(raw: unknown, file: string): State {
  const bad = () =>
    new FrostnetError('STORE_CORRUPT', `${file} is not a policy counters file; restore it or move it away`);
  const s = raw as Partial<State>;
  if (s?.version !== 1 || !Array.isArray(s.accepted) || !Array.isArray(s.signed)) throw bad();
  const ok =
    s.accepted.every(
      (a) => typeof a?.id === 'string' && typeof a.key === 'string' && Number.isFinite(a.at),
    ) &&
    s.signed.every(
      (x) =>
        typeof x?.id === 'string' &&
        typeof x.key === 'string' &&
        typeof x.asset === 'string' &&
        typeof x.amount === 'string' &&
        /^\d+$/.test(x.amount) &&
        Number.isFinite(x.at),
    );
  if (!ok) throw bad();
  // Files from before the network was a property of the key counted Bitcoin per network label
  // ("bitcoin:mainnet"): every one of them is the key's single Bitcoin counter now.
  const signed = s.signed.map((x) =>
    x.asset.startsWith(`${BITCOIN_ASSET}:`) ? { ...x, asset: BITCOIN_ASSET } : x,
  );
  return { version: 1, accepted: s.accepted, signed };
}
