/**
 * Seed 000: the worker status panel. A Python worker PUBLISHes this JSON to the Redis channel
 * `processor:status:realtime` after each task.
 * @module
 */
import { z } from 'zod';

const count = z.number().int().nonnegative();

/**
 * The full worker status, field for field as seed 000 writes it. Unknown extra fields are kept.
 *
 * @example
 * ```json
 * { "running": true, "workers": 3, "queue_pending": 156, "queue_retry": 2, "queue_dead": 0,
 *   "processed_total": 1234, "processed_today": 89, "speed": 2.5, "last_error": null }
 * ```
 */
export const workerStatusSchema = z.looseObject({
  /** Whether the processor is running. */
  running: z.boolean(),
  /** Number of worker processes. */
  workers: count,
  /** Length of the pending queue. */
  queue_pending: count,
  /** Length of the retry queue. */
  queue_retry: count,
  /** Length of the dead-letter queue. */
  queue_dead: count,
  /** Tasks processed since the processor started. */
  processed_total: count,
  /** Tasks processed today. */
  processed_today: count,
  /** Tasks per second. */
  speed: z.number().nonnegative(),
  /** The last error message, or null when the last task succeeded. */
  last_error: z.string().nullable(),
});

/** The worker status of seed 000. */
export type WorkerStatus = z.infer<typeof workerStatusSchema>;

/** The Redis pub/sub channel the seed 000 worker publishes to (not a taskpulse channel). */
export const WORKER_STATUS_REDIS_CHANNEL = 'processor:status:realtime';
