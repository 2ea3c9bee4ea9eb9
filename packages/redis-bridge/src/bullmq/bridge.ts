/**
 * `createBullmqBridge`: the BullMQ source run by the bridge runner, behind the lease.
 * @module
 */
import { type BridgeRunner, type BridgeRunnerOptions, createBridgeRunner } from '../bridge-runner';
import type { BullmqSourceOptions, BullmqSourceStats } from './options';
import { createBullmqSource } from './source';

/** Options of {@link createBullmqBridge}: the runner's (Redis, namespaces, lease, logger) and the source's. */
export interface BullmqBridgeOptions extends Omit<BridgeRunnerOptions, 'source'>, Omit<BullmqSourceOptions, 'prefix'> {}

/** A running BullMQ bridge. */
export interface BullmqBridge extends BridgeRunner {
  /** The source's counters (cursor, skipped entries, gaps). */
  sourceStats(): BullmqSourceStats;
}

/**
 * Creates a BullMQ bridge: adopts a queue's event stream (`<bullmqPrefix>:<queue>:events`) and
 * republishes job events natively through `map`, resuming from the last republished stream id
 * (stored in Redis) after a restart or a failover. Publication ids are
 * `bullmq:<queue>:<stream id>:<index>`. Bad entries are counted (`stats().invalid`) and logged;
 * the bridge keeps running. Run several instances for availability: the lease lets one read.
 * No change to the workers: BullMQ writes the stream itself.
 *
 * @example
 * ```ts
 * import { SEED_NAMESPACES } from '@taskpulse/protocol';
 * import { createBullmqBridge, testQueueMapping } from '@taskpulse/redis-bridge';
 *
 * const bridge = createBullmqBridge({
 *   redis: process.env.REDIS_URL!,
 *   namespaces: SEED_NAMESPACES,
 *   queue: 'tests',
 *   map: testQueueMapping(),
 *   lease: { ttlMs: 5000 },
 * });
 * ```
 */
export function createBullmqBridge(options: BullmqBridgeOptions): BullmqBridge {
  const { queue, map, bullmqPrefix, events, startAt, cursorKey, batchSize, blockMs, retryDelayMs, ...runnerOptions } =
    options;
  const source = createBullmqSource({
    queue,
    map,
    ...(bullmqPrefix !== undefined ? { bullmqPrefix } : {}),
    ...(events !== undefined ? { events } : {}),
    ...(startAt !== undefined ? { startAt } : {}),
    ...(cursorKey !== undefined ? { cursorKey } : {}),
    ...(batchSize !== undefined ? { batchSize } : {}),
    ...(blockMs !== undefined ? { blockMs } : {}),
    ...(retryDelayMs !== undefined ? { retryDelayMs } : {}),
    ...(runnerOptions.prefix !== undefined ? { prefix: runnerOptions.prefix } : {}),
  });
  const runner = createBridgeRunner({ ...runnerOptions, source });
  return Object.assign(runner, { sourceStats: () => source.sourceStats() });
}
