/**
 * The Celery bridge's state machine: turns decoded Celery messages into native publications
 * (task lifecycle events, queue status, workers state), keeps per-task and per-worker state, and
 * ends the running tasks of a worker whose heartbeats stopped with a `lost` event. Pure: the
 * clock is passed in, nothing is published here.
 * @module
 */

import { isValidChannel } from '@taskpulse/protocol';
import {
  type CeleryBackendMessage,
  type CeleryEvent,
  type CeleryQueueStatus,
  type CeleryTaskEvent,
  celeryChannels,
  celeryTerminalStates,
} from '@taskpulse/protocol/payloads';
import { parseArgsRepr, parseKwargsRepr } from './python-repr';
import {
  BACKEND_STANDARD,
  COMMON,
  fractionOf,
  num,
  type QueueList,
  queueEntry,
  sourceId,
  str,
  TASK_EVENTS,
  type TaskRecord,
  taskData,
} from './task-record';
import { type WorkerRecord, WorkerTable } from './workers';

/** @internal One publication to make. */
export interface CeleryOutput {
  channel: string;
  event: string;
  data: unknown;
  id: string;
}

/** @internal What one input produced. */
export interface TrackerResult {
  outputs: CeleryOutput[];
  warnings: string[];
  /** Event types that are neither standard nor configured progress events. */
  unknown: string[];
}

/** @internal Options of {@link CeleryTracker}. */
export interface TrackerOptions {
  /** Custom task events treated as progress (e.g. `task-progress`). */
  progressEvents: readonly string[];
  /** Heartbeat timeout for a worker, in ms. */
  heartbeatTimeoutMs: (freqSeconds: number | undefined) => number;
  /** How long a finished task's record is kept (name cache, progress guard), in ms. */
  taskTtlMs: number;
  /** Most task records kept. */
  maxTasks: number;
  /** Most workers kept. */
  maxWorkers: number;
}

/** @internal */
export class CeleryTracker {
  readonly tasks = new Map<string, TaskRecord>();
  readonly workers: WorkerTable;
  readonly #options: TrackerOptions;
  #queueChanged = false;

  constructor(options: TrackerOptions) {
    this.#options = options;
    this.workers = new WorkerTable(options.maxWorkers);
  }

  #task(id: string, nowMs: number): TaskRecord {
    let t = this.tasks.get(id);
    if (!t) {
      t = { id, terminal: false, touchedMs: nowMs };
      this.tasks.set(id, t);
    } else {
      // Keep the map in least-recently-touched order for pruning.
      this.tasks.delete(id);
      this.tasks.set(id, t);
    }
    t.touchedMs = nowMs;
    return t;
  }

  #setList(t: TaskRecord, list: QueueList | undefined): void {
    if (t.list !== list) this.#queueChanged = true;
    t.list = list;
  }

  #emitTask(out: CeleryOutput[], t: TaskRecord, data: CeleryTaskEvent, id: string): void {
    t.lastState = data.state;
    out.push({ channel: celeryChannels.tasks, event: data.state, data, id: `a.${id}` });
    const channel = celeryChannels.task(t.id);
    if (isValidChannel(channel)) out.push({ channel, event: data.state, data, id: `t.${id}` });
  }

  /** Progress that does not move forward (or comes after the end) is dropped. */
  #progress(out: CeleryOutput[], t: TaskRecord, progress: Record<string, unknown>, timestamp: number, id: string) {
    if (t.terminal) return;
    const fraction = fractionOf(progress);
    const json = JSON.stringify(progress);
    const last = t.progress;
    if (last) {
      if (fraction !== undefined && last.fraction !== undefined && fraction < last.fraction) return;
      if (json === last.json) return;
    }
    t.progress = {
      ...(fraction !== undefined ? { fraction } : last?.fraction !== undefined ? { fraction: last.fraction } : {}),
      json,
    };
    this.#emitTask(out, t, taskData(t, 'progress', timestamp, { progress }), id);
  }

  /** Handles one decoded event message (a single event or a `task.multi` batch). */
  events(events: readonly CeleryEvent[], nowMs: number): TrackerResult {
    const result: TrackerResult = { outputs: [], warnings: [], unknown: [] };
    let workersChanged = false;
    let lastId = '';
    for (const event of events) {
      const e = event as CeleryEvent & Record<string, unknown>;
      const id = sourceId(e.type, e.hostname, e.pid, e.clock, e.uuid, e.timestamp);
      lastId = id;
      if (e.type.startsWith('worker-')) {
        if (!['worker-online', 'worker-heartbeat', 'worker-offline'].includes(e.type)) {
          result.unknown.push(e.type);
          continue;
        }
        const change = this.workers.workerEvent(event, nowMs);
        workersChanged ||= change.changed;
        if (change.warning) result.warnings.push(change.warning);
        if (change.wentOffline) this.#workerGone(result.outputs, change.wentOffline, nowMs, id, 'offline');
        if (change.restarted) this.#workerGone(result.outputs, change.restarted, nowMs, id, 'restarted');
        continue;
      }
      const state = TASK_EVENTS[e.type] ?? (this.#options.progressEvents.includes(e.type) ? 'progress' : undefined);
      if (state === undefined || e.uuid === undefined) {
        result.unknown.push(e.type);
        continue;
      }
      const t = this.#task(e.uuid, nowMs);
      // Revoked early: the worker's own later `received`/`revoked` for it are not news.
      if (t.revokedEarly && (state === 'revoked' || state === 'received' || state === 'sent')) continue;
      if (state !== 'sent') workersChanged = this.workers.taskEvent(e.hostname, nowMs).changed || workersChanged;
      if (state === 'progress') {
        const progress: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(e)) if (!COMMON.has(k)) progress[k] = v;
        this.#progress(result.outputs, t, progress, e.timestamp, id);
        continue;
      }
      // The client publishes task-sent after pushing the task, so the worker's task-received
      // may come first: a late `sent` of the same run is not published (it would go backwards).
      const lateSent =
        state === 'sent' &&
        t.lastState !== undefined &&
        t.lastState !== 'retried' &&
        (num(e.retries) ?? 0) <= (t.retries ?? 0);
      const extra: Partial<CeleryTaskEvent> = {};
      if (state === 'sent' || state === 'received') {
        if (typeof e.name === 'string') t.name = e.name;
        if (typeof e.args === 'string') {
          t.argsrepr = e.args;
          t.args = parseArgsRepr(e.args);
        }
        if (typeof e.kwargs === 'string') {
          t.kwargsrepr = e.kwargs;
          t.kwargs = parseKwargsRepr(e.kwargs);
        }
        t.retries = num(e.retries) ?? t.retries;
        t.eta = e.eta === null ? null : (str(e.eta) ?? t.eta);
        if (e.eta !== undefined) extra.eta = t.eta ?? null;
      }
      if (lateSent) continue;
      if (state !== 'sent') t.worker = e.hostname;
      switch (state) {
        case 'sent':
          t.terminal = false;
          break;
        case 'received': {
          t.terminal = false;
          const eta = t.eta ? Date.parse(t.eta) : Number.NaN;
          this.#setList(t, Number.isFinite(eta) && eta > e.timestamp * 1000 ? 'scheduled' : 'reserved');
          break;
        }
        case 'started':
          t.terminal = false;
          t.timeStart = e.timestamp;
          this.#setList(t, 'active');
          break;
        case 'succeeded':
          extra.result = str(e.result) ?? '';
          if (num(e.runtime) !== undefined) extra.runtime = num(e.runtime) as number;
          break;
        case 'failed':
        case 'retried':
          extra.exception = str(e.exception) ?? '';
          if (typeof e.traceback === 'string') extra.traceback = e.traceback;
          break;
        case 'revoked':
          extra.terminated = e.terminated === true;
          extra.expired = e.expired === true;
          break;
        default:
          break;
      }
      if (state !== 'sent' && state !== 'received' && state !== 'started') {
        this.#setList(t, undefined);
        // Progress is kept across a retry: a task channel's progress never goes backwards.
        if (celeryTerminalStates.includes(state)) t.terminal = true;
      }
      this.#emitTask(result.outputs, t, taskData(t, state, e.timestamp, extra), id);
    }
    if (workersChanged) result.outputs.push(this.workersOutput(`w.${lastId}`));
    this.#flushQueue(result.outputs, lastId);
    return result;
  }

  /** Handles a result-backend message: custom states (PROGRESS) of known tasks become progress. */
  backend(message: CeleryBackendMessage, nowMs: number): TrackerResult {
    const result: TrackerResult = { outputs: [], warnings: [], unknown: [] };
    // Backend channels carry no DB prefix: only tasks this app's events announced are followed.
    const t = this.tasks.get(message.task_id);
    if (!t) return result;
    const m = message as CeleryBackendMessage & Record<string, unknown>;
    if (t.name === undefined && typeof m.name === 'string') t.name = m.name;
    if (t.args == null && Array.isArray(m.args)) t.args = m.args;
    if (t.kwargs == null && m.kwargs !== null && typeof m.kwargs === 'object' && !Array.isArray(m.kwargs)) {
      t.kwargs = m.kwargs as Record<string, unknown>;
    }
    if (BACKEND_STANDARD.has(message.status)) return result;
    const meta = message.result;
    const progress: Record<string, unknown> =
      meta !== null && typeof meta === 'object' && !Array.isArray(meta)
        ? { state: message.status, ...(meta as Record<string, unknown>) }
        : { state: message.status, value: meta ?? null };
    this.#task(message.task_id, nowMs);
    this.#progress(result.outputs, t, progress, nowMs / 1000, sourceId('backend', message));
    return result;
  }

  /**
   * Handles a control broadcast: `enable_events`/`disable_events` change the workers state; a
   * `revoke` of a task a worker holds (scheduled or reserved) ends it at once — the worker itself
   * reports it only when the task's ETA comes.
   */
  control(
    method: string,
    destination: string[] | null,
    nowMs: number,
    args: Record<string, unknown> = {},
  ): TrackerResult {
    const result: TrackerResult = { outputs: [], warnings: [], unknown: [] };
    if (method === 'revoke') {
      const ids = Array.isArray(args.task_id) ? args.task_id : [args.task_id];
      for (const id of ids) {
        const t = typeof id === 'string' ? this.tasks.get(id) : undefined;
        if (!t || (t.list !== 'scheduled' && t.list !== 'reserved')) continue;
        this.#setList(t, undefined);
        t.terminal = true;
        t.revokedEarly = true;
        const data = taskData(t, 'revoked', nowMs / 1000, { terminated: false, expired: false });
        this.#emitTask(result.outputs, t, data, sourceId('revoke', t.id, nowMs));
      }
      this.#flushQueue(result.outputs, sourceId('revoke', ids, nowMs));
      return result;
    }
    if ((method === 'enable_events' || method === 'disable_events') && this.workers.control(method, destination)) {
      result.outputs.push(this.workersOutput(sourceId('control', method, destination, nowMs)));
      if (method === 'disable_events')
        result.warnings.push('Celery task events were disabled (disable_events broadcast)');
    }
    return result;
  }

  /** Ends the tasks of workers whose heartbeats stopped; prunes old task records. */
  expire(nowMs: number): TrackerResult {
    const result: TrackerResult = { outputs: [], warnings: [], unknown: [] };
    const lost = this.workers.expire(nowMs, (w) => this.#options.heartbeatTimeoutMs(w.freq));
    for (const w of lost) {
      const id = sourceId('lost', w.hostname, w.lastSeenMs);
      result.warnings.push(`Celery worker ${w.hostname} stopped sending heartbeats; its running tasks are lost`);
      this.#workerGone(result.outputs, w, nowMs, id, 'heartbeat');
    }
    if (lost.length > 0) {
      const id = sourceId(
        'lost',
        lost.map((w) => [w.hostname, w.lastSeenMs]),
      );
      result.outputs.push(this.workersOutput(`w.${id}`));
      this.#flushQueue(result.outputs, id);
    }
    this.#prune(nowMs);
    return result;
  }

  #workerGone(
    out: CeleryOutput[],
    w: WorkerRecord,
    nowMs: number,
    id: string,
    why: 'heartbeat' | 'offline' | 'restarted',
  ): void {
    const timeoutMs = this.#options.heartbeatTimeoutMs(w.freq);
    for (const t of this.tasks.values()) {
      if (t.worker !== w.hostname || t.list === undefined) continue;
      const wasActive = t.list === 'active';
      this.#setList(t, undefined);
      // Reserved and scheduled tasks go back to the queue (kombu restores unacked messages).
      if (!wasActive) continue;
      t.terminal = true;
      const reason =
        why === 'heartbeat'
          ? `worker ${w.hostname} sent no heartbeat for ${timeoutMs} ms`
          : why === 'restarted'
            ? `worker ${w.hostname} restarted while the task was running`
            : `worker ${w.hostname} went offline while the task was running`;
      this.#emitTask(out, t, taskData(t, 'lost', nowMs / 1000, { reason }), sourceId('lost-task', t.id, id));
    }
  }

  /**
   * Forgets finished (and never-queued) tasks older than `taskTtlMs`, and the least recently
   * touched ones beyond `maxTasks`. A task still in the queue status (running, on an ETA,
   * prefetched) is kept whatever its age — a countdown of a day is normal and `inspect()` still
   * lists it — unless more than 2 × `maxTasks` are queued (then the oldest go, a hard bound).
   */
  #prune(nowMs: number): void {
    const { maxTasks, taskTtlMs } = this.#options;
    for (const [id, t] of this.tasks) {
      const old = nowMs - t.touchedMs > taskTtlMs;
      if (!old && this.tasks.size <= maxTasks) break;
      if (t.list !== undefined && this.tasks.size <= maxTasks * 2) continue;
      if (t.list !== undefined) this.#queueChanged = true;
      this.tasks.delete(id);
    }
  }

  #flushQueue(out: CeleryOutput[], id: string): void {
    if (!this.#queueChanged) return;
    this.#queueChanged = false;
    out.push({ channel: celeryChannels.queue, event: 'queue_status', data: this.queueStatus(), id: `q.${id}` });
  }

  /** The queue status now. */
  queueStatus(): CeleryQueueStatus {
    const status: CeleryQueueStatus = { active: [], scheduled: [], reserved: [] };
    for (const t of this.tasks.values()) if (t.list !== undefined) status[t.list].push(queueEntry(t));
    return status;
  }

  /** The workers state publication. */
  workersOutput(id: string): CeleryOutput {
    return { channel: celeryChannels.workers, event: 'workers', data: { workers: this.workers.list() }, id };
  }

  /** The queue status publication (published on takeover). */
  queueOutput(id: string): CeleryOutput {
    return { channel: celeryChannels.queue, event: 'queue_status', data: this.queueStatus(), id: `q.${id}` };
  }
}
