/**
 * The Redis broker: the {@link Broker} interface composed from the Publisher, the Subscriber and
 * the history reader over one command connection and one pub/sub connection.
 * @module
 */
import {
  type Broker,
  type BrokerStatus,
  createNamespaceResolver,
  type HistoryOptions,
  type MessageHistoryResult,
  type NamespaceTable,
  TaskpulseError,
} from '@taskpulse/protocol';
import { ensureReady } from './bounded';
import {
  closeClient,
  combineStates,
  type ErrorHook,
  errorHookOf,
  openConnection,
  type RedisConnectionOptions,
  trackConnection,
} from './connection';
import { historyMessagesOn, historyOn, readerOn, stateOn } from './history-reader';
import { dedupeWindow, type PublisherOptions, publisherOn } from './publisher';
import { type SubscriberOptions, type SubscriberStats, subscriberOn } from './subscriber';

/** Options of {@link createRedisBroker}. */
export interface RedisBrokerOptions
  extends RedisConnectionOptions,
    NamespaceTable,
    Pick<
      SubscriberOptions,
      | 'recoveryBatchSize'
      | 'recoveryRetryDelayMs'
      | 'maxBufferedPerChannel'
      | 'envelopeAllowanceBytes'
      | 'verifyLiveMessages'
    > {
  /**
   * Called with errors that have no caller to reject (invalid inbound messages, failed
   * background recovery, throwing handlers).
   * @default a warning through `logger`
   */
  onError?: ErrorHook;
  /** The clock for publication timestamps, in ms since the Unix epoch. @default Date.now */
  now?: () => number;
  /**
   * How long a publication `id` is remembered per channel, in ms: the same `id` published again
   * within it (a retry) publishes nothing and resolves with the first position (`duplicate: true`).
   * 0 turns it off.
   * @default 300000
   */
  dedupeWindowMs?: PublisherOptions['dedupeWindowMs'];
}

/** A {@link Broker} on Redis, with counters and a readiness wait. */
export interface RedisBroker extends Broker {
  /**
   * Subscriber counters (see {@link SubscriberStats}) and `redisErrors`: the Redis `error` events
   * seen on the broker's own connections (each is also logged through `logger`, throttled).
   */
  stats(): SubscriberStats & {
    /** Redis `error` events seen on the broker's own connections since it was created. */
    redisErrors: number;
  };
  /**
   * {@link Broker.history} with the stored texts: each publication as written by the publish
   * script, with its header, parsed only on demand (what a hub passes through to its sockets).
   */
  historyMessages(channel: string, options?: HistoryOptions): Promise<MessageHistoryResult>;
  /**
   * Resolves when both connections are ready; rejects with `unavailable` after `commandTimeoutMs`.
   * Useful at startup; every call also waits (bounded) by itself.
   */
  ready(): Promise<void>;
}

/**
 * Creates a broker on Redis (a single node or a Cluster), for hubs that scale out.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { SEED_NAMESPACES } from '@taskpulse/protocol';
 * import { createRedisBroker } from '@taskpulse/redis-bridge';
 *
 * const broker = createRedisBroker({ redis: new Redis(process.env.REDIS_URL), namespaces: SEED_NAMESPACES });
 * await broker.subscribe('task:42', { onPublication: (p) => render(p.offset, p.data) });
 * await broker.publish('task:42', 'progress', { progress: 50 });
 * ```
 */
export function createRedisBroker(options: RedisBrokerOptions): RedisBroker {
  const resolve = createNamespaceResolver(options, 'createRedisBroker');
  const connection = openConnection(options);
  const shared = { ...connection, owned: false };
  const onError = errorHookOf(options.onError, connection.logger);
  const publish = publisherOn(shared, resolve, options.now ?? Date.now, undefined, dedupeWindow(options));
  const read = readerOn(shared, resolve, onError);
  const history = historyOn(read, onError);
  const historyMessages = historyMessagesOn(read);
  const state = stateOn(read, onError);
  const subscriber = subscriberOn(shared, resolve, options);
  const tracker = trackConnection(connection.client);
  let closed = false;

  const ensureOpen = () => {
    if (closed) throw new TaskpulseError('unavailable', 'broker is closed');
  };

  return {
    async publish(channel, event, data, publishOptions) {
      ensureOpen();
      return publish(channel, event, data, publishOptions);
    },
    async subscribe(channel, handler) {
      ensureOpen();
      return subscriber.subscribe(channel, handler);
    },
    async history(channel, historyOptions) {
      ensureOpen();
      return history(channel, historyOptions);
    },
    async historyMessages(channel, historyOptions) {
      ensureOpen();
      return historyMessages(channel, historyOptions);
    },
    async state(channel) {
      ensureOpen();
      return state(channel);
    },
    namespaceOptions: resolve,
    status(): BrokerStatus {
      if (closed) return 'closed';
      const sub = subscriber.status();
      return combineStates([tracker.state(), sub === 'closed' ? 'down' : sub]);
    },
    stats: () => ({ ...subscriber.stats(), redisErrors: connection.errors.count }),
    async ready() {
      ensureOpen();
      const deadline = Date.now() + connection.commandTimeoutMs;
      await ensureReady(connection.client, deadline, 'connect');
      // The pub/sub connection reports through status(); wait for it the same way.
      while (subscriber.status() !== 'ready') {
        if (Date.now() > deadline) throw new TaskpulseError('unavailable', 'pub/sub connection is not ready');
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      tracker.dispose();
      await subscriber.close();
      if (connection.owned) await closeClient(connection.client);
    },
  };
}
