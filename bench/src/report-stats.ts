/**
 * Statistics and formatting shared by the report tables: medians and ranges over repetitions,
 * per-repetition taskpulse ÷ peer ratios, marginal memory, Markdown cells.
 */
import type { Layout, Load } from './options';
import type { CycleResult, LoadResult } from './scenarios/fanout';
import type { VariantName } from './servers/types';

/** Median of finite values (NaN when none). */
export function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

export function fmt(x: number, digits = 2): string {
  if (!Number.isFinite(x)) return '—';
  const abs = Math.abs(x);
  if (abs >= 100) return Math.round(x).toLocaleString('en-US');
  if (abs >= 10) return x.toFixed(Math.max(0, digits - 1));
  return x.toFixed(digits);
}

/** "median [min–max]" (just the value for a single repetition). */
export function spreadCell(values: number[], scale = 1, digits = 2): string {
  const v = values.filter(Number.isFinite).map((x) => x * scale);
  if (v.length === 0) return '—';
  const m = median(v);
  if (v.length === 1) return fmt(m, digits);
  return `${fmt(m, digits)} [${fmt(Math.min(...v), digits)}–${fmt(Math.max(...v), digits)}]`;
}

export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * Below this many connections the RSS difference is within the allocator's noise (it can even be
 * negative), so no per-connection figure is printed.
 */
export const MIN_N_FOR_MEMORY = 1000;

export const NAMES: Record<VariantName, string> = {
  ws: 'bare ws',
  'ws-twin': 'bare ws (twin)',
  'ws-scripted': 'bare ws (taskpulse publisher)',
  socketio: 'Socket.IO',
  taskpulse: 'taskpulse',
  'taskpulse-unverified': 'taskpulse (unverified)',
};

/** Per-repetition ratios `subject` (default taskpulse) ÷ peer of a metric. */
export function ratios(
  all: CycleResult[],
  layout: Layout,
  n: number,
  peer: VariantName,
  pick: (c: CycleResult) => number,
  subject: VariantName = 'taskpulse',
): number[] {
  const out: number[] = [];
  for (const tp of all.filter((c) => c.variant === subject && c.layout === layout && c.n === n && !c.error)) {
    const other = all.find(
      (c) => c.variant === peer && c.layout === layout && c.n === n && c.rep === tp.rep && !c.error,
    );
    if (other) out.push(pick(tp) / pick(other));
  }
  return out;
}

export function pickLoad(load: Load, metric: (l: LoadResult) => number): (c: CycleResult) => number {
  return (c) => {
    const l = c.loads.find((x) => x.load === load);
    return l ? metric(l) : Number.NaN;
  };
}

/**
 * Marginal idle memory per connection of one variant, per repetition: the slope of idle RSS
 * between the smallest and the largest N (fixed costs such as code and pools cancel out).
 */
export function marginalBytes(all: CycleResult[], layout: Layout, variant: VariantName): Map<number, number> {
  const out = new Map<number, number>();
  const mine = all.filter((c) => c.layout === layout && c.variant === variant && !c.error);
  for (const rep of new Set(mine.map((c) => c.rep))) {
    const cs = mine.filter((c) => c.rep === rep).sort((a, b) => a.n - b.n);
    const lo = cs[0];
    const hi = cs[cs.length - 1];
    if (lo && hi && hi.n > lo.n) out.set(rep, (hi.idleRssBytes - lo.idleRssBytes) / (hi.n - lo.n));
  }
  return out;
}

/** taskpulse ÷ peer of the marginal memory, per repetition. */
export function marginalRatios(all: CycleResult[], layout: Layout, peer: VariantName): number[] {
  const tp = marginalBytes(all, layout, 'taskpulse');
  const other = marginalBytes(all, layout, peer);
  return [...tp].filter(([rep]) => other.has(rep)).map(([rep, v]) => v / (other.get(rep) as number));
}
