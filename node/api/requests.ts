/**
 * Long-running work started through the control API (DKG, signing, refresh): each gets an id whose state can
 * be read, or waited for, until it ends. Finished requests are kept for a while so a client can fetch them.
 */
import { randomBytes } from 'node:crypto';
import { FrostnetError, isFrostnetError } from '../../protocol/errors.ts';

export type RequestState = 'running' | 'done' | 'failed';
export type RequestView = {
  id: string;
  kind: string;
  state: RequestState;
  startedAt: string;
  endedAt?: string;
  progress: string[];
  result?: unknown;
  error?: { code: string; message: string; culprits: string[] };
};

const KEEP_FINISHED = 1000;

export class Requests {
  private readonly items = new Map<string, { view: RequestView; done: Promise<void> }>();
  private readonly maxRunning: number;

  constructor(maxRunning: number) {
    this.maxRunning = maxRunning;
  }

  get running(): number {
    let n = 0;
    for (const { view } of this.items.values()) if (view.state === 'running') n++;
    return n;
  }

  /** Starts `work`; refuses with CONFLICT when too many requests are already running. */
  start(kind: string, work: (progress: (line: string) => void) => Promise<unknown>): RequestView {
    if (this.running >= this.maxRunning)
      throw new FrostnetError(
        'CONFLICT',
        `too many requests running (${this.maxRunning}); try again shortly`,
      );
    const view: RequestView = {
      id: randomBytes(12).toString('hex'),
      kind,
      state: 'running',
      startedAt: new Date().toISOString(),
      progress: [],
    };
    const done = work((line) => view.progress.push(line)).then(
      (result) => {
        view.state = 'done';
        view.result = result;
      },
      (e) => {
        const err = isFrostnetError(e) ? e : new FrostnetError('INTERNAL', (e as Error).message);
        view.state = 'failed';
        view.error = err.toJSON();
      },
    );
    void done.finally(() => {
      view.endedAt = new Date().toISOString();
      this.prune();
    });
    this.items.set(view.id, { view, done });
    return view;
  }

  /** The request's view, after waiting up to `waitMs` for it to end. */
  async get(id: string, waitMs = 0): Promise<RequestView | undefined> {
    const item = this.items.get(id);
    if (!item) return undefined;
    if (waitMs > 0 && item.view.state === 'running') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([item.done, new Promise((r) => (timer = setTimeout(r, waitMs)))]);
      clearTimeout(timer);
    }
    return item.view;
  }

  private prune(): void {
    const finished = [...this.items.values()].filter((i) => i.view.state !== 'running');
    for (const i of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED)))
      this.items.delete(i.view.id);
  }
}
