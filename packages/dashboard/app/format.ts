/**
 * Number formatting for the page.
 * @module
 */

/** `1234.5` → `1,234.5` (at most `digits` decimals). */
export function num(value: number, digits = 1): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

/** Bytes as KiB/MiB/GiB. */
export function bytes(value: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = value;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${num(v, u === 0 ? 0 : 1)} ${units[u]}`;
}

/** Milliseconds with a unit. */
export function ms(value: number): string {
  return `${num(value, value < 10 ? 2 : 1)} ms`;
}

/** "12 s ago", "3 min ago". */
export function ago(sinceMs: number, now: number): string {
  const s = Math.max(0, Math.round((now - sinceMs) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

/** `{a: 1, b: 2}` → `a 1 · b 2`, or an em dash when empty. */
export function counts(record: Record<string, number>): string {
  const entries = Object.entries(record).filter(([, v]) => v > 0);
  if (entries.length === 0) return '—';
  return entries
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${num(v, 0)}`)
    .join(' · ');
}
