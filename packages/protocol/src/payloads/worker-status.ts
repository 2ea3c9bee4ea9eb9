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
  running: z.boolean(),
  workers: count,
  queue_pending: count,
  queue_retry: count,
  queue_dead: count,
  processed_total: count,
  processed_today: count,
  /** Tasks per second. */
  speed: z.number().nonnegative(),
  last_error: z.string().nullable(),
});

/** The worker status of seed 000. */
export type WorkerStatus = z.infer<typeof workerStatusSchema>;

/** The Redis pub/sub channel the seed 000 worker publishes to (not a taskpulse channel). */
export const WORKER_STATUS_REDIS_CHANNEL = 'processor:status:realtime';
