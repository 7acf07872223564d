/** The benchmark's one table (markdown, so docs/performance.md can hold it verbatim) and its JSON twin. */
import { round } from './stats.ts';

export type Row = {
  section: string;
  measure: string;
  value: number;
  unit: string;
  /** What the figure is compared with: measured in the same run unless its label says "reference". */
  baseline?: { label: string; value: number; unit: string };
  /** value / baseline.value */
  ratio?: number;
  /** Mean CPU ms per operation of the processes doing the work, and of the baseline's. */
  cpu?: { value: number; baseline?: number };
  target?: { text: string; pass: boolean };
};

/** Timings and memory get three significant digits; counted quantities (gas, vbytes) stay exact. */
const EXACT_UNITS = ['gas', 'vB'];
const show = (v: number, unit: string) => (EXACT_UNITS.includes(unit) ? v : round(v));

export function row(r: Omit<Row, 'ratio'>): Row {
  const ratio = r.baseline ? round(r.value / r.baseline.value) : undefined;
  return {
    ...r,
    value: show(r.value, r.unit),
    ...(r.baseline ? { baseline: { ...r.baseline, value: show(r.baseline.value, r.baseline.unit) } } : {}),
    ...(ratio === undefined ? {} : { ratio }),
    ...(r.cpu
      ? {
          cpu: {
            value: round(r.cpu.value),
            ...(r.cpu.baseline === undefined ? {} : { baseline: round(r.cpu.baseline) }),
          },
        }
      : {}),
  };
}

const fmt = (v: number, unit: string) =>
  Number.isNaN(v) ? 'failed' : `${show(v, unit).toLocaleString('en-US')} ${unit}`.trim();

export function table(rows: readonly Row[]): string {
  const head = [
    'section',
    'measure',
    'value',
    'baseline',
    'ratio',
    'CPU ms/op (vs baseline)',
    'target',
    'result',
  ];
  const lines = rows.map((r) => [
    r.section,
    r.measure,
    fmt(r.value, r.unit),
    r.baseline ? `${r.baseline.label}: ${fmt(r.baseline.value, r.baseline.unit)}` : '',
    r.ratio === undefined ? '' : `${r.ratio}x`,
    r.cpu
      ? `${fmt(r.cpu.value, '')}${r.cpu.baseline === undefined ? '' : ` (${fmt(r.cpu.baseline, '')})`}`
      : '',
    r.target?.text ?? '',
    r.target ? (r.target.pass ? 'PASS' : 'MISS') : '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...lines.map(line)].join('\n');
}
