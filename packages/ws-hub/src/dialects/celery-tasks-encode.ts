/**
 * Seed 002's message shapes, built from the Celery bridge's native publications: task lifecycle
 * events become `task_started` / `task_completed` / `task_failed`, the queue status becomes
 * `queue_status` with `active_tasks` / `scheduled_tasks` / `reserved_tasks`, and the
 * application's own fields (`avid`) are taken from the task's arguments by a mapping.
 * @module
 */
import type { CeleryQueueEntry, CeleryQueueStatus, CeleryTaskEvent, QueueStatus } from '@taskpulse/protocol/payloads';

/** What a field mapping function sees of a task. */
export interface CeleryTaskView {
  /** The task id. */
  task_id: string;
  /** The task's registered name, when known. */
  name?: string;
  /** Positional arguments (null when Celery's repr could not be parsed; absent when unknown). */
  args?: unknown[] | null;
  /** Keyword arguments (null when unparseable; absent when unknown). */
  kwargs?: Record<string, unknown> | null;
}

/**
 * Where an application field comes from: a keyword argument, a positional argument (tried in
 * that order), or a function of the task.
 *
 * @example
 * ```ts
 * { avid: { kwarg: 'avid', arg: 0 } } // download.delay('SSIS-950') and download.delay(avid='SSIS-950')
 * ```
 */
export type CeleryFieldSource = CeleryArgumentSource | ((task: CeleryTaskView) => unknown);

/** A field taken from the task's arguments. */
export interface CeleryArgumentSource {
  /** The keyword argument's name (tried first). */
  kwarg?: string;
  /** The positional argument's index (tried when the keyword argument is absent). */
  arg?: number;
}

/** Application fields added to every message: field name → where its value comes from. */
export type CeleryFieldMapping = Readonly<Record<string, CeleryFieldSource>>;

/** The task states reported to seed 002 pages as `task_failed` besides `failed`. */
export type CeleryFailureState = 'revoked' | 'rejected' | 'lost';

/** @internal Resolved encoder settings. */
export interface CeleryEncodeOptions {
  fields: CeleryFieldMapping;
  failureStates: ReadonlySet<string>;
  completedMessage: (event: CeleryTaskEvent) => string | undefined;
}

/** Resolves the mapped fields of one task; a field whose source is missing is left out. */
export function mappedFields(task: CeleryTaskView, fields: CeleryFieldMapping): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, source] of Object.entries(fields)) {
    let value: unknown;
    if (typeof source === 'function') value = source(task);
    else {
      if (source.kwarg !== undefined && task.kwargs && Object.hasOwn(task.kwargs, source.kwarg)) {
        value = task.kwargs[source.kwarg];
      } else if (source.arg !== undefined && Array.isArray(task.args) && source.arg < task.args.length) {
        value = task.args[source.arg];
      }
    }
    if (value !== undefined) out[field] = value;
  }
  return out;
}

const PY_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  n: '\n',
  r: '\r',
  t: '\t',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  '0': '\0',
};

/**
 * The text of a Python `str` repr (`'下载完成'` → `下载完成`, `"it's"` → `it's`), or `repr` unchanged
 * when it is not one (`5`, `{'a': 1}`, a cut-off repr): Celery reports a task's result as its repr.
 */
export function pythonStrText(repr: string): string {
  const quote = repr[0];
  if (repr.length < 2 || (quote !== "'" && quote !== '"') || repr.at(-1) !== quote) return repr;
  let out = '';
  for (let i = 1; i < repr.length - 1; i++) {
    const c = repr[i] as string;
    if (c === quote) return repr; // an unescaped quote inside: not one str repr
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = repr[++i];
    if (n === undefined || i >= repr.length - 1) return repr;
    const simple = PY_ESCAPES[n];
    if (simple !== undefined) {
      out += simple;
      continue;
    }
    const len = n === 'x' ? 2 : n === 'u' ? 4 : n === 'U' ? 8 : 0;
    const hex = repr.slice(i + 1, i + 1 + len);
    if (len === 0 || !/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len || Number.parseInt(hex, 16) > 0x10ffff) {
      return repr;
    }
    out += String.fromCodePoint(Number.parseInt(hex, 16));
    i += len;
  }
  return out;
}

function failureMessage(event: CeleryTaskEvent): string {
  if (event.state === 'failed') return event.exception ?? 'failed';
  if (event.state === 'lost') return event.reason ?? 'lost: the worker stopped';
  if (event.state === 'revoked') return event.terminated ? 'terminated' : event.expired ? 'expired' : 'revoked';
  return event.state;
}

/** @internal The seed message for one native task event, or null (not a seed message). */
export function encodeTaskEvent(event: CeleryTaskEvent, options: CeleryEncodeOptions): string | null {
  const common = {
    task_id: event.task_id,
    ...(event.name !== undefined ? { name: event.name } : {}),
    ...(event.worker !== undefined ? { worker: event.worker } : {}),
    ...mappedFields(event, options.fields),
  };
  switch (event.state) {
    case 'started':
      return JSON.stringify({ type: 'task_started', data: { ...common, status: 'started' } });
    case 'succeeded': {
      const message = options.completedMessage(event);
      return JSON.stringify({
        type: 'task_completed',
        data: { ...common, status: 'success', ...(message !== undefined ? { message } : {}) },
      });
    }
    default:
      if (event.state !== 'failed' && !options.failureStates.has(event.state)) return null;
      return JSON.stringify({
        type: 'task_failed',
        data: { ...common, status: 'failed', message: failureMessage(event), reason: event.state },
      });
  }
}

function entry(task: CeleryQueueEntry, fields: CeleryFieldMapping): Record<string, unknown> {
  return {
    task_id: task.task_id,
    worker: task.worker,
    ...(task.name !== undefined ? { name: task.name } : {}),
    ...(task.time_start !== undefined ? { time_start: task.time_start } : {}),
    ...(task.eta ? { eta: task.eta } : {}),
    ...mappedFields(task, fields),
  };
}

/** @internal The seed's queue status from the native one. */
export function seedQueueStatus(status: CeleryQueueStatus | null | undefined, fields: CeleryFieldMapping): QueueStatus {
  const list = (tasks: unknown) =>
    Array.isArray(tasks)
      ? (tasks as CeleryQueueEntry[]).map((t) => entry(t, fields) as QueueStatus['active_tasks'][number])
      : [];
  return {
    active_tasks: list(status?.active),
    scheduled_tasks: list(status?.scheduled),
    reserved_tasks: list(status?.reserved),
  };
}
