/**
 * Write coalescing: every socket with pending frames is flushed once per event-loop turn, by one
 * shared `setImmediate` (not one per socket), and a `batch` frame built for one socket is reused
 * for every other socket that has the same publications pending in the same turn.
 * @module
 */
import { batchFrame, type SerializedPublication } from '../core/serialized';
import { frameText } from './frame';

/** Something the scheduler flushes. */
export interface Flushable {
  /** Set by the scheduler while the connection is in the dirty list. */
  dirty: boolean;
  /** Writes everything pending. `cycle` shares batch frames between sockets of one flush cycle. */
  flush(cycle: FlushCycle | null): void;
}

/** Counts deliveries of one transport without a prom-client label lookup per delivery. */
export interface DeliveryCounter {
  /** Deliveries written since the last commit. */
  pending: number;
  /** The prom-client child counter for the transport's label. */
  readonly child: { inc(value?: number): void };
}

interface CachedBatch {
  readonly items: readonly SerializedPublication[];
  readonly text: string;
  bytes: Buffer | undefined;
}

/** The batch frames of one flush cycle, keyed by their first publication. */
export class FlushCycle {
  readonly #batches = new Map<SerializedPublication, CachedBatch[]>();

  /** Returns the batch of `run[from..to)`, built once per cycle. */
  batch(run: readonly SerializedPublication[], from: number, to: number): CachedBatch {
    const first = run[from] as SerializedPublication;
    let candidates = this.#batches.get(first);
    if (candidates) {
      for (const candidate of candidates) {
        if (sameRun(candidate.items, run, from, to)) return candidate;
      }
    } else {
      candidates = [];
      this.#batches.set(first, candidates);
    }
    const items = run.slice(from, to);
    const built: CachedBatch = { items, text: batchFrame(items), bytes: undefined };
    candidates.push(built);
    return built;
  }

  /** The framed bytes of a cached batch. */
  batchBytes(run: readonly SerializedPublication[], from: number, to: number): Buffer {
    const batch = this.batch(run, from, to);
    if (batch.bytes === undefined) batch.bytes = frameText(batch.text);
    return batch.bytes;
  }

  clear(): void {
    this.#batches.clear();
  }
}

function sameRun(
  items: readonly SerializedPublication[],
  run: readonly SerializedPublication[],
  from: number,
  to: number,
): boolean {
  if (items.length !== to - from) return false;
  for (let i = 0; i < items.length; i++) if (items[i] !== run[from + i]) return false;
  return true;
}

/** Flushes dirty connections once per event-loop turn. */
export class OutboundScheduler {
  #dirty: Flushable[] = [];
  // The list being flushed; the two lists trade places every turn instead of a new one each turn.
  #flushing: Flushable[] = [];
  #scheduled = false;
  readonly #cycle = new FlushCycle();
  readonly #counters: DeliveryCounter[] = [];
  readonly #onError: (error: unknown) => void;

  /** @param onError - called when a flush throws (it never should) */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /** A delivery counter for a transport label (create it once per transport, not per delivery). */
  counter(child: DeliveryCounter['child']): DeliveryCounter {
    const counter: DeliveryCounter = { pending: 0, child };
    this.#counters.push(counter);
    return counter;
  }

  /** Marks a connection dirty; the first one of a turn schedules the flush. */
  schedule(target: Flushable): void {
    if (target.dirty) return;
    target.dirty = true;
    this.#dirty.push(target);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushAll);
    }
  }

  /** Adds pending delivery counts to their prom-client counters. */
  commitCounts(): void {
    for (const counter of this.#counters) {
      if (counter.pending > 0) {
        counter.child.inc(counter.pending);
        counter.pending = 0;
      }
    }
  }

  readonly #flushAll = (): void => {
    this.#scheduled = false;
    // Connections made dirty while flushing (a write that synchronously triggers a delivery)
    // land in the next list and get their own turn.
    const dirty = this.#dirty;
    this.#dirty = this.#flushing;
    this.#flushing = dirty;
    for (let i = 0; i < dirty.length; i++) {
      const target = dirty[i] as Flushable;
      try {
        target.flush(this.#cycle);
      } catch (error) {
        target.dirty = false;
        this.#onError(error);
      }
    }
    dirty.length = 0;
    this.#cycle.clear();
    this.commitCounts();
  };
}
