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
  createNamespaceResolver,
  type HistoryOptions,
  type HistoryResult,
  type NamespaceOptions,
  type NamespaceTable,
  type Publication,
  type PublishOptions,
  type PublishResult,
  preparePublish,
  TaskpulseError,
} from '@taskpulse/protocol';

/** Options of {@link createMemoryBroker}. */
export interface MemoryBrokerOptions extends NamespaceTable {
  /**
   * Called when a subscriber's handler throws; the error never reaches the publisher.
   * @default ignore
   */
  onError?: (error: unknown, context: { channel: string }) => void;
  /**
   * How often expired channels are swept from memory, in ms (they also expire lazily on access).
   * @default 60000
   */
  sweepIntervalMs?: number;
  /** The clock, in ms since the Unix epoch. @default Date.now */
  now?: () => number;
}

interface MemoryChannel {
  epoch: string;
  offset: number;
  /** Retained publications, oldest first, at most historySize. */
  history: Publication[];
  expiresAt: number;
  handlers: Set<BrokerHandler>;
}

function newEpoch(): string {
  return globalThis.crypto.randomUUID().replace(/-/g, '').slice(0, 12);
}

/**
 * Creates an in-memory broker. Publications are serialized to JSON and back, as over Redis, so
 * what subscribers see does not depend on the broker.
 *
 * @example
 * ```ts
 * const broker = createMemoryBroker({ namespaces: SEED_NAMESPACES });
 * await broker.subscribe('task:1', { onPublication: (p) => render(p.offset, p.data) });
 * await broker.publish('task:1', 'progress', { progress: 50 });
 * ```
 */
export function createMemoryBroker(options: MemoryBrokerOptions = {}): Broker {
  const resolve = createNamespaceResolver(options);
  const now = options.now ?? Date.now;
  const channels = new Map<string, MemoryChannel>();
  let closed = false;

  const sweep = setInterval(() => {
    const t = now();
    for (const [name, ch] of channels) {
      if (ch.expiresAt <= t && ch.handlers.size === 0) channels.delete(name);
    }
  }, options.sweepIntervalMs ?? 60_000);
  sweep.unref?.();

  function ensureOpen(): void {
    if (closed) throw new TaskpulseError('unavailable', 'broker is closed');
  }

  /** Returns the live channel record, creating it (new epoch) when absent or expired. */
  function channel(name: string, ns: NamespaceOptions): MemoryChannel {
    let ch = channels.get(name);
    const t = now();
    if (ch && ch.expiresAt <= t) {
      // History expired: a new generation with a new epoch; subscribers stay.
      ch = { epoch: newEpoch(), offset: 0, history: [], expiresAt: t + ns.historyTtlMs, handlers: ch.handlers };
      channels.set(name, ch);
    }
    if (!ch) {
      ch = { epoch: newEpoch(), offset: 0, history: [], expiresAt: t + ns.historyTtlMs, handlers: new Set() };
      channels.set(name, ch);
    }
    return ch;
  }

  const broker: Broker = {
    async publish(name: string, event: string, data: unknown, opts: PublishOptions = {}): Promise<PublishResult> {
      ensureOpen();
      const ns = resolve(name);
      // The same validation as every broker (Redis included), before anything is stored.
      const input = preparePublish(ns, name, event, data, opts, now);
      const ch = channel(name, ns);
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
      ch.history.push(publication);
      if (ch.history.length > ns.historySize) ch.history.splice(0, ch.history.length - ns.historySize);
      ch.expiresAt = now() + ns.historyTtlMs;
      for (const handler of ch.handlers) {
        try {
          handler.onPublication(publication);
        } catch (error) {
          options.onError?.(error, { channel: name });
        }
      }
      return { channel: name, epoch: ch.epoch, offset: ch.offset };
    },

    async subscribe(name: string, handler: BrokerHandler): Promise<BrokerSubscription> {
      ensureOpen();
      const ns = resolve(name);
      const ch = channel(name, ns);
      // Copy the handler so that the same object can subscribe twice and be counted twice.
      const entry: BrokerHandler = {
        onPublication: (p) => handler.onPublication(p),
        ...(handler.onReset ? { onReset: (e) => handler.onReset?.(e) } : {}),
      };
      ch.handlers.add(entry);
      let active = true;
      return {
        channel: name,
        async unsubscribe() {
          if (!active) return;
          active = false;
          channels.get(name)?.handlers.delete(entry);
        },
      };
    },

    async history(name: string, opts: HistoryOptions = {}): Promise<HistoryResult> {
      ensureOpen();
      const ns = resolve(name);
      const ch = channel(name, ns);
      const limit = opts.limit ?? Number.POSITIVE_INFINITY;
      if (limit < 0 || Number.isNaN(limit)) throw new TaskpulseError('bad_request', 'limit must be >= 0');
      const since = opts.since;
      if (!since) {
        const publications =
          limit === Number.POSITIVE_INFINITY ? ch.history.slice() : limit === 0 ? [] : ch.history.slice(-limit);
        return { epoch: ch.epoch, offset: ch.offset, publications, recovered: true };
      }
      if (since.epoch !== ch.epoch) {
        return { epoch: ch.epoch, offset: ch.offset, publications: ch.history.slice(0, limit), recovered: false };
      }
      const after = ch.history.filter((p) => p.offset > since.offset);
      const first = after[0];
      const complete = since.offset >= ch.offset || (first !== undefined && first.offset === since.offset + 1);
      return {
        epoch: ch.epoch,
        offset: ch.offset,
        publications: after.slice(0, limit),
        recovered: complete && since.offset <= ch.offset,
      };
    },

    async state(name: string): Promise<ChannelState> {
      ensureOpen();
      const ns = resolve(name);
      const ch = channel(name, ns);
      return { epoch: ch.epoch, offset: ch.offset, latest: ch.history[ch.history.length - 1] ?? null };
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
    },
  };
  return broker;
}
