/**
 * One task's bookkeeping in the Celery bridge, and the pieces of a native task event.
 * @module
 */
import { createHash } from 'node:crypto';
import type { CeleryQueueEntry, CeleryTaskEvent, CeleryTaskState } from '@taskpulse/protocol/payloads';

/** @internal Where a task is in the queue status. */
export type QueueList = 'active' | 'scheduled' | 'reserved';

/** @internal One task's state. */
export interface TaskRecord {
  id: string;
  name?: string;
  args?: unknown[] | null;
  kwargs?: Record<string, unknown> | null;
  argsrepr?: string;
  kwargsrepr?: string;
  worker?: string;
  retries?: number;
  eta?: string | null;
  list?: QueueList;
  timeStart?: number;
  terminal: boolean;
  progress?: { fraction?: number; json: string };
  touchedMs: number;
  /** Ended by a `revoke` broadcast before the worker said so (its own `task-revoked` is then not repeated). */
  revokedEarly?: boolean;
  /** The last state published. */
  lastState?: CeleryTaskState;
}

/** @internal Standard task events and their native state. */
export const TASK_EVENTS: Record<string, CeleryTaskState> = {
  'task-sent': 'sent',
  'task-received': 'received',
  'task-started': 'started',
  'task-succeeded': 'succeeded',
  'task-failed': 'failed',
  'task-retried': 'retried',
  'task-revoked': 'revoked',
  'task-rejected': 'rejected',
};
/** @internal Result-backend states that are not progress. */
export const BACKEND_STANDARD = new Set([
  'PENDING',
  'RECEIVED',
  'STARTED',
  'SUCCESS',
  'FAILURE',
  'RETRY',
  'REVOKED',
  'REJECTED',
  'IGNORED',
]);
/** @internal Fields every event has (not part of a custom event's progress). */
export const COMMON = new Set(['type', 'hostname', 'timestamp', 'clock', 'pid', 'utcoffset', 'uuid', 'local_received']);

/** @internal */
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** @internal */
export const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A stable publication id derived from the source message (the same on every bridge instance). */
export function sourceId(...parts: unknown[]): string {
  return createHash('sha1').update(JSON.stringify(parts)).digest('base64url').slice(0, 24);
}

/** @internal How far a progress value is (0–1, or a percentage), when it says. */
export function fractionOf(progress: Record<string, unknown>): number | undefined {
  const current = num(progress.current);
  const total = num(progress.total);
  if (current !== undefined && total !== undefined && total > 0) return current / total;
  const percent = num(progress.percent) ?? num(progress.progress);
  return percent;
}

/** @internal The native event for a task: its known fields plus `extra`. */
export function taskData(
  t: TaskRecord,
  state: CeleryTaskState,
  timestamp: number,
  extra: Partial<CeleryTaskEvent>,
): CeleryTaskEvent {
  return {
    task_id: t.id,
    state,
    timestamp,
    ...(t.name !== undefined ? { name: t.name } : {}),
    ...(t.worker !== undefined ? { worker: t.worker } : {}),
    ...(t.args !== undefined ? { args: t.args } : {}),
    ...(t.kwargs !== undefined ? { kwargs: t.kwargs } : {}),
    ...(t.argsrepr !== undefined ? { argsrepr: t.argsrepr } : {}),
    ...(t.kwargsrepr !== undefined ? { kwargsrepr: t.kwargsrepr } : {}),
    ...(t.retries !== undefined ? { retries: t.retries } : {}),
    ...extra,
  };
}

/** @internal A task's entry in the queue status. */
export function queueEntry(t: TaskRecord): CeleryQueueEntry {
  return {
    task_id: t.id,
    worker: t.worker ?? '',
    ...(t.name !== undefined ? { name: t.name } : {}),
    ...(t.args !== undefined ? { args: t.args } : {}),
    ...(t.kwargs !== undefined ? { kwargs: t.kwargs } : {}),
    ...(t.list === 'active' && t.timeStart !== undefined ? { time_start: t.timeStart } : {}),
    ...(t.list === 'scheduled' ? { eta: t.eta ?? null } : {}),
  };
}
