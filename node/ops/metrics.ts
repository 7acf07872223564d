/**
 * A tiny Prometheus registry: counters, gauges and histograms (fixed buckets), each with optional labels,
 * rendered in the Prometheus text exposition format 0.0.4 for a `/metrics` endpoint.
 *
 *   const m = createRegistry();
 *   const started = m.counter({ name: 'frostnet_sessions_started_total', help: '...', labelNames: ['ceremony'] });
 *   started.inc({ ceremony: 'SIGN' });
 *   res.setHeader('content-type', PROMETHEUS_CONTENT_TYPE).end(m.render());
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

export interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export interface Counter {
  /** Adds `value` (default 1, must be >= 0). */
  inc(labels?: Labels, value?: number): void;
  get(labels?: Labels): number;
}

export interface Gauge {
  set(labels: Labels | undefined, value: number): void;
  inc(labels?: Labels, value?: number): void;
  dec(labels?: Labels, value?: number): void;
  get(labels?: Labels): number;
}

export interface GaugeOptions extends MetricOptions {
  /** Called at every render to refresh the gauge (e.g. `g => g.set(undefined, host.connected().length)`). */
  collect?: (gauge: Gauge) => void;
}

export interface Histogram {
  observe(labels: Labels | undefined, value: number): void;
  /** Starts a timer; calling the returned function observes the elapsed seconds. */
  startTimer(labels?: Labels): () => number;
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, strictly increasing; +Inf is implicit. Default DEFAULT_BUCKETS (seconds). */
  buckets?: readonly number[];
}

export interface Registry {
  counter(opts: MetricOptions): Counter;
  gauge(opts: GaugeOptions): Gauge;
  histogram(opts: HistogramOptions): Histogram;
  /** All metrics in the Prometheus text format, families sorted by registration order. */
  render(): string;
}

/** Latency buckets in seconds, from 5 ms to 60 s. */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Family {
  render(): string[];
}

export function createRegistry(): Registry {
  const families = new Map<string, Family>();

  const register = <F extends Family>(opts: MetricOptions, make: (labelNames: readonly string[]) => F): F => {
    if (!METRIC_NAME.test(opts.name)) throw new TypeError(`invalid metric name ${JSON.stringify(opts.name)}`);
    if (families.has(opts.name)) throw new TypeError(`metric ${opts.name} is already registered`);
    const labelNames = opts.labelNames ?? [];
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__') || l === 'le') {
        throw new TypeError(`invalid label name ${JSON.stringify(l)} for metric ${opts.name}`);
      }
    }
    if (new Set(labelNames).size !== labelNames.length)
      throw new TypeError(`duplicate label in ${opts.name}`);
    const family = make(labelNames);
    families.set(opts.name, family);
    return family;
  };

  return {
    counter(opts) {
      return register(opts, (labelNames) => {
        const series = new SeriesMap<{ value: number }>(opts.name, labelNames);
        const counter: Counter & Family = {
          inc(labels, value = 1) {
            if (!(value >= 0) || !Number.isFinite(value)) {
              throw new TypeError(`counter ${opts.name} can only increase, got ${value}`);
            }
            series.get(labels, () => ({ value: 0 })).value += value;
          },
          get: (labels) => series.peek(labels)?.value ?? 0,
          render: () => [
            ...header(opts, 'counter'),
            ...series.entries().map(([l, s]) => sample(opts.name, l, s.value)),
          ],
        };
        return counter;
      });
    },

    gauge(opts) {
      return register(opts, (labelNames) => {
        const series = new SeriesMap<{ value: number }>(opts.name, labelNames);
        const cell = (labels: Labels | undefined) => series.get(labels, () => ({ value: 0 }));
        const gauge: Gauge & Family = {
          set(labels, value) {
            cell(labels).value = value;
          },
          inc(labels, value = 1) {
            cell(labels).value += value;
          },
          dec(labels, value = 1) {
            cell(labels).value -= value;
          },
          get: (labels) => series.peek(labels)?.value ?? 0,
          render() {
            opts.collect?.(gauge);
            return [
              ...header(opts, 'gauge'),
              ...series.entries().map(([l, s]) => sample(opts.name, l, s.value)),
            ];
          },
        };
        return gauge;
      });
    },

    histogram(opts) {
      const buckets = opts.buckets ?? DEFAULT_BUCKETS;
      if (
        buckets.length === 0 ||
        buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]))
      ) {
        throw new TypeError(`histogram ${opts.name}: buckets must be finite and strictly increasing`);
      }
      return register(opts, (labelNames) => {
        const series = new SeriesMap<{ counts: number[]; sum: number; count: number }>(opts.name, labelNames);
        const histogram: Histogram & Family = {
          observe(labels, value) {
            if (Number.isNaN(value)) throw new TypeError(`histogram ${opts.name}: NaN observation`);
            const s = series.get(labels, () => ({ counts: buckets.map(() => 0), sum: 0, count: 0 }));
            // Counts are stored per bucket and made cumulative at render time.
            const i = buckets.findIndex((b) => value <= b);
            if (i >= 0) s.counts[i]++;
            s.sum += value;
            s.count++;
          },
          startTimer(labels) {
            const start = performance.now();
            return () => {
              const seconds = (performance.now() - start) / 1000;
              histogram.observe(labels, seconds);
              return seconds;
            };
          },
          render() {
            const lines = header(opts, 'histogram');
            for (const [l, s] of series.entries()) {
              let cumulative = 0;
              buckets.forEach((b, i) => {
                cumulative += s.counts[i];
                lines.push(sample(`${opts.name}_bucket`, [...l, ['le', formatNumber(b)]], cumulative));
              });
              lines.push(sample(`${opts.name}_bucket`, [...l, ['le', '+Inf']], s.count));
              lines.push(sample(`${opts.name}_sum`, l, s.sum));
              lines.push(sample(`${opts.name}_count`, l, s.count));
            }
            return lines;
          },
        };
        return histogram;
      });
    },

    render() {
      const lines: string[] = [];
      for (const f of families.values()) lines.push(...f.render());
      return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
    },
  };
}

type LabelPairs = ReadonlyArray<readonly [string, string]>;

/** Series of one metric family keyed by their label values, in first-seen order. */
class SeriesMap<S> {
  readonly #name: string;
  readonly #labelNames: readonly string[];
  readonly #series = new Map<string, { labels: LabelPairs; state: S }>();

  constructor(name: string, labelNames: readonly string[]) {
    this.#name = name;
    this.#labelNames = labelNames;
  }

  get(labels: Labels | undefined, init: () => S): S {
    const pairs = this.#pairs(labels);
    const key = JSON.stringify(pairs);
    let entry = this.#series.get(key);
    if (entry === undefined) {
      entry = { labels: pairs, state: init() };
      this.#series.set(key, entry);
    }
    return entry.state;
  }

  peek(labels: Labels | undefined): S | undefined {
    return this.#series.get(JSON.stringify(this.#pairs(labels)))?.state;
  }

  entries(): Array<[LabelPairs, S]> {
    return [...this.#series.values()].map((e) => [e.labels, e.state]);
  }

  #pairs(labels: Labels | undefined): LabelPairs {
    const given = labels ?? {};
    const keys = Object.keys(given);
    if (keys.length !== this.#labelNames.length || keys.some((k) => !this.#labelNames.includes(k))) {
      throw new TypeError(
        `metric ${this.#name} takes labels [${this.#labelNames.join(', ')}], got [${keys.join(', ')}]`,
      );
    }
    return this.#labelNames.map((n) => [n, String(given[n])] as const);
  }
}

function header(opts: MetricOptions, type: string): string[] {
  return [`# HELP ${opts.name} ${escapeHelp(opts.help)}`, `# TYPE ${opts.name} ${type}`];
}

function sample(name: string, labels: LabelPairs, value: number): string {
  const l = labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
  return `${name}${l} ${formatNumber(value)}`;
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

const escapeHelp = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string): string =>
  s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
