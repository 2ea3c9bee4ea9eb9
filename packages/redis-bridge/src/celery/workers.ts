/**
 * Per-worker state from `worker-online` / `worker-heartbeat` / `worker-offline`: liveness with a
 * heartbeat timeout (no `worker-offline` is sent when a worker is killed), and whether the worker
 * sends task events at all.
 * @module
 */
import type { CeleryEvent, CeleryWorker } from '@taskpulse/protocol/payloads';

/** @internal One worker's bookkeeping. */
export interface WorkerRecord {
  hostname: string;
  status: CeleryWorker['status'];
  freq?: number;
  lastHeartbeat?: number;
  /** Local time (ms) of the last event from this worker (its liveness). */
  lastSeenMs: number;
  active?: number;
  processed?: number;
  loadavg?: number[];
  swVer?: string;
  taskEvents: CeleryWorker['task_events'];
  /** Local time (ms) of the last task event from this worker. */
  lastTaskEventMs: number;
  /** The previous heartbeat: local time and processed count. */
  prevHeartbeat?: { atMs: number; processed: number };
  /** A pending check: tasks finished after `sinceMs`, an event must have announced them. */
  check?: { sinceMs: number };
}

/** @internal What a worker event changed. */
export interface WorkerChange {
  /** The workers state changed (publish it). */
  changed: boolean;
  /** The worker went from online to offline: its tasks are gone. */
  wentOffline?: WorkerRecord;
  /**
   * The worker (re)started (`worker-online`): tasks still listed for it belong to a previous run
   * of that hostname (killed and restarted faster than the heartbeat timeout) and are gone.
   */
  restarted?: WorkerRecord;
  /** A warning to log (task events disabled). */
  warning?: string;
}

/** @internal */
export function publicWorker(w: WorkerRecord): CeleryWorker {
  return {
    hostname: w.hostname,
    status: w.status,
    ...(w.freq !== undefined ? { freq: w.freq } : {}),
    ...(w.lastHeartbeat !== undefined ? { last_heartbeat: w.lastHeartbeat } : {}),
    ...(w.active !== undefined ? { active: w.active } : {}),
    ...(w.processed !== undefined ? { processed: w.processed } : {}),
    ...(w.loadavg !== undefined ? { loadavg: w.loadavg } : {}),
    ...(w.swVer !== undefined ? { sw_ver: w.swVer } : {}),
    task_events: w.taskEvents,
  };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** @internal The workers table. */
export class WorkerTable {
  readonly workers = new Map<string, WorkerRecord>();
  readonly #maxWorkers: number;
  constructor(maxWorkers: number) {
    this.#maxWorkers = maxWorkers;
  }

  get(hostname: string, nowMs: number): WorkerRecord {
    let w = this.workers.get(hostname);
    if (!w) {
      if (this.workers.size >= this.#maxWorkers) {
        // Forget the oldest gone worker first.
        for (const [name, old] of this.workers) {
          if (old.status !== 'online') {
            this.workers.delete(name);
            break;
          }
        }
      }
      w = { hostname, status: 'online', lastSeenMs: nowMs, taskEvents: 'unknown', lastTaskEventMs: 0 };
      this.workers.set(hostname, w);
    }
    return w;
  }

  /** A task event from a worker: it is alive and sends task events. */
  taskEvent(hostname: string, nowMs: number): WorkerChange {
    const w = this.get(hostname, nowMs);
    w.lastSeenMs = nowMs;
    w.lastTaskEventMs = nowMs;
    let changed = false;
    if (w.taskEvents !== 'enabled') {
      w.taskEvents = 'enabled';
      changed = true;
    }
    if (w.status !== 'online') {
      w.status = 'online';
      changed = true;
    }
    return { changed };
  }

  /** `worker-online`, `worker-heartbeat` or `worker-offline`. */
  workerEvent(event: CeleryEvent, nowMs: number): WorkerChange {
    const w = this.get(event.hostname, nowMs);
    const e = event as CeleryEvent & Record<string, unknown>;
    w.freq = num(e.freq) ?? w.freq;
    w.lastHeartbeat = event.timestamp;
    w.active = num(e.active) ?? w.active;
    const processed = num(e.processed);
    if (Array.isArray(e.loadavg)) w.loadavg = e.loadavg.filter((x): x is number => typeof x === 'number');
    if (typeof e.sw_ver === 'string') w.swVer = e.sw_ver;
    w.lastSeenMs = nowMs;
    const result: WorkerChange = { changed: true };
    if (event.type === 'worker-offline') {
      if (w.status === 'online') result.wentOffline = w;
      w.status = 'offline';
      w.check = undefined;
      w.prevHeartbeat = undefined;
      if (processed !== undefined) w.processed = processed;
      return result;
    }
    if (event.type === 'worker-online') {
      w.prevHeartbeat = undefined;
      w.check = undefined;
      result.restarted = w;
    }
    w.status = 'online';
    // Task events disabled: tasks finished between the previous two heartbeats and no task
    // event arrived since (events go out within milliseconds; heartbeats every `freq` s).
    if (w.check && w.lastTaskEventMs < w.check.sinceMs && w.taskEvents !== 'disabled') {
      w.taskEvents = 'disabled';
      result.warning =
        `Celery worker ${w.hostname} finished tasks but sent no task events: start it with -E ` +
        '(worker_send_task_events=True) or call app.control.enable_events()';
    }
    w.check = undefined;
    if (processed !== undefined) {
      const prev = w.prevHeartbeat;
      if (prev && processed > prev.processed) w.check = { sinceMs: prev.atMs };
      w.prevHeartbeat = { atMs: nowMs, processed };
      w.processed = processed;
    }
    return result;
  }

  /** A `enable_events`/`disable_events` broadcast. */
  control(method: string, destination: string[] | null): boolean {
    let changed = false;
    for (const w of this.workers.values()) {
      if (destination && !destination.includes(w.hostname)) continue;
      const next = method === 'disable_events' ? 'disabled' : 'unknown';
      // Finished tasks seen before the broadcast say nothing about the new setting.
      w.check = undefined;
      if (w.taskEvents !== next && !(next === 'unknown' && w.taskEvents === 'enabled')) {
        w.taskEvents = next;
        changed = true;
      }
    }
    return changed;
  }

  /** Online workers whose heartbeats stopped: marks them `lost` and returns them. */
  expire(nowMs: number, timeoutMs: (w: WorkerRecord) => number): WorkerRecord[] {
    const lost: WorkerRecord[] = [];
    for (const w of this.workers.values()) {
      if (w.status === 'online' && nowMs - w.lastSeenMs > timeoutMs(w)) {
        w.status = 'lost';
        w.check = undefined;
        w.prevHeartbeat = undefined;
        lost.push(w);
      }
    }
    return lost;
  }

  list(): CeleryWorker[] {
    return [...this.workers.values()].sort((a, b) => a.hostname.localeCompare(b.hostname)).map(publicWorker);
  }
}
