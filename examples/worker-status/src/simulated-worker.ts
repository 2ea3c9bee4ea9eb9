/**
 * A stand-in for seed 000's Python worker: after each "task" it publishes the full status.
 * In the Redis setup the real Python worker (worker.py) publishes the same JSON instead.
 */
import type { WorkerStatus } from '@taskpulse/protocol/payloads';

/** Options of {@link startSimulatedWorker}. */
export interface SimulatedWorkerOptions {
  /** Publishes one status. */
  publish(status: WorkerStatus): Promise<unknown>;
  /** Time between tasks, in ms. @default 700 */
  taskIntervalMs?: number;
}

/** Starts the simulated worker; returns a function that stops it. */
export function startSimulatedWorker(options: SimulatedWorkerOptions): () => void {
  const status: WorkerStatus = {
    running: true,
    workers: 3,
    queue_pending: 156,
    queue_retry: 2,
    queue_dead: 0,
    processed_total: 1234,
    processed_today: 89,
    speed: 2.5,
    last_error: null,
  };
  let n = 0;
  const timer = setInterval(() => {
    n++;
    // One task done: counts move, and every 7th task fails into the retry queue (seed 000's errors).
    status.processed_total++;
    status.processed_today++;
    status.queue_pending = Math.max(0, status.queue_pending - 1 + (n % 3 === 0 ? 2 : 0));
    if (n % 7 === 0) {
      status.queue_retry++;
      status.last_error = `task ${status.processed_total} failed: timeout after 30s`;
    }
    status.speed = Math.round((1.5 + Math.random() * 2) * 10) / 10;
    void options.publish({ ...status }).catch(() => undefined);
  }, options.taskIntervalMs ?? 700);
  timer.unref();
  return () => clearInterval(timer);
}
