/**
 * The broker interface: the backplane a hub takes. Implemented by the in-memory broker
 * (`createMemoryBroker` in `@taskpulse/ws-hub`) and the Redis broker (`createRedisBroker` in
 * `@taskpulse/redis-bridge`). Types only.
 *
 * Semantics every implementation keeps (checked by one conformance suite):
 * - `publish` assigns the next offset of the channel (exactly +1), appends to the channel's history
 *   (trimmed to the namespace's `historySize`, expiring after `historyTtlMs`), keeps the latest
 *   value, and delivers the publication to every subscriber — atomically.
 * - A channel's epoch is created by its first publication and changes only when its history was
 *   lost; offsets restart at 1 in a new epoch. Reads (`history`, `state`) and `subscribe` never
 *   create anything: a channel that does not exist is at the empty position (`EMPTY_EPOCH`, 0),
 *   which continues with offset 1 of the epoch its first publication creates.
 * - `subscribe` resolves once the subscription is live: every publication made after it resolves
 *   is delivered. Delivery per channel is in offset order, without gaps or duplicates; when the
 *   broker cannot guarantee that (history lost, gap older than history), it calls `onReset`.
 * - Errors are {@link TaskpulseError}s: `bad_channel`, `unknown_channel`, `payload_too_large`,
 *   `unavailable` (backend unreachable; operations reject within a bounded time), `timeout`.
 *
 * @module
 */
import type { NamespaceOptions } from './channel';
import type { Publication, PublishOptions, StreamPosition } from './publication';
import type { PublicationMessage } from './publication-text';

/** Where a publication landed. */
export interface PublishResult {
  /** The channel published to. */
  channel: string;
  /** The channel's epoch. */
  epoch: string;
  /** The offset assigned to the publication. */
  offset: number;
  /**
   * True when the publication's `id` had already been published on the channel within the
   * broker's deduplication window: nothing new was published, `epoch`/`offset` are the first one's.
   */
  duplicate?: boolean;
}

/** Options of {@link Broker.history}. */
export interface HistoryOptions {
  /**
   * Return the publications after this position (oldest first). Without it, return the latest
   * `limit` publications (oldest first).
   */
  since?: StreamPosition;
  /**
   * At most this many publications. With `since`, the oldest ones after it are kept (page on by
   * calling again with the last returned position); without `since`, the newest ones.
   * @default all retained
   */
  limit?: number;
}

/** Result of {@link Broker.history}. */
export interface HistoryResult {
  /** The channel's current epoch. */
  epoch: string;
  /** The channel's current offset (the offset of its newest publication; 0 when none). */
  offset: number;
  /** Publications, oldest first. */
  publications: Publication[];
  /**
   * With `since`: true when `publications` continue exactly after `since` (same epoch, nothing
   * missing). False when the epoch changed or the retained history starts after `since.offset + 1`;
   * `publications` then holds what is retained (all of it when the epoch changed).
   * Without `since`: always true.
   */
  recovered: boolean;
}

/**
 * Result of {@link Broker.historyMessages}: {@link HistoryResult} with the stored texts in place of
 * parsed publications.
 */
export interface MessageHistoryResult extends Omit<HistoryResult, 'publications'> {
  /** The publications as stored (exact text, header fields, parse on demand), oldest first. */
  messages: PublicationMessage[];
}

/** Result of {@link Broker.state}. */
export interface ChannelState {
  /** The channel's current epoch. */
  epoch: string;
  /** The channel's current offset (0 when nothing was published in this epoch). */
  offset: number;
  /** The newest publication, or null when none is retained. */
  latest: Publication | null;
}

/** Why a subscription lost continuity. */
export type ResetReason = 'epoch_changed' | 'history_too_short' | 'resubscribed';

/** Passed to {@link BrokerHandler.onReset}. */
export interface ResetEvent {
  /** The channel concerned. */
  channel: string;
  /** Why continuity was lost. */
  reason: ResetReason;
  /** The channel's current epoch. */
  epoch: string;
  /** The channel's current offset. */
  offset: number;
  /** The newest publication (current state), or null. */
  latest: Publication | null;
}

/** Callbacks of one broker subscription. */
export interface BrokerHandler {
  /**
   * Called for each publication on the channel, in offset order, each once — unless
   * {@link BrokerHandler.onMessage} is given and the broker supports it.
   */
  onPublication(publication: Publication): void;
  /**
   * Optional: called instead of {@link BrokerHandler.onPublication} by brokers that carry the
   * publication's text (both taskpulse brokers do), with the exact JSON text and the header fields
   * (channel, epoch, offset, priority); the publication is parsed only if
   * {@link PublicationMessage.publication} is called. Same order and once-only guarantees.
   * A hub passes the text through to its sockets without parsing and re-serializing it.
   */
  onMessage?(message: PublicationMessage): void;
  /**
   * Called when the broker lost publications it cannot recover (for example Redis restarted
   * without persistence). Delivery goes on from the new position afterwards.
   */
  onReset?(event: ResetEvent): void;
}

/** A live broker subscription. */
export interface BrokerSubscription {
  /** The channel subscribed to. */
  readonly channel: string;
  /** Stops delivery to this handler; the backend subscription is dropped after the last one. */
  unsubscribe(): Promise<void>;
}

/** Connection state of a broker, for readiness probes. */
export type BrokerStatus = 'ready' | 'connecting' | 'down' | 'closed';

/**
 * The backplane interface a hub takes. See the module description for the semantics.
 */
export interface Broker {
  /**
   * Publishes `data` as `event` on `channel`.
   * @returns the offset and epoch assigned
   * @throws TaskpulseError `bad_channel`, `unknown_channel`, `payload_too_large`, `unavailable`
   */
  publish(channel: string, event: string, data: unknown, options?: PublishOptions): Promise<PublishResult>;
  /**
   * Subscribes a handler to a channel. Resolves when the subscription is live.
   * Subscriptions are reference-counted: one backend subscription per channel per process.
   */
  subscribe(channel: string, handler: BrokerHandler): Promise<BrokerSubscription>;
  /** Reads a channel's history (see {@link HistoryOptions}). */
  history(channel: string, options?: HistoryOptions): Promise<HistoryResult>;
  /**
   * Optional: {@link Broker.history} with the stored texts instead of parsed publications (same
   * semantics; unreadable stored entries are skipped in both). Used by hubs for recovery reads.
   */
  historyMessages?(channel: string, options?: HistoryOptions): Promise<MessageHistoryResult>;
  /** Reads a channel's current position and newest publication. */
  state(channel: string): Promise<ChannelState>;
  /** The options of a channel's namespace (kind, history size, access…). Throws `bad_channel`. */
  namespaceOptions(channel: string): NamespaceOptions;
  /** The current connection state. */
  status(): BrokerStatus;
  /** Releases every connection and subscription. Idempotent. */
  close(): Promise<void>;
}
