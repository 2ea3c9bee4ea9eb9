/**
 * The in-memory broker: the {@link Broker} semantics in one process, with no Redis. It is the
 * hub's embedded default (the demo, single-process deployments, tests).
 * @module
 */
import {
  type Broker,
  type BrokerHandler,
  type BrokerStatus,
  type BrokerSubscription,
  type ChannelState,
  continuesGeneration,
  createNamespaceResolver,
  EMPTY_EPOCH,
  type HistoryOptions,
  type HistoryResult,
  type MessageHistoryResult,
  messageOf,
  type NamespaceOptions,
  type NamespaceTable,
  type Publication,
  type PublicationMessage,
  type PublishOptions,
  type PublishResult,
  preparePublish,
  TaskpulseError,
  type TaskpulseLogger,
} from '@taskpulse/protocol';

/** Options of {@link createMemoryBroker}. */
export interface MemoryBrokerOptions extends NamespaceTable {
  /**
   * Called when a subscriber's handler throws; the error never reaches the publisher.
   * @default a warning through `logger`
   */
  onError?: (error: unknown, context: { channel: string }) => void;
  /** Where failures without a caller are logged (when no `onError` is given). @default silent */
  logger?: TaskpulseLogger;
  /**
   * How often expired channels are swept from memory, in ms (they also expire lazily on access).
   * @default 60000
   */
  sweepIntervalMs?: number;
  /** The clock, in ms since the Unix epoch. @default Date.now */
  now?: () => number;
  /**
   * How long a publication `id` is remembered per channel, in ms: the same `id` published again
   * within it publishes nothing and resolves with the first position (`duplicate: true`), as the
   * Redis broker does. 0 turns it off.
   * @default 300000
   */
  dedupeWindowMs?: number;
}

interface MemoryChannel {
  epoch: string;
  offset: number;
  /** Publication ids of this generation → their offset and when they are forgotten. */
  ids?: Map<string, { offset: number; until: number }>;
  /** Retained publications with their text, oldest first, at most historySize. */
  history: PublicationMessage[];
  expiresAt: number;
}

/** What a read sees of a channel that does not exist: the empty position. */
const EMPTY_CHANNEL: Readonly<MemoryChannel> = Object.freeze({
  epoch: EMPTY_EPOCH,
  offset: 0,
  history: [] as PublicationMessage[],
  expiresAt: Number.POSITIVE_INFINITY,
});

function newEpoch(): string {
  return globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 12);
}

/**
 * Creates an in-memory broker. Publications are serialized to JSON and back, as over Redis, so
 * what subscribers see does not depend on the broker; handlers with `onMessage` get the same
 * canonical text as the Redis broker's.
 *
 * @example
 * ```ts
 * const broker = createMemoryBroker({ namespaces: SEED_NAMESPACES });
 * await broker.subscribe('task:1', { onPublication: (p) => render(p.offset, p.data) });
 * await broker.publish('task:1', 'progress', { progress: 50 });
 * ```
 */
export function createMemoryBroker(options: MemoryBrokerOptions = {}): Broker {
  const resolve = createNamespaceResolver(options, 'createMemoryBroker');
  const now = options.now ?? Date.now;
  const channels = new Map<string, MemoryChannel>();
  // Subscribers by channel, apart from the data: subscribing creates no channel, and the entry
  // goes with the last subscriber.
  const handlersOf = new Map<string, Set<BrokerHandler>>();
  const dedupeWindowMs = options.dedupeWindowMs ?? 300_000;
  if (!Number.isSafeInteger(dedupeWindowMs) || dedupeWindowMs < 0) {
    throw new TypeError('createMemoryBroker: dedupeWindowMs must be a non-negative integer number of milliseconds');
  }
  let closed = false;

  const sweep = setInterval(() => {
    const t = now();
    for (const [name, ch] of channels) {
      if (ch.expiresAt <= t) channels.delete(name);
    }
  }, options.sweepIntervalMs ?? 60_000);
  sweep.unref?.();

  function ensureOpen(): void {
    if (closed) throw new TaskpulseError('unavailable', 'broker is closed');
  }

  /** The channel as reads see it: its record, or the empty position when absent or expired. Creates nothing. */
  function peek(name: string): Readonly<MemoryChannel> {
    const ch = channels.get(name);
    if (!ch) return EMPTY_CHANNEL;
    if (ch.expiresAt <= now()) {
      channels.delete(name);
      return EMPTY_CHANNEL;
    }
    return ch;
  }

  /** The channel record a publication goes into, creating it (new epoch) when absent or expired. */
  function channel(name: string, ns: NamespaceOptions): MemoryChannel {
    let ch = peek(name) as MemoryChannel;
    if (ch === EMPTY_CHANNEL) {
      // A new generation with a new epoch; subscribers stay (they are kept apart).
      ch = { epoch: newEpoch(), offset: 0, history: [], expiresAt: now() + ns.historyTtlMs };
      channels.set(name, ch);
    }
    return ch;
  }

  /** A history read (see {@link Broker.history}), with the stored messages. */
  function readHistory(name: string, opts: HistoryOptions): MessageHistoryResult {
    ensureOpen();
    resolve(name);
    const ch = peek(name);
    const limit = opts.limit ?? Number.POSITIVE_INFINITY;
    if (limit < 0 || Number.isNaN(limit)) throw new TaskpulseError('bad_request', 'limit must be >= 0');
    const since = opts.since;
    if (!since) {
      const messages =
        limit === Number.POSITIVE_INFINITY ? ch.history.slice() : limit === 0 ? [] : ch.history.slice(-limit);
      return { epoch: ch.epoch, offset: ch.offset, messages, recovered: true };
    }
    if (!continuesGeneration(since, ch.epoch)) {
      return { epoch: ch.epoch, offset: ch.offset, messages: ch.history.slice(0, limit), recovered: false };
    }
    const after = ch.history.filter((m) => m.offset > since.offset);
    const first = after[0];
    const complete = since.offset >= ch.offset || (first !== undefined && first.offset === since.offset + 1);
    return {
      epoch: ch.epoch,
      offset: ch.offset,
      messages: after.slice(0, limit),
      recovered: complete && since.offset <= ch.offset,
    };
  }

  const broker: Broker = {
    async publish(name: string, event: string, data: unknown, opts: PublishOptions = {}): Promise<PublishResult> {
      ensureOpen();
      const ns = resolve(name);
      // The same validation as every broker (Redis included), before anything is stored.
      const input = preparePublish(ns, name, event, data, opts, now);
      const ch = channel(name, ns);
      if (input.id !== undefined && dedupeWindowMs > 0) {
        const seen = ch.ids?.get(input.id);
        if (seen && seen.until > now()) return { channel: name, epoch: ch.epoch, offset: seen.offset, duplicate: true };
        ch.ids ??= new Map();
        // Ids are kept in the order they expire (each is re-inserted at the end with a full window),
        // so the expired ones are at the head: forgetting them costs nothing per live id, however
        // many publications with an id the window holds.
        const t = now();
        for (const [k, v] of ch.ids) {
          if (v.until > t) break;
          ch.ids.delete(k);
        }
        ch.ids.delete(input.id);
        ch.ids.set(input.id, { offset: ch.offset + 1, until: t + dedupeWindowMs });
      }
      ch.offset += 1;
      const publication: Publication = {
        channel: name,
        offset: ch.offset,
        epoch: ch.epoch,
        event,
        data: JSON.parse(input.dataJson),
        ts: input.ts,
        ...(input.id !== undefined ? { id: input.id } : {}),
        ...(input.priority !== undefined ? { priority: input.priority } : {}),
      };
      const message = messageOf(publication, input.dataJson);
      ch.history.push(message);
      if (ch.history.length > ns.historySize) ch.history.splice(0, ch.history.length - ns.historySize);
      ch.expiresAt = now() + ns.historyTtlMs;
      for (const handler of handlersOf.get(name) ?? []) {
        try {
          if (handler.onMessage) handler.onMessage(message);
          else handler.onPublication(publication);
        } catch (error) {
          if (options.onError) options.onError(error, { channel: name });
          else options.logger?.warn('a subscriber handler threw', { channel: name, error: String(error) });
        }
      }
      return { channel: name, epoch: ch.epoch, offset: ch.offset };
    },

    async subscribe(name: string, handler: BrokerHandler): Promise<BrokerSubscription> {
      ensureOpen();
      resolve(name);
      let handlers = handlersOf.get(name);
      if (!handlers) {
        handlers = new Set();
        handlersOf.set(name, handlers);
      }
      const set = handlers;
      // Copy the handler so that the same object can subscribe twice and be counted twice.
      const entry: BrokerHandler = {
        onPublication: (p) => handler.onPublication(p),
        ...(handler.onMessage ? { onMessage: (m: PublicationMessage) => handler.onMessage?.(m) } : {}),
        ...(handler.onReset ? { onReset: (e) => handler.onReset?.(e) } : {}),
      };
      set.add(entry);
      let active = true;
      return {
        channel: name,
        async unsubscribe() {
          if (!active) return;
          active = false;
          set.delete(entry);
          if (set.size === 0 && handlersOf.get(name) === set) handlersOf.delete(name);
        },
      };
    },

    async history(name: string, opts: HistoryOptions = {}): Promise<HistoryResult> {
      const { messages, ...rest } = readHistory(name, opts);
      return { ...rest, publications: messages.map((m) => m.publication()) };
    },

    async historyMessages(name: string, opts: HistoryOptions = {}): Promise<MessageHistoryResult> {
      return readHistory(name, opts);
    },

    async state(name: string): Promise<ChannelState> {
      ensureOpen();
      resolve(name);
      const ch = peek(name);
      return { epoch: ch.epoch, offset: ch.offset, latest: ch.history[ch.history.length - 1]?.publication() ?? null };
    },

    namespaceOptions(name: string): NamespaceOptions {
      return resolve(name);
    },

    status(): BrokerStatus {
      return closed ? 'closed' : 'ready';
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      channels.clear();
      handlersOf.clear();
    },
  };
  return broker;
}
