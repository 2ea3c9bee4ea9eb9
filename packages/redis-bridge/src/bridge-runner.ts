/**
 * The bridge runner: runs a {@link BridgeSource} (a foreign publisher adapter: raw JSON pub/sub,
 * Celery events…) only while this instance holds the bridge's lease, and republishes what the
 * source emits as native publications. Several instances may run for availability; exactly one
 * republishes at a time.
 * @module
 */
import {
  createNamespaceResolver,
  type NamespaceTable,
  type PublishOptions,
  type PublishResult,
  TaskpulseError,
} from '@taskpulse/protocol';
import {
  closeClient,
  type ErrorHook,
  openConnection,
  type RedisClient,
  type RedisConnectionOptions,
} from './connection';
import { createLease, type Lease } from './lease';
import { PublishNotSentError, publisherOn } from './publisher';

/** What a running source may do. */
export interface BridgeContext {
  /** The bridge's Redis client (duplicate it for a blocking or pub/sub connection). */
  readonly redis: RedisClient;
  /**
   * Republishes natively. Resolves with `null` (and counts it as fenced) when this instance no
   * longer holds the lease, checked when called and again immediately before the command is
   * written, so a paused instance never republishes after another took over.
   */
  publish(channel: string, event: string, data: unknown, options?: PublishOptions): Promise<PublishResult | null>;
  /** Counts one message received from the foreign publisher. */
  received(): void;
  /** Counts and logs one invalid foreign message; the source keeps running. */
  invalid(reason: string, details?: Record<string, unknown>): void;
  /** Reports a failure (counted, logged, passed to `onError`). */
  error(error: unknown, details?: Record<string, unknown>): void;
}

/** A foreign publisher adapter run by {@link createBridgeRunner}. */
export interface BridgeSource {
  /** A short name for logs and the default lease key. */
  readonly name: string;
  /** Starts consuming (called when the lease is acquired). */
  start(context: BridgeContext): Promise<void>;
  /** Stops consuming (called when the lease is lost and on close). Must be idempotent. */
  stop(): Promise<void>;
}

/** Counters of a bridge runner. */
export interface BridgeStats {
  /** Whether this instance holds the lease and runs the source. */
  active: boolean;
  /** Foreign messages received. */
  received: number;
  /** Publications republished. */
  republished: number;
  /** Foreign messages rejected (invalid JSON, schema failure…). */
  invalid: number;
  /**
   * Republish attempts dropped because the lease was no longer held: before the call, or
   * immediately before the command would have been written (nothing was sent).
   */
  fenced: number;
  /** Failures (republish errors, source errors). */
  errors: number;
  /** Times this instance acquired the lease. */
  acquisitions: number;
}

/** Lease settings of a bridge (see {@link LeaseOptions} for the defaults). */
export interface BridgeLeaseOptions {
  /** The lease key. @default `<prefix>bridge:<source name>:lease` */
  key?: string;
  /** How long the lease lives without renewal, in ms (the takeover time). @default 10000 */
  ttlMs?: number;
  /** How often the holder renews, in ms. @default ttlMs / 3 */
  renewIntervalMs?: number;
  /** How often a standby tries to acquire, in ms. @default ttlMs / 5 */
  acquireIntervalMs?: number;
  /** This instance's token. @default random */
  token?: string;
}

/** Options of {@link createBridgeRunner}. */
export interface BridgeRunnerOptions extends RedisConnectionOptions, NamespaceTable {
  /** The source to run while holding the lease. */
  source: BridgeSource;
  /** Lease settings. */
  lease?: BridgeLeaseOptions;
  /** Called with every invalid input and failure, with the reason in the message. @default ignore */
  onError?: ErrorHook;
  /**
   * Delay before starting the source again after it failed to start (while the lease is held), in ms.
   * @default 1000
   */
  restartDelayMs?: number;
}

/** A running bridge. */
export interface BridgeRunner {
  /** The lease (token, holder check). */
  readonly lease: Lease;
  /** Whether this instance is the active one: it holds the lease and its source has started. */
  isActive(): boolean;
  /** Counters. */
  stats(): BridgeStats;
  /** Stops the source, releases the lease and closes owned connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Creates a bridge runner: competes for the lease, runs the source while holding it, and fences
 * republishing by the lease.
 *
 * @example
 * ```ts
 * const runner = createBridgeRunner({ redis, source: mySource, lease: { ttlMs: 5000 }, logger: console });
 * ```
 */
export function createBridgeRunner(options: BridgeRunnerOptions): BridgeRunner {
  const resolve = createNamespaceResolver(options, 'createBridgeRunner');
  const connection = openConnection(options);
  const shared = { ...connection, owned: false };
  const { source } = options;
  // Lease changes (info), invalid input (warn), failures (error), Redis connection errors (warn).
  const logger = connection.logger;
  // Fencing: the lease is checked again immediately before the command is written, since the
  // publish may first wait for the connection for up to commandTimeoutMs, far longer than the
  // lease's safety margin; another instance may have taken over meanwhile.
  const publish = publisherOn(shared, resolve, Date.now, {
    check: () => running && lease.isHeld(),
    reason: `bridge ${source.name} no longer holds its lease`,
  });
  const stats: Omit<BridgeStats, 'active'> = {
    received: 0,
    republished: 0,
    invalid: 0,
    fenced: 0,
    errors: 0,
    acquisitions: 0,
  };
  let running = false;
  /** True once the running source has started (for a pub/sub source: once it is subscribed). */
  let started = false;
  let closed = false;
  // Start/stop calls are chained so the source never runs twice at once.
  let transition: Promise<void> = Promise.resolve();
  let restartTimer: NodeJS.Timeout | undefined;

  const report = (error: TaskpulseError, details?: Record<string, unknown>) => {
    logger.error(`bridge ${source.name}: ${error.message}`, { code: error.code, ...details });
    options.onError?.(error, { source: source.name });
  };

  const context: BridgeContext = {
    redis: connection.client,
    async publish(channel, event, data, publishOptions) {
      if (!lease.isHeld() || !running) {
        stats.fenced++;
        return null;
      }
      let result: PublishResult;
      try {
        result = await publish(channel, event, data, publishOptions);
      } catch (error) {
        if (!(error instanceof PublishNotSentError)) throw error;
        // The lease was lost while the publish waited (for the connection): it was not sent.
        stats.fenced++;
        logger.warn(`bridge ${source.name}: republish to ${channel} skipped: lease no longer held`, {
          channel,
          event,
          token: lease.token,
        });
        return null;
      }
      stats.republished++;
      return result;
    },
    received() {
      stats.received++;
    },
    invalid(reason, details) {
      stats.invalid++;
      logger.warn(`bridge ${source.name}: invalid message: ${reason}`, { reason, ...details });
      options.onError?.(
        new TaskpulseError('bad_frame', `bridge ${source.name}: invalid message: ${reason}`, {
          details: { reason, ...details },
        }),
        { source: source.name },
      );
    },
    error(error, details) {
      stats.errors++;
      report(TaskpulseError.from(error, 'internal'), details);
    },
  };

  const startSource = () => {
    transition = transition.then(async () => {
      if (closed || running || !lease.isHeld()) return;
      running = true;
      stats.acquisitions++;
      logger.info(`bridge ${source.name}: lease acquired, starting`, { token: lease.token });
      try {
        await source.start(context);
        started = running;
      } catch (error) {
        running = false;
        stats.errors++;
        report(TaskpulseError.from(error, 'unavailable'), { phase: 'start' });
        await source.stop().catch(() => {});
        clearTimeout(restartTimer);
        restartTimer = setTimeout(startSource, options.restartDelayMs ?? 1000);
        restartTimer.unref?.();
      }
    });
  };
  const stopSource = (reason: string) => {
    transition = transition.then(async () => {
      if (!running) return;
      running = false;
      started = false;
      logger.info(`bridge ${source.name}: stopping (${reason})`, { token: lease.token });
      await source.stop().catch((error) => report(TaskpulseError.from(error), { phase: 'stop' }));
    });
  };

  const lease: Lease = createLease({
    redis: connection.client,
    key: options.lease?.key ?? `${connection.prefix}bridge:${source.name}:lease`,
    commandTimeoutMs: connection.commandTimeoutMs,
    ...(options.lease?.ttlMs !== undefined ? { ttlMs: options.lease.ttlMs } : {}),
    ...(options.lease?.renewIntervalMs !== undefined ? { renewIntervalMs: options.lease.renewIntervalMs } : {}),
    ...(options.lease?.acquireIntervalMs !== undefined ? { acquireIntervalMs: options.lease.acquireIntervalMs } : {}),
    ...(options.lease?.token !== undefined ? { token: options.lease.token } : {}),
    onAcquired: startSource,
    onLost: (reason) => stopSource(`lease ${reason}`),
    onError: (error) => logger.warn(`bridge ${source.name}: ${error.message}`, { code: error.code }),
  });

  return {
    lease,
    isActive: () => started && running && lease.isHeld(),
    stats: () => ({ active: started && running && lease.isHeld(), ...stats }),
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(restartTimer);
      stopSource('closed');
      await transition;
      await lease.close();
      if (connection.owned) await closeClient(connection.client);
    },
  };
}
