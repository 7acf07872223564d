/**
 * Rolling counters of one party: the requests it let through (for requests per hour) and the amounts it signed
 * (for daily limits). Amounts count only once this party has released its shares, so requests other parties
 * refused or that never completed cost nothing. They are kept in a JSON file written atomically, so that a
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

export class RollingCounters {
  private readonly file: string;
  private readonly clock: () => number;
  private readonly reservationMs: number;
  private state: State;
  private readonly reserved = new Map<string, Reservation>();
  private inFlight?: Promise<void>;
  private queued?: Promise<void>;

  private constructor(file: string, clock: () => number, reservationMs: number, state: State) {
    this.file = file;
    this.clock = clock;
    this.reservationMs = reservationMs;
    this.state = state;
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
    const hourAgo = now - HOUR_MS;
    const dayAgo = now - DAY_MS;
    const requests = new Set(
      this.state.accepted.filter((a) => a.key === key && a.at > hourAgo && a.id !== id).map((a) => a.id),
    );
    let spent = 0n;
    if (spend) {
      const counted = new Set<string>();
      for (const s of this.state.signed)
        if (s.key === key && s.asset === spend.asset && s.at > dayAgo && s.id !== id && !counted.has(s.id)) {
          counted.add(s.id);
          spent += BigInt(s.amount);
        }
      for (const [rid, r] of this.reserved)
        if (r.key === key && r.asset === spend.asset && r.until > now && rid !== id && !counted.has(rid))
          spent += r.amount;
    }
    return { requestsLastHour: requests.size, spentLastDay: spent };
  }

  /** Request `id` passed the policy: it counts towards requests per hour, and its amount is reserved. */
  async accepted(key: string, id: string, spend: Spend | undefined): Promise<void> {
    const now = this.clock();
    if (spend) this.reserved.set(id, { key, ...spend, until: now + this.reservationMs });
    if (this.state.accepted.some((a) => a.key === key && a.id === id && a.at > now - HOUR_MS)) return;
    this.state.accepted.push({ id, key, at: now });
    await this.save(now);
  }

  /** This party released its shares for request `id`: its amount counts for a day. */
  async signed(key: string, id: string, spend: Spend | undefined): Promise<void> {
    this.reserved.delete(id);
    if (!spend) return;
    const now = this.clock();
    if (this.state.signed.some((s) => s.key === key && s.id === id && s.at > now - DAY_MS)) return;
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
