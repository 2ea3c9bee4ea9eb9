/**
 * A latency histogram with log-spaced buckets (2 % wide), cheap to record into and to merge
 * across processes (it travels over IPC as a plain array of counts).
 */

const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** Buckets up to 1.02^1200 µs ≈ 20 000 s: nothing measured here comes near. */
export const BUCKETS = 1200;

/** Bucket index of a value in µs. Values ≤ 1 µs share bucket 0. */
function bucketOf(us: number): number {
  if (us <= 1) return 0;
  const b = Math.ceil(Math.log(us) / LOG_GROWTH);
  return b >= BUCKETS ? BUCKETS - 1 : b;
}

/** Upper bound of a bucket, µs. */
function bucketValue(index: number): number {
  return GROWTH ** index;
}

/** A mutable histogram of µs values. */
export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  total = 0;

  /** Records one value (µs). Negative values (clock misuse) are clamped to 0. */
  record(us: number): void {
    const b = bucketOf(us);
    this.counts[b] = (this.counts[b] as number) + 1;
    this.total++;
  }

  /** A plain copy for IPC. */
  snapshot(): number[] {
    return Array.from(this.counts);
  }

  /** Zeroes every bucket. */
  reset(): void {
    this.counts.fill(0);
    this.total = 0;
  }
}

/** `a - b`, bucket by bucket (a later snapshot minus an earlier one of the same histogram). */
export function subtract(a: number[], b: number[]): number[] {
  return a.map((v, i) => v - (b[i] ?? 0));
}

/** Sums snapshots (several load-generator processes). */
export function merge(snapshots: number[][]): number[] {
  const out = new Array<number>(BUCKETS).fill(0);
  for (const s of snapshots) for (let i = 0; i < BUCKETS; i++) out[i] = (out[i] as number) + (s[i] ?? 0);
  return out;
}

/** The value (µs, bucket upper bound) at quantile `q` (0–1), or NaN for an empty histogram. */
export function quantile(snapshot: number[], q: number): number {
  let total = 0;
  for (const c of snapshot) total += c;
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < snapshot.length; i++) {
    seen += snapshot[i] as number;
    if (seen >= rank) return bucketValue(i);
  }
  return bucketValue(snapshot.length - 1);
}

/** Number of recorded values. */
export function count(snapshot: number[]): number {
  let total = 0;
  for (const c of snapshot) total += c;
  return total;
}
