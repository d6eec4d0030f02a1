/** The table `npm run bench` prints: one row per scenario, both sides' figures, the ratio and the target. */
import { combineSplits } from './cpu.js';
import type { Measured } from './wrk.js';

export interface Row {
  readonly scenario: string;
  /** rate, p50, p99 as printed (or a single value such as a start time in the first cell). */
  readonly idport: readonly string[];
  readonly oidcProvider: readonly string[];
  readonly ratio: string;
  readonly target: string;
  /** true: PASS, false: FAIL, undefined: reported only. */
  readonly pass: boolean | undefined;
  readonly note?: string | undefined;
}

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : '—');

export const rate = (m: Measured): string[] => [
  fixed(m.perSecond, 0),
  `${fixed(m.p50Ms, 1)} ms`,
  `${fixed(m.p99Ms, 1)} ms`,
];
export const NONE = ['—', '—', '—'] as const;
export const ratio = (a: number, b: number): string => `${fixed(a / b, 2)}×`;
export const percent = (value: number): string => `${fixed(value * 100, 0)} %`;
export const mb = (bytes: number): string => `${fixed(bytes / 1e6, 1)} MB`;

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return NaN;
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
};

/** The median of each figure over the rounds; failures are summed so a failing round is never hidden. */
export const medianOf = (rounds: readonly Measured[]): Measured => {
  const failures = rounds.reduce((sum, r) => sum + r.failures, 0);
  const notes = rounds.flatMap((r) => (r.note !== undefined ? [r.note] : []));
  return {
    perSecond: median(rounds.map((r) => r.perSecond)),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    requests: rounds.reduce((sum, r) => sum + r.requests, 0),
    failures,
    note: notes.length > 0 ? notes.join('; ') : undefined,
    cpu: combineSplits(rounds.flatMap((r) => (r.cpu === undefined ? [] : [{ split: r.cpu, requests: r.requests }]))),
  };
};

/** Formats rows as a Markdown table (it reads as plain text in a terminal too), with notes listed below. */
export const formatTable = (rows: readonly Row[]): string => {
  const header = [
    'scenario',
    'idport req/s',
    'p50',
    'p99',
    'oidc-provider req/s',
    'p50',
    'p99',
    'ratio',
    'target',
    'result',
  ];
  const cells = rows.map((row) => [
    row.scenario,
    ...[0, 1, 2].map((i) => row.idport[i] ?? ''),
    ...[0, 1, 2].map((i) => row.oidcProvider[i] ?? ''),
    row.ratio,
    row.target,
    row.pass === undefined ? 'reported' : row.pass ? 'PASS' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]): string => `| ${c.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const notes = rows.flatMap((row) => (row.note !== undefined ? [`- ${row.scenario}: ${row.note}`] : []));
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line), '', ...notes].join('\n');
};
