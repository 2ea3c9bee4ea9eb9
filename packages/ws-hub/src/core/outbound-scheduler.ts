/**
 * Write coalescing for every transport: each outbound queue with pending entries is flushed once
 * per event-loop turn, by one shared `setImmediate` per hub core (not one per connection, not one
 * per transport), and a `batch` frame built for one connection is reused for every other
 * connection — WebSocket or SSE — that has the same publications pending in the same turn.
 * @module
 */
import { batchFrame, type SerializedPublication } from './serialized';

/** Something the scheduler flushes. */
export interface Flushable {
  /** Set by the scheduler while the queue is in the dirty list. */
  dirty: boolean;
  /** Writes everything pending. `cycle` shares batch frames between queues of one flush cycle. */
  flush(cycle: FlushCycle | null): void;
}

/** Counts deliveries of one transport without a prom-client label lookup per delivery. */
export interface DeliveryCounter {
  /** Deliveries written since the last commit. */
  pending: number;
  /** The prom-client child counter for the transport's label. */
  readonly child: { inc(value?: number): void };
}

/**
 * A `batch` frame of one run of publications, built once and shared by every queue that writes
 * the same run. `wire` is a slot for the one transport encoding that is the same for every
 * recipient (the WebSocket binding keeps the framed bytes there, written straight from the
 * publications' texts); transports whose bytes differ per recipient (SSE's event id) use `text`,
 * which is built on first use only.
 */
export class OutboundBatch {
  /** The publications, in order. */
  readonly items: readonly SerializedPublication[];
  /** A shared transport encoding of {@link OutboundBatch.text} (see above). */
  wire: Uint8Array | undefined = undefined;
  #text: string | undefined;

  /** @param items - the publications, in order (kept, not copied) */
  constructor(items: readonly SerializedPublication[]) {
    this.items = items;
  }

  /** The native `batch` frame. */
  get text(): string {
    if (this.#text === undefined) this.#text = batchFrame(this.items);
    return this.#text;
  }
}

/** Runs at least this long are kept past their flush cycle (see {@link FlushCycle}). */
const LASTING_MIN_ITEMS = 64;
/** How many such runs are kept. */
const LASTING_MAX = 8;
/** Kept runs are let go when none was built or reused for this long, in ms (the shared reads' reuse time). */
const LASTING_MS = 2000;

/**
 * The batch frames of one flush cycle, keyed by their first publication. Long runs — a
 * recovery's pages, which every client resuming from the same position is sent in its own turn —
 * are also kept past the cycle: the last few of them are reused by later cycles with the same run
 * (the same publication objects, which the core's shared recovery reads hand to every client).
 */
export class FlushCycle {
  readonly #batches = new Map<SerializedPublication, OutboundBatch[]>();
  /** Long runs of recent cycles, oldest first (insertion order). */
  readonly #lasting = new Map<SerializedPublication, OutboundBatch>();
  /** When a kept run was last built or reused (ms). */
  #lastingAt = 0;

  /** Returns the batch of `run[from..to)`, built once per cycle (and reused after it when long). */
  batch(run: readonly SerializedPublication[], from: number, to: number): OutboundBatch {
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
    const long = to - from >= LASTING_MIN_ITEMS;
    const kept = long ? this.#lasting.get(first) : undefined;
    if (kept !== undefined && sameRun(kept.items, run, from, to)) {
      candidates.push(kept);
      this.#lastingAt = Date.now();
      return kept;
    }
    const built = new OutboundBatch(run.slice(from, to));
    candidates.push(built);
    if (long) {
      this.#lasting.delete(first);
      this.#lasting.set(first, built);
      if (this.#lasting.size > LASTING_MAX)
        this.#lasting.delete(this.#lasting.keys().next().value as SerializedPublication);
      this.#lastingAt = Date.now();
    }
    return built;
  }

  /** Forgets the batches of the cycle that ended (the long runs kept stay, for a while). */
  clear(): void {
    this.#batches.clear();
    if (this.#lasting.size > 0 && Date.now() - this.#lastingAt >= LASTING_MS) this.#lasting.clear();
  }

  /** Long runs kept past their cycle (for tests). @internal */
  get kept(): number {
    return this.#lasting.size;
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

/** Flushes dirty queues once per event-loop turn. One per hub core, shared by every transport. */
export class OutboundScheduler {
  #dirty: Flushable[] = [];
  // The list being flushed; the two lists trade places every turn instead of a new one each turn.
  #flushing: Flushable[] = [];
  #scheduled = false;
  /**
   * The number of the current event-loop turn, as the scheduler counts them (it moves when a
   * flush cycle starts). A queue writes directly once per turn (see {@link OutboundScheduler.touch}).
   * @internal
   */
  turn = 0;
  readonly #cycle = new FlushCycle();
  readonly #counters = new Map<DeliveryCounter['child'], DeliveryCounter>();
  readonly #onError: (error: unknown) => void;

  /** @param onError - called when a flush throws (it never should) */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /**
   * The delivery counter of a transport label (one per prom-client child: create it once per
   * transport, not per delivery; asking again returns the same counter).
   */
  counter(child: DeliveryCounter['child']): DeliveryCounter {
    let counter = this.#counters.get(child);
    if (counter === undefined) {
      counter = { pending: 0, child };
      this.#counters.set(child, counter);
    }
    return counter;
  }

  /** Marks a queue dirty; the first one of a turn schedules the flush. */
  schedule(target: Flushable): void {
    if (target.dirty) return;
    target.dirty = true;
    this.#dirty.push(target);
    this.touch();
  }

  /**
   * Makes sure a flush cycle ends the turn (one `setImmediate` a turn), also without a dirty
   * queue: a queue that wrote directly needs the turn to move on.
   */
  touch(): void {
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flushAll);
    }
  }

  /**
   * Adds pending delivery counts to their prom-client counters. Called when the metrics are read
   * (the deliveries counter's `collect`), not per flush: prom-client hashes a child's labels on
   * every `inc`, and at one flush per publication that was prom-client code running, cold, once
   * per publication.
   */
  commitCounts(): void {
    for (const counter of this.#counters.values()) {
      if (counter.pending > 0) {
        counter.child.inc(counter.pending);
        counter.pending = 0;
      }
    }
  }

  readonly #flushAll = (): void => {
    this.#scheduled = false;
    this.turn++;
    // Queues made dirty while flushing (a write that synchronously triggers a delivery) land in
    // the next list and get their own turn.
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
  };
}
