/**
 * Single-flight history and state reads: when many consumers of one channel recover at once
 * (a thousand browsers reconnecting after a hub restart or a network blip), they share one broker
 * read instead of each reading the same history — and share the serialized publications too.
 * @module
 */
import {
  type Broker,
  type ChannelState,
  continuesGeneration,
  type HistoryOptions,
  type MessageHistoryResult,
  type StreamPosition,
} from '@taskpulse/protocol';
import { SerializedPublication } from './serialized';

/** Publications after a position, as read for recovery. */
export interface RecoveryRead {
  /** The channel's epoch at read time. */
  epoch: string;
  /** The channel's offset at read time. */
  offset: number;
  /** Publications after the requested position, oldest first (shared: do not mutate). */
  publications: readonly SerializedPublication[];
  /** Whether `publications` continue exactly after the requested position. */
  recovered: boolean;
}

/** Largest page read from history at once during recovery. */
const RECOVERY_PAGE = 1000;

/**
 * One page of history as serialized publications: the stored texts passed through when the broker
 * reads messages (`historyMessages`), else the publications it parsed.
 */
async function readPage(
  broker: Broker,
  channel: string,
  options: HistoryOptions,
): Promise<Omit<MessageHistoryResult, 'messages'> & { publications: SerializedPublication[] }> {
  if (broker.historyMessages) {
    const { messages, ...rest } = await broker.historyMessages(channel, options);
    return { ...rest, publications: messages.map((m) => new SerializedPublication(m)) };
  }
  const { publications, ...rest } = await broker.history(channel, options);
  return { ...rest, publications: publications.map((p) => new SerializedPublication(p)) };
}

async function readPages(broker: Broker, channel: string, since: StreamPosition): Promise<RecoveryRead> {
  const first = await readPage(broker, channel, { since, limit: RECOVERY_PAGE });
  const publications: SerializedPublication[] = first.publications.slice();
  let top = first.offset;
  let recovered = first.recovered;
  // Page on until caught up with the top read on the first page (live delivery covers the rest).
  while (recovered && publications.length > 0 && publications.length % RECOVERY_PAGE === 0) {
    const last = publications[publications.length - 1] as SerializedPublication;
    if (last.offset >= top) break;
    const next = await readPage(broker, channel, {
      since: { epoch: last.epoch, offset: last.offset },
      limit: RECOVERY_PAGE,
    });
    if (!next.recovered || next.epoch !== first.epoch) {
      recovered = false;
      break;
    }
    publications.push(...next.publications);
    top = Math.max(top, next.offset);
    if (next.publications.length < RECOVERY_PAGE) break;
  }
  return { epoch: first.epoch, offset: top, publications, recovered };
}

/** The part of a read that comes after `offset` (reads are sorted by offset). */
function after(read: RecoveryRead, offset: number): readonly SerializedPublication[] {
  const pubs = read.publications;
  let lo = 0;
  let hi = pubs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((pubs[mid] as SerializedPublication).offset <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? pubs : pubs.slice(lo);
}

interface SharedRead<T> {
  since: StreamPosition | null;
  promise: Promise<T>;
  /** When the read completed (ms), 0 while in flight. */
  doneAt: number;
  result: T | undefined;
}

/** How long a completed read stays reusable, in ms (while the route's tail still connects to it). */
const REUSE_MS = 2000;

/**
 * True when every publication after `offset` that reached the route is still in its tail, so a
 * read that ended at `offset` plus the tail covers everything up to now.
 */
function tailConnects(tail: readonly SerializedPublication[], epoch: string, offset: number): boolean {
  const last = tail[tail.length - 1];
  if (last === undefined) return true;
  if (last.epoch !== epoch) return false;
  if (last.offset <= offset) return true;
  const first = tail[0] as SerializedPublication;
  return first.epoch === epoch && first.offset <= offset + 1;
}

/**
 * Coalesces the recovery reads of one channel's route. Reads in flight are shared; completed
 * reads are reused for a short while as long as the route's tail (everything published since)
 * connects to them. It lives and dies with the route, so a read is never reused across a gap in
 * the route's subscription.
 */
export class SharedReads {
  readonly #broker: Broker;
  readonly #channel: string;
  readonly #tail: readonly SerializedPublication[];
  #history: SharedRead<RecoveryRead>[] = [];
  #state: SharedRead<ChannelState> | undefined;
  #inFlight = 0;
  #lastDoneAt = 0;

  /**
   * @param broker - the backplane
   * @param channel - the route's channel
   * @param tail - the route's tail (read, never written here)
   */
  constructor(broker: Broker, channel: string, tail: readonly SerializedPublication[]) {
    this.#broker = broker;
    this.#channel = channel;
    this.#tail = tail;
  }

  /**
   * True when no read is in flight or still reusable: the route then needs no more tail than its
   * newest publication (which keeps the tail's gap check working).
   */
  get idle(): boolean {
    return this.#inFlight === 0 && Date.now() - this.#lastDoneAt >= REUSE_MS;
  }

  /** Forgets every read (the broker reset the channel). */
  clear(): void {
    this.#history = [];
    this.#state = undefined;
  }

  /**
   * Reads the publications after `since`, sharing a read in flight or recently completed for the
   * same epoch from an earlier or equal offset when it recovered.
   */
  async readAfter(since: StreamPosition): Promise<RecoveryRead> {
    const now = Date.now();
    this.#history = this.#history.filter((r) => r.doneAt === 0 || now - r.doneAt < REUSE_MS);
    for (const shared of this.#history) {
      if (shared.since?.epoch !== since.epoch || shared.since.offset > since.offset) continue;
      if (shared.doneAt !== 0) {
        const done = shared.result as RecoveryRead;
        if (!tailConnects(this.#tail, done.epoch, done.offset)) continue;
      }
      const read = await shared.promise;
      if (!continuesGeneration(since, read.epoch)) return { ...read, recovered: false };
      if (since.offset === read.offset) return { ...read, publications: [], recovered: true };
      const publications = after(read, since.offset);
      const first = publications[0];
      // Ahead of what the shared read saw, or past the page it read: this position needs its own read.
      if (since.offset > read.offset || first === undefined) break;
      // The shared read holds this position's answer: it covered everything after an earlier
      // position of the same generation (offsets of stored entries no reader can parse are
      // skipped, so `first` may be further on), hence everything after this one too.
      return { ...read, publications, recovered: read.recovered || first.offset === since.offset + 1 };
    }
    return this.#share(this.#history, since, this.#track(readPages(this.#broker, this.#channel, since)));
  }

  /** Reads the channel's current state, sharing a read in flight or recently completed. */
  readState(): Promise<ChannelState> {
    const current = this.#state;
    if (current) {
      if (current.doneAt === 0) return current.promise;
      const done = current.result as ChannelState;
      if (Date.now() - current.doneAt < REUSE_MS && tailConnects(this.#tail, done.epoch, done.offset)) {
        return current.promise;
      }
    }
    const entry: SharedRead<ChannelState> = {
      since: null,
      promise: this.#track(this.#broker.state(this.#channel)),
      doneAt: 0,
      result: undefined,
    };
    this.#state = entry;
    entry.promise.then(
      (result) => {
        entry.result = result;
        entry.doneAt = Date.now();
      },
      () => {
        if (this.#state === entry) this.#state = undefined;
      },
    );
    return entry.promise;
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight++;
    const settle = () => {
      this.#inFlight--;
      this.#lastDoneAt = Date.now();
    };
    promise.then(settle, settle);
    return promise;
  }

  #share(
    list: SharedRead<RecoveryRead>[],
    since: StreamPosition,
    promise: Promise<RecoveryRead>,
  ): Promise<RecoveryRead> {
    const entry: SharedRead<RecoveryRead> = { since, promise, doneAt: 0, result: undefined };
    list.push(entry);
    promise.then(
      (result) => {
        entry.result = result;
        entry.doneAt = Date.now();
      },
      () => {
        const i = this.#history.indexOf(entry);
        if (i !== -1) this.#history.splice(i, 1);
      },
    );
    return promise;
  }
}
