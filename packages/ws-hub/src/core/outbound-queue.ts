/**
 * The outbound queue of one connection, whatever carries it: queueing, state conflation,
 * batching, seed 003's priority, byte accounting and slow-consumer cuts live here once. A
 * transport binding (WebSocket, SSE, a dialect on WebSocket) is a thin layer that gives the queue
 * an {@link OutboundSink} (where bytes go) and an {@link OutboundEncoder} (how a control frame, a
 * publication or a batch becomes bytes on that transport) — the shape of graphql-ws's `use/ws.ts`
 * and crossws's adapters.
 *
 * The first publication of a turn for an idle queue is written at once (at low rates that is
 * every delivery: one write, no queueing). Everything else is queued and written once per
 * event-loop turn by the core's {@link OutboundScheduler}: one write for one entry, corked writes
 * for several, consecutive native publications merged into `batch` frames that the
 * {@link FlushCycle} builds once for every connection writing the same run. While the sink cannot
 * take more (`needsDrain`), entries stay queued: a state channel's pending publication is replaced
 * by a newer one (critical ones never are), critical publications move ahead of other channels'
 * backlog, and a connection whose backlog (queue + sink buffer) passes `maxBufferedBytes` is
 * closed with 4509.
 * @module
 */
import { type ChannelKind, CloseCode, type ServerFrame } from '@taskpulse/protocol';
import { isCritical, promoteCritical } from './outbound-priority';
import { type DeliveryCounter, type FlushCycle, OutboundBatch, type OutboundScheduler } from './outbound-scheduler';
import { SerializedPublication } from './serialized';
import { PositionedControl, type WrittenPositions } from './written-positions';

/**
 * Where a queue writes: the transport's socket or response, seen through the few members a queue
 * needs. Bindings implement it on their connection object (no extra object per connection).
 */
export interface OutboundSink {
  /** Writes one chunk (an encoder's output). */
  write(chunk: string | Uint8Array): void;
  /** Whether the sink's buffer is full: the queue waits for {@link OutboundSink.onDrain}. */
  readonly needsDrain: boolean;
  /** Calls `callback` once, the next time the buffer drains. Asked only while backed up. */
  onDrain(callback: () => void): void;
  /** Bytes written but not yet taken by the kernel (counted toward `maxBufferedBytes`). */
  readonly bufferedBytes: number;
  /** Whether the sink still takes writes; when it does not, a flush drops what is queued. */
  readonly writable: boolean;
  /** Closes the connection (the queue calls it with 4509 to cut a slow consumer). */
  close(code: number, reason: string): void;
  /** Buffers writes until {@link OutboundSink.uncork} (several entries, one syscall). */
  cork?(): void;
  /** Writes what was buffered since {@link OutboundSink.cork}. */
  uncork?(): void;
}

/**
 * How entries become bytes on one transport. Stateless and shared by every connection of the
 * transport; `cursor` is the connection's position cursor after the entry (only for queues that
 * {@link OutboundQueue.trackPositions | track written positions}, e.g. SSE's event id), else
 * undefined.
 */
export interface OutboundEncoder {
  /** A control frame (or a dialect's encoded text), given as its JSON text. */
  control(text: string, cursor: string | undefined): string | Uint8Array;
  /** One native publication (shared by every recipient: cache on it what does not vary). */
  publication(publication: SerializedPublication, cursor: string | undefined): string | Uint8Array;
  /** A `batch` frame of several publications (shared by the recipients of one flush cycle). */
  batch(batch: OutboundBatch, cursor: string | undefined): string | Uint8Array;
}

/** What the queues of one transport (one WebSocket mount, SSE) share. */
export interface OutboundSettings {
  /** The core's once-per-turn scheduler. */
  readonly scheduler: OutboundScheduler;
  /** The transport's delivery counter. */
  readonly counter: DeliveryCounter;
  /** Bytes held for one connection (queue + sink buffer) before it is cut with 4509. */
  readonly maxBufferedBytes: number;
  /** Largest `batch` frame built from a run of publications, in characters (approximately bytes). */
  readonly maxBatchBytes: number;
  /** Counts a slow-consumer cut (called before the sink is closed with 4509). */
  onSlowConsumer(heldBytes: number): void;
  /** Reports the bytes held for a backed-up connection (for peak tracking). */
  onBackpressure(heldBytes: number): void;
}

/**
 * A queue entry: a native publication (batchable), a text (a control frame or a dialect's encoded
 * publication), a control frame that moves the written positions, or a conflated hole.
 */
type Entry = SerializedPublication | string | PositionedControl | null;

// Bits of OutboundQueue's flags (one field instead of five, per connection).
const BATCHABLE = 1;
const WAITING_DRAIN = 2;
const CLOSING = 4;
/** A critical (priority 1) publication was queued behind other entries: reorder before writing. */
const CRITICAL = 8;
/**
 * More than one entry came in one turn: queue everything (one write per turn, batched) until a
 * flush finds a single entry again.
 */
const BURST = 16;
/** Flags that keep a publication from being written directly. */
const NOT_DIRECT = WAITING_DRAIN | CLOSING | CRITICAL | BURST;

// The shared empty queue of idle connections (replaced before the first push, never written to).
const NO_ENTRIES: Entry[] = [];

// A run of publications collected during one flush; flushes never nest, so one array serves all.
const scratchRun: SerializedPublication[] = [];

/**
 * An entry's size in UTF-8 bytes, as the limits are stated (a publication's is computed once and
 * shared by every connection; control frames are rare and short).
 */
function entrySize(entry: SerializedPublication | string | PositionedControl): number {
  return typeof entry === 'string'
    ? Buffer.byteLength(entry)
    : entry instanceof PositionedControl
      ? Buffer.byteLength(entry.text)
      : entry.frameBytes;
}

/** One connection's outbound queue. Created by a transport binding with its sink and encoder. */
export class OutboundQueue {
  /** Whether the scheduler holds this queue in its dirty list. @internal */
  dirty = false;
  readonly #sink: OutboundSink;
  readonly #encoder: OutboundEncoder;
  readonly #settings: OutboundSettings;
  /** BATCHABLE | WAITING_DRAIN | CLOSING | CRITICAL | BURST. */
  #flags = BATCHABLE;
  #entries: Entry[] = NO_ENTRIES;
  #bytes = 0;
  #publications = 0;
  /** Index in the queue of the pending publication of each state channel (for conflation). */
  #stateSlots: Map<string, number> | undefined;
  /** The session's written positions, for transports whose frames carry a cursor. */
  #positions: WrittenPositions | undefined;
  /** The scheduler's turn of this queue's last direct write. */
  #directTurn = -1;

  /**
   * @param sink - where the bytes go
   * @param encoder - how entries become bytes
   * @param settings - what the queues of the transport share
   */
  constructor(sink: OutboundSink, encoder: OutboundEncoder, settings: OutboundSettings) {
    this.#sink = sink;
    this.#encoder = encoder;
    this.#settings = settings;
  }

  /** Bytes queued (not yet written to the sink), in characters of frame text. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** Entries queued (conflated holes included). */
  get length(): number {
    return this.#entries.length;
  }

  /** Whether the queue was ended ({@link OutboundQueue.end}). */
  get closing(): boolean {
    return (this.#flags & CLOSING) !== 0;
  }

  /**
   * Whether consecutive native publications may be merged into one `batch` frame (true by
   * default; false for dialects whose clients do not speak the native protocol).
   */
  set batchable(value: boolean) {
    if (value) this.#flags |= BATCHABLE;
    else this.#flags &= ~BATCHABLE;
  }

  /**
   * Makes the queue advance the session's written positions as it writes, and pass the cursor of
   * those positions to the encoder (SSE's event id). Control frames that add a channel
   * (`subscribed`) or remove one (`unsubscribed`) then move the positions when they are written.
   */
  trackPositions(positions: WrittenPositions): void {
    this.#positions = positions;
  }

  /**
   * Queues a publication of a subscribed channel.
   * @param text - the transport's own encoding when it is not the native frame (a dialect's);
   * such an entry is written as is and never merged into a batch
   */
  publication(publication: SerializedPublication, kind: ChannelKind, text?: string): void {
    if ((this.#flags & CLOSING) !== 0) return;
    const entry: SerializedPublication | string =
      text === undefined || ((this.#flags & BATCHABLE) !== 0 && text === publication.frame) ? publication : text;
    if (this.#entries === NO_ENTRIES && (this.#flags & NOT_DIRECT) === 0 && this.#direct(entry)) return;
    const critical = isCritical(publication);
    if (critical && this.#entries.length > 0) this.#flags |= CRITICAL;
    if (kind === 'state') this.#conflate(publication.channel, critical);
    this.#publications++;
    this.#push(entry);
  }

  /**
   * The first publication of a turn for an empty queue is written at once, while the fan-out
   * loop has it at hand: at low rates a connection gets one publication per turn, and queueing it
   * for the turn's flush only costs. A second one in the same turn is queued, and the queue keeps
   * queueing (one batched write per turn) until a flush finds a single entry again.
   */
  #direct(entry: SerializedPublication | string): boolean {
    const settings = this.#settings;
    const scheduler = settings.scheduler;
    if (this.#directTurn === scheduler.turn) {
      this.#flags |= BURST;
      return false;
    }
    const sink = this.#sink;
    if (!sink.writable || sink.needsDrain) return false;
    this.#directTurn = scheduler.turn;
    // the turn must end with a flush cycle: it moves the turn and commits the delivery count
    scheduler.touch();
    settings.counter.pending++;
    this.#writeEntry(entry);
    return true;
  }

  /**
   * Queues a control frame.
   * @param text - the frame as sent (native JSON, or a dialect's encoding)
   * @param frame - the native frame, when at hand (a queue that tracks positions reads
   * `subscribed` and `unsubscribed` from it)
   */
  control(text: string, frame?: ServerFrame): void {
    if ((this.#flags & CLOSING) !== 0) return;
    const positions = this.#positions;
    if (positions !== undefined) {
      const positioned = positions.controlEntry(text, frame);
      if (positioned !== undefined) {
        this.#push(positioned);
        return;
      }
    }
    this.#push(text);
  }

  /**
   * Ends the queue: nothing more is queued. With `flush`, what is pending is written first,
   * backed up or not (the error frame that explains a close must arrive); without, it is dropped
   * (a slow consumer's backlog is what is being given up). Idempotent.
   */
  end(flush: boolean): void {
    if ((this.#flags & CLOSING) !== 0) return;
    this.#flags |= CLOSING;
    if (flush) this.flush(null);
    else this.drop();
  }

  /** Drops everything queued. */
  drop(): void {
    this.#flags &= ~CRITICAL;
    this.#entries = NO_ENTRIES;
    this.#bytes = 0;
    this.#publications = 0;
    this.#stateSlots?.clear();
  }

  /** Writes everything pending, unless the sink is backed up (then it waits for a drain). */
  flush(cycle: FlushCycle | null): void {
    this.dirty = false;
    let queue: readonly Entry[] = this.#entries;
    if (queue.length === 0) return;
    const sink = this.#sink;
    if (!sink.writable) {
      this.drop();
      return;
    }
    if (sink.needsDrain && (this.#flags & CLOSING) === 0) {
      if ((this.#flags & WAITING_DRAIN) === 0) {
        this.#flags |= WAITING_DRAIN;
        // Asked only while backed up, so idle connections carry no drain listener.
        sink.onDrain(() => this.#drained());
      }
      this.#settings.onBackpressure(this.#bytes + sink.bufferedBytes);
      return;
    }
    this.#entries = NO_ENTRIES;
    this.#bytes = 0;
    this.#stateSlots?.clear();
    if ((this.#flags & CRITICAL) !== 0) {
      // Seed 003's priority: critical publications go ahead of other channels' backlog.
      this.#flags &= ~CRITICAL;
      queue = promoteCritical(queue);
    }
    this.#settings.counter.pending += this.#publications;
    this.#publications = 0;
    if (queue.length === 1) {
      // One entry in the turn that ended, not behind a direct write: the next turn may write
      // directly again. (The scheduler moved to the next turn before this flush.)
      if (this.#directTurn !== this.#settings.scheduler.turn - 1) this.#flags &= ~BURST;
      this.#writeEntry(queue[0] as Entry);
      return;
    }
    sink.cork?.();
    try {
      const run = scratchRun;
      const batchable = (this.#flags & BATCHABLE) !== 0;
      for (let i = 0; i < queue.length; i++) {
        const entry = queue[i];
        if (entry === null || entry === undefined) continue;
        if (entry instanceof SerializedPublication) {
          if (batchable) run.push(entry);
          else this.#writePublication(entry);
          continue;
        }
        if (run.length > 0) this.#writeRun(run, cycle);
        this.#writeControl(entry);
      }
      if (run.length > 0) this.#writeRun(run, cycle);
    } finally {
      scratchRun.length = 0;
      sink.uncork?.();
    }
  }

  #push(entry: SerializedPublication | string | PositionedControl): void {
    // A one-slot array for the first entry of a turn (the common case): an empty array would grow
    // to 17 slots on its first push, once per delivery.
    if (this.#entries === NO_ENTRIES) this.#entries = [entry];
    else this.#entries.push(entry);
    this.#bytes += entrySize(entry);
    if ((this.#flags & WAITING_DRAIN) !== 0) {
      // The sink is backed up: nothing is written until it drains, so the backlog only grows.
      const held = this.#bytes + this.#sink.bufferedBytes;
      const settings = this.#settings;
      settings.onBackpressure(held);
      if (held > settings.maxBufferedBytes) {
        settings.onSlowConsumer(held);
        this.drop();
        this.#sink.close(CloseCode.SlowConsumer, 'slow consumer');
        // Nothing more is queued, whether or not the sink ended the queue as it closed.
        this.end(false);
      }
      return;
    }
    const limit = this.#settings.maxBufferedBytes;
    // The sink's buffer is asked only past half the limit (it is a getter on the hot path).
    if (this.#bytes > limit / 2 && this.#bytes + this.#sink.bufferedBytes > limit) {
      // Queue and sink buffer past the limit within one turn (a publisher that never yields, a huge recovery):
      // write now instead of holding it all until the turn ends. A sink that cannot take it
      // starts the wait for its drain here, and the next entry is held against the limit.
      const dirty = this.dirty;
      this.flush(null);
      this.dirty = dirty;
      return;
    }
    this.#settings.scheduler.schedule(this);
  }

  /**
   * Drops the pending publication of a state channel when a newer one comes: only the newest
   * value matters. Values pending together are those of one event-loop turn for a client that
   * keeps up (rarely more than one), and everything since the sink backed up for a slow one.
   * Critical (priority 1) publications are never dropped: they take no slot.
   */
  #conflate(channel: string, critical: boolean): void {
    let slots = this.#stateSlots;
    if (slots === undefined) {
      slots = new Map();
      this.#stateSlots = slots;
    }
    const index = slots.get(channel);
    if (index !== undefined) {
      const old = this.#entries[index];
      if (old !== null && old !== undefined) {
        this.#bytes -= entrySize(old);
        this.#publications--;
        this.#entries[index] = null;
      }
    }
    if (critical) slots.delete(channel);
    else slots.set(channel, this.#entries.length);
  }

  #writeRun(run: SerializedPublication[], cycle: FlushCycle | null): void {
    if (run.length === 1) {
      this.#writePublication(run[0] as SerializedPublication);
    } else {
      // Split very long runs (a large recovery) into several batch frames of bounded size.
      const max = this.#settings.maxBatchBytes;
      let start = 0;
      let bytes = 0;
      for (let i = 0; i < run.length; i++) {
        const size = (run[i] as SerializedPublication).json.length;
        if (i > start && bytes + size > max) {
          this.#writeBatch(run, start, i, cycle);
          start = i;
          bytes = 0;
        }
        bytes += size;
      }
      this.#writeBatch(run, start, run.length, cycle);
    }
    run.length = 0;
  }

  #writeBatch(run: SerializedPublication[], from: number, to: number, cycle: FlushCycle | null): void {
    if (to - from === 1) {
      this.#writePublication(run[from] as SerializedPublication);
      return;
    }
    const batch = cycle !== null ? cycle.batch(run, from, to) : new OutboundBatch(run.slice(from, to));
    const positions = this.#positions;
    if (positions !== undefined) for (let i = from; i < to; i++) positions.wrote(run[i] as SerializedPublication);
    this.#sink.write(this.#encoder.batch(batch, positions?.cursor));
  }

  /** Writes one entry on its own (a conflated hole writes nothing). */
  #writeEntry(entry: Entry): void {
    if (entry instanceof SerializedPublication) this.#writePublication(entry);
    else if (entry !== null) this.#writeControl(entry);
  }

  #writePublication(p: SerializedPublication): void {
    const positions = this.#positions;
    if (positions === undefined) {
      this.#sink.write(this.#encoder.publication(p, undefined));
      return;
    }
    positions.wrote(p);
    this.#sink.write(this.#encoder.publication(p, positions.cursor));
  }

  #writeControl(entry: string | PositionedControl): void {
    const positions = this.#positions;
    if (typeof entry === 'string') {
      this.#sink.write(this.#encoder.control(entry, positions?.cursor));
      return;
    }
    positions?.apply(entry);
    this.#sink.write(this.#encoder.control(entry.text, positions?.cursor));
  }

  #drained(): void {
    if ((this.#flags & WAITING_DRAIN) === 0) return;
    this.#flags &= ~WAITING_DRAIN;
    if (this.#entries.length > 0) this.#settings.scheduler.schedule(this);
  }
}
