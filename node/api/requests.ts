/**
 * Long-running work started through the control API (DKG, signing, refresh, reshare, repair): each gets an id
 * whose state can be read, or waited for, until it ends. Finished requests are kept for a while so a client can
 * fetch them.
 *
 * Two states are waits, not failures: `awaiting-approval` (a custody proposal that parties hold for their
 * operators: who holds it and why) and `settling` (this party confirmed a new epoch and gathers the others'
 * signed confirmations). A request moves on from either by itself.
 */
import { randomBytes } from 'node:crypto';
import { FrostnetError, toFrostnetError } from '../../protocol/errors.ts';
import type { HeldRequest } from '../signing/held.ts';
import type { PeerNames } from '../transport/peer-names.ts';

export type RequestState = 'running' | 'awaiting-approval' | 'settling' | 'done' | 'failed';
export type RequestView = {
  id: string;
  kind: string;
  state: RequestState;
  startedAt: string;
  endedAt?: string;
  progress: string[];
  /**
   * While awaiting approval: the request's id in the holders' queues (and, for a custody proposal, `proposal`),
   * who holds it and why, and the approvals in hand.
   */
  held?: HeldRequest;
  /** While settling: the parties whose signed confirmations are still missing. */
  settling?: { missing: string[] };
  result?: unknown;
  error?: { code: string; message: string; culprits: string[] };
  /**
   * What was asked, for a request that may be asked again as is: the key and, for an EVM action, its typed
   * data (whose deadline and nonce a second ask must keep to be the same request).
   */
  asked?: { key: string; typedData?: string; account?: number };
  /**
   * The name this party's config gives each party the view mentions (holders, approvals, refusals, missing
   * confirmations, culprits), by peer id: "self", the configured name, or a short id. The messages, reasons
   * and progress lines already use these names; the id fields stay peer ids.
   */
  names?: Record<string, string>;
};

/** What running work reports beside its progress lines. */
export type RequestReport = {
  held: (h: HeldRequest | undefined) => void;
  settling: (missing: string[] | undefined) => void;
};

const KEEP_FINISHED = 1000;

type Item = { view: RequestView; done: Promise<void>; changed: () => Promise<void>; same?: string };

export class Requests {
  private readonly items = new Map<string, Item>();
  /** The latest request of each `same` name: no scan of every kept request at each start. */
  private readonly bySame = new Map<string, Item>();
  /** Ids of finished requests, oldest end first: pruning drops from the front. */
  private readonly finished = new Set<string>();
  private unfinished = 0;
  private readonly maxRunning: number;
  private readonly names?: PeerNames;
  private readonly clock: () => number;

  /**
   * With `names`, the parties in messages, reasons and progress lines are called by name (see RequestView).
   * `clock` (milliseconds since the epoch, default Date.now) dates each request's start and end.
   */
  constructor(maxRunning: number, o: { names?: PeerNames; clock?: () => number } = {}) {
    this.maxRunning = maxRunning;
    this.names = o.names;
    this.clock = o.clock ?? Date.now;
  }

  get running(): number {
    return this.unfinished;
  }

  /**
   * Starts `work`; refuses with CONFLICT when too many requests are already running. `same` names what the
   * request asks for (the same key and decoded content give the same name): while a request of that name is
   * running, waiting or done, asking again answers that request instead of starting another.
   */
  start(
    kind: string,
    work: (progress: (line: string) => void, report: RequestReport) => Promise<unknown>,
    same?: string,
    asked?: RequestView['asked'],
  ): RequestView {
    if (same !== undefined) {
      const earlier = this.bySame.get(same);
      if (earlier && earlier.view.state !== 'failed') return earlier.view;
    }
    if (this.running >= this.maxRunning)
      throw new FrostnetError(
        'CONFLICT',
        `too many requests running (${this.maxRunning}); try again shortly`,
      );
    const view: RequestView = {
      id: randomBytes(12).toString('hex'),
      kind,
      state: 'running',
      startedAt: new Date(this.clock()).toISOString(),
      progress: [],
      ...(asked && { asked }),
    };
    // Long polls wait for the next change; every change wakes them and arms the next one.
    let wake!: () => void;
    let next = new Promise<void>((r) => (wake = r));
    const touch = () => {
      const w = wake;
      next = new Promise<void>((r) => (wake = r));
      w();
    };
    const report: RequestReport = {
      held: (raw) => {
        const h = raw && this.namedHeld(raw);
        // Asked again and held as before is no change: long polls wake only when something moved (the
        // attempts ask parties by liveness, so the same holders may come in another order).
        if (h && view.state === 'awaiting-approval' && view.held && sameHold(h, view.held)) return;
        view.held = h;
        view.state = h ? 'awaiting-approval' : 'running';
        this.nameParties(view);
        touch();
      },
      settling: (missing) => {
        view.settling = missing && { missing };
        view.state = missing ? 'settling' : 'running';
        this.nameParties(view);
        touch();
      },
    };
    const progress = (line: string) => {
      view.progress.push(this.names ? this.names.named(line) : line);
      touch();
    };
    const done = work(progress, report).then(
      (result) => {
        view.state = 'done';
        view.result = result;
      },
      (e) => {
        const err = toFrostnetError(e).toJSON();
        view.state = 'failed';
        view.error = this.names ? { ...err, message: this.names.named(err.message) } : err;
      },
    );
    void done.finally(() => {
      view.endedAt = new Date(this.clock()).toISOString();
      view.held = undefined;
      view.settling = undefined;
      this.nameParties(view);
      this.unfinished--;
      this.finished.add(view.id);
      touch();
      this.prune();
    });
    const item: Item = { view, done, changed: () => next, same };
    this.items.set(view.id, item);
    this.unfinished++;
    if (same !== undefined) this.bySame.set(same, item);
    return view;
  }

  /**
   * The request's view, after waiting up to `waitMs` for it to end or, with `untilChange`, for its next change
   * (a progress line, a hold, settling).
   */
  async get(id: string, waitMs = 0, untilChange = false): Promise<RequestView | undefined> {
    const item = this.items.get(id);
    if (!item) return undefined;
    if (waitMs > 0 && !isFinal(item.view)) {
      let timer: NodeJS.Timeout | undefined;
      const wakeUp = untilChange ? item.changed() : item.done;
      await Promise.race([wakeUp, new Promise((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
    }
    return item.view;
  }

  /** Every request kept, newest first; with `key`, only those that asked for that key. */
  list(key?: string): RequestView[] {
    return [...this.items.values()]
      .map((i) => i.view)
      .filter((v) => key === undefined || v.asked?.key === key)
      .reverse();
  }

  /** The holders' and refusers' reasons with the parties called by name. */
  private namedHeld(h: HeldRequest): HeldRequest {
    const n = this.names;
    if (!n) return h;
    return {
      ...h,
      holders: h.holders.map((x) => ({ ...x, reason: n.named(x.reason) })),
      ...(h.refused && { refused: h.refused.map((x) => ({ ...x, reason: n.named(x.reason) })) }),
    };
  }

  /** Sets the view's `names`: every party its held state, settling state or error mentions. */
  private nameParties(view: RequestView): void {
    if (!this.names) return;
    const ids = new Set<string>([
      ...(view.held?.holders.map((x) => x.party) ?? []),
      ...(view.held?.approvals ?? []),
      ...(view.held?.refused?.map((x) => x.party) ?? []),
      ...(view.settling?.missing ?? []),
      ...(view.error?.culprits ?? []),
    ]);
    if (ids.size > 0) view.names = this.names.labels(ids);
    else delete view.names;
  }

  /** Keeps the KEEP_FINISHED requests that ended last (and every unfinished one). */
  private prune(): void {
    for (const id of this.finished) {
      if (this.finished.size <= KEEP_FINISHED) break;
      this.finished.delete(id);
      const item = this.items.get(id);
      this.items.delete(id);
      if (item?.same !== undefined && this.bySame.get(item.same) === item) this.bySame.delete(item.same);
    }
  }
}

const isFinal = (v: RequestView) => v.state === 'done' || v.state === 'failed';

/** The same hold, whatever the order of its holders, approvals and refusals. */
function sameHold(a: HeldRequest, b: HeldRequest): boolean {
  const canon = (h: HeldRequest) => {
    const sorted = <T>(xs: readonly T[]) => xs.map((x) => JSON.stringify(x)).sort();
    return JSON.stringify({
      ...h,
      holders: sorted(h.holders),
      approvals: sorted(h.approvals),
      refused: sorted(h.refused ?? []),
    });
  };
  return canon(a) === canon(b);
}
