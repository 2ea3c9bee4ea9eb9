/**
 * The positions of the channels HTTP polls read, kept in memory so that an up-to-date poll is
 * answered without a broker read. The first poll of a channel attaches a listener on the hub's
 * {@link ChannelRouter} (the one broker subscription per channel per hub that WebSocket sessions
 * use too) and reads the channel's state once; from then on the publications the subscription
 * delivers advance the position, and the newest ones are kept for polls a few publications behind.
 * Reads still create nothing in the broker: a subscription stores nothing.
 * @module
 */
import type { Broker, ChannelState } from '@taskpulse/protocol';
import type { ChannelListener, ChannelRouter } from './channel-router';
import { SerializedPublication } from './serialized';

/** Options of {@link WatchedChannels}. */
export interface WatchedChannelsOptions {
  /**
   * Most channels watched at once; a poll of another channel reads the broker.
   * @default 10000
   */
  maxChannels?: number;
  /**
   * A channel not polled for this long is no longer watched (its subscription is dropped), in ms.
   * @default 60000
   */
  idleMs?: number;
  /**
   * Newest publications kept per channel for polls a few publications behind.
   * @default 32
   */
  tailSize?: number;
}

/** What a watched channel is known to hold now. Do not mutate. */
export interface WatchedSnapshot {
  /** Current epoch. */
  readonly epoch: string;
  /** Current offset (of the newest publication; 0 when none). */
  readonly offset: number;
  /** The newest publication, or null when the channel has none. */
  readonly latest: SerializedPublication | null;
  /** The newest publications, oldest first, gap-free, ending at `offset` (may be empty). */
  readonly tail: readonly SerializedPublication[];
}

interface Entry extends WatchedSnapshot {
  epoch: string;
  offset: number;
  latest: SerializedPublication | null;
  tail: SerializedPublication[];
  /** The position is proven current (attached, state read, every publication since applied). */
  synced: boolean;
  /** A state read is in flight; publications received meanwhile wait in `pending`. */
  syncing: boolean;
  pending: SerializedPublication[];
  /**
   * Publications kept in `tail`: `tailSize`, but never more than the namespace's history keeps
   * (a poll must not recover from memory what every other node, and WebSocket, report as lost).
   */
  keep: number;
  /** Bumped by every reset: a state read started before one is discarded. */
  resets: number;
  lastUsed: number;
  listener: ChannelListener;
}

/**
 * Per-hub cache of polled channels' positions (see the module description). A snapshot is given
 * only while the channel's subscription is live and every publication since the state read was
 * applied in order; anything else (broker not ready, reset, a gap, not yet subscribed) makes the
 * caller read the broker, and the next poll re-reads the state.
 */
export class WatchedChannels {
  readonly #router: ChannelRouter;
  readonly #broker: Broker;
  readonly #entries = new Map<string, Entry>();
  readonly #maxChannels: number;
  readonly #idleMs: number;
  readonly #tailSize: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Snapshots given (polls answered from memory) and refused (read the broker), for tests and stats. */
  readonly counts = { hits: 0, misses: 0 };

  /**
   * @param router - the hub's router (one broker subscription per channel)
   * @param broker - the backplane (state reads, status)
   * @param options - bounds
   */
  constructor(router: ChannelRouter, broker: Broker, options: WatchedChannelsOptions = {}) {
    this.#router = router;
    this.#broker = broker;
    this.#maxChannels = options.maxChannels ?? 10_000;
    this.#idleMs = options.idleMs ?? 60_000;
    this.#tailSize = Math.max(1, options.tailSize ?? 32);
  }

  /** Channels watched now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether a channel is watched (its listener is attached or attaching). */
  has(channel: string): boolean {
    return this.#entries.has(channel);
  }

  /**
   * The channel's current position when it is proven current, else undefined (read the broker).
   * Starts watching a channel not watched yet (within `maxChannels`), so its next poll is cheap.
   */
  snapshot(channel: string): WatchedSnapshot | undefined {
    const entry = this.#entries.get(channel);
    if (entry === undefined) {
      this.#watch(channel);
      this.counts.misses++;
      return undefined;
    }
    entry.lastUsed = Date.now();
    if (this.#broker.status() !== 'ready') {
      // Publications may be missed or late while the broker is away: re-read once it is back.
      entry.synced = false;
      this.counts.misses++;
      return undefined;
    }
    if (!entry.synced) {
      this.#sync(channel, entry);
      this.counts.misses++;
      return undefined;
    }
    this.counts.hits++;
    return entry;
  }

  /** Stops watching every channel. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    for (const [channel, entry] of this.#entries) this.#router.detach(channel, entry.listener);
    this.#entries.clear();
  }

  #watch(channel: string): void {
    if (this.#closed || this.#entries.size >= this.#maxChannels) return;
    const entry: Entry = {
      epoch: '',
      offset: 0,
      latest: null,
      tail: [],
      synced: false,
      syncing: false,
      pending: [],
      keep: this.#keepFor(channel),
      resets: 0,
      lastUsed: Date.now(),
      listener: {
        onPublication: (publication) => this.#apply(entry, publication),
        onReset: () => {
          entry.resets++;
          entry.synced = false;
          entry.tail = [];
        },
      },
    };
    this.#entries.set(channel, entry);
    this.#router.attach(channel, entry.listener).then(
      () => {
        if (this.#entries.get(channel) === entry) this.#sync(channel, entry);
      },
      () => {
        if (this.#entries.get(channel) === entry) this.#entries.delete(channel);
      },
    );
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), Math.max(1, Math.floor(this.#idleMs / 2)));
      this.#timer.unref?.();
    }
  }

  /** Reads the state after the subscription is live; publications received meanwhile are replayed. */
  #sync(channel: string, entry: Entry): void {
    if (entry.syncing || this.#broker.status() !== 'ready') return;
    entry.syncing = true;
    entry.pending = [];
    const resets = entry.resets;
    this.#broker.state(channel).then(
      (state) => this.#synced(channel, entry, state, resets),
      () => {
        entry.syncing = false;
        entry.pending = [];
      },
    );
  }

  #synced(channel: string, entry: Entry, state: ChannelState, resets: number): void {
    entry.syncing = false;
    const pending = entry.pending;
    entry.pending = [];
    if (this.#entries.get(channel) !== entry || entry.resets !== resets) return;
    entry.epoch = state.epoch;
    entry.offset = state.offset;
    const latest = state.latest === null ? null : new SerializedPublication(state.latest);
    entry.latest = latest;
    entry.tail =
      entry.keep > 0 && latest !== null && latest.epoch === state.epoch && latest.offset === state.offset
        ? [latest]
        : [];
    entry.synced = true;
    for (const publication of pending) this.#apply(entry, publication);
  }

  #apply(entry: Entry, publication: SerializedPublication): void {
    if (entry.syncing) {
      entry.pending.push(publication);
      return;
    }
    // Not current (reset, gap): ignored until the next poll re-reads the state.
    if (!entry.synced) return;
    if (publication.epoch === entry.epoch && publication.offset <= entry.offset) return;
    if (publication.epoch !== entry.epoch || publication.offset !== entry.offset + 1) {
      entry.synced = false;
      entry.tail = [];
      return;
    }
    entry.offset = publication.offset;
    entry.latest = publication;
    if (entry.keep === 0) return;
    entry.tail.push(publication);
    if (entry.tail.length > entry.keep) entry.tail.shift();
  }

  #keepFor(channel: string): number {
    try {
      return Math.min(this.#tailSize, this.#broker.namespaceOptions(channel).historySize);
    } catch {
      return 0;
    }
  }

  #sweep(): void {
    const before = Date.now() - this.#idleMs;
    for (const [channel, entry] of this.#entries) {
      if (entry.lastUsed > before) continue;
      this.#entries.delete(channel);
      this.#router.detach(channel, entry.listener);
    }
    if (this.#entries.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
