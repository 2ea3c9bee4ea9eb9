/**
 * The BullMQ source's options, mapping type and counters.
 * @module
 */
import type { BridgeSource } from '../bridge-runner';
import type { BullmqStreamEvent } from './events';

/** One native publication produced by a {@link BullmqMapping}. */
export interface BullmqPublication {
  /** The taskpulse channel, e.g. `test-progress:stress_123`. */
  channel: string;
  /** The event name, e.g. `test:progress`. */
  event: string;
  /** The data. */
  data: unknown;
  /** Priority 1–4 (1 critical … 4 low). @default none */
  priority?: number;
}

/**
 * Maps one BullMQ event to the publications to republish (none to skip it). May be async (to load
 * the job with `event.job()`); a mapping that throws counts the entry as invalid and moves on.
 */
export type BullmqMapping = (
  event: BullmqStreamEvent,
) => readonly BullmqPublication[] | null | Promise<readonly BullmqPublication[] | null>;

/** Options of {@link createBullmqSource}. */
export interface BullmqSourceOptions {
  /** The BullMQ queue name, e.g. `tests`. */
  queue: string;
  /** The mapping from BullMQ events to publications (see `testQueueMapping` for seed 003's). */
  map: BullmqMapping;
  /**
   * BullMQ's key prefix (its `prefix` option).
   * @default 'bull'
   */
  bullmqPrefix?: string;
  /**
   * The events passed to `map`; entries of other events (`waiting`, `drained`, `delayed`…) are
   * skipped (counted as received, nothing published).
   * @default ['added', 'active', 'progress', 'completed', 'failed', 'stalled', 'removed']
   */
  events?: readonly string[];
  /**
   * Where to start when no position is stored yet: `'end'` (events written from now on) or
   * `'beginning'` (everything the stream still holds).
   * @default 'end'
   */
  startAt?: 'end' | 'beginning';
  /**
   * The key holding the last republished stream id.
   * @default `<taskpulse prefix>bridge:bullmq:<bullmqPrefix>:<queue>:cursor`
   */
  cursorKey?: string;
  /** taskpulse's key prefix (to check the history of the first entry after a restart). @default 'taskpulse:' */
  prefix?: string;
  /**
   * Entries read per XREAD.
   * @default 100
   */
  batchSize?: number;
  /**
   * How long one XREAD blocks waiting for new entries, in ms.
   * @default 1000
   */
  blockMs?: number;
  /**
   * Delay before reading again after Redis failed, in ms.
   * @default 500
   */
  retryDelayMs?: number;
}

/** Counters of a BullMQ source beyond the runner's. */
export interface BullmqSourceStats {
  /** The last stream id republished (the cursor), or null before the first. */
  cursor: string | null;
  /** Entries skipped because their event is not mapped. */
  skipped: number;
  /** Publications not sent again after a restart because the channel already had them. */
  alreadyPublished: number;
  /** Times the stream had been trimmed past the cursor (events may have been lost while no bridge ran). */
  gaps: number;
}

/** A BullMQ source with its extra counters. */
export interface BullmqSource extends BridgeSource {
  /** Counters. */
  sourceStats(): BullmqSourceStats;
}
