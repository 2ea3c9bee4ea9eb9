/**
 * Celery's own event stream on a Redis broker (kombu envelopes on the `celeryev` fanout
 * channels, result-backend messages on `celery-task-meta-<id>`), and the native payloads the
 * Celery bridge of `@taskpulse/redis-bridge` republishes: task lifecycle events, the queue status
 * and the workers state. See `docs/celery.md`.
 * @module
 */
import { z } from 'zod';

/**
 * The kombu envelope of one pub/sub message on a `celeryev` or `celery.pidbox` channel. `body` is
 * base64 (kombu's virtual transports default to it) unless `properties.body_encoding` says
 * otherwise; the decoded body is JSON.
 */
export const kombuEnvelopeSchema = z.looseObject({
  /** The encoded body. */
  body: z.string(),
  /** `application/json` for events (events always use the JSON serializer). */
  'content-type': z.string().optional(),
  /** `utf-8`. */
  'content-encoding': z.string().optional(),
  /** `{hostname}` of the sender. */
  headers: z.looseObject({}).nullish(),
  /** `{body_encoding, delivery_info, delivery_tag, …}`. */
  properties: z
    .looseObject({
      /** `base64` or absent (plain text). */
      body_encoding: z.string().optional(),
    })
    .nullish(),
});

/** A kombu envelope. */
export type KombuEnvelope = z.infer<typeof kombuEnvelopeSchema>;

/**
 * One Celery event, as a worker or client sends it (`task-received`, `worker-heartbeat`, a custom
 * `task-progress`…). Only the fields every event has are checked; the rest is kept.
 */
export const celeryEventSchema = z.looseObject({
  /** `task-started`, `worker-heartbeat`… */
  type: z.string().min(1).max(128),
  /** The sender's node name (`w1@host`; `gen<pid>@host` for a client). */
  hostname: z.string().min(1).max(512),
  /** Unix epoch seconds (float) when the event was sent. */
  timestamp: z.number(),
  /** The sender's Lamport clock (per process). */
  clock: z.number().optional(),
  /** The sender's process id. */
  pid: z.number().optional(),
  /** The task id (task events). */
  uuid: z.string().min(1).max(256).optional(),
});

/** One Celery event. */
export type CeleryEvent = z.infer<typeof celeryEventSchema>;

/** A `task.multi` batch (possibly empty); a single event is checked as a batch of one. */
export const celeryEventBatchSchema = z.array(celeryEventSchema);

/**
 * A result-backend message (`celery-task-meta-<id>`): plain JSON, no envelope.
 * `update_state(state='PROGRESS', meta=…)` arrives here (it sends no event).
 */
export const celeryBackendMessageSchema = z.looseObject({
  /** `PROGRESS`, `SUCCESS`, `FAILURE`, `RETRY`, `REVOKED`, `STARTED` or a custom state. */
  status: z.string().min(1).max(128),
  /** The task id. */
  task_id: z.string().min(1).max(256),
  /** The meta (PROGRESS), the return value (SUCCESS) or the exception (FAILURE). */
  result: z.unknown().optional(),
});

/** A result-backend message. */
export type CeleryBackendMessage = z.infer<typeof celeryBackendMessageSchema>;

/** A remote-control broadcast body on `celery.pidbox` (`revoke`, `enable_events`…). */
export const celeryControlSchema = z.looseObject({
  /** The control method. */
  method: z.string().min(1).max(128),
  /** Its arguments. */
  arguments: z.looseObject({}).nullish(),
});

/** The lifecycle states the bridge republishes (the publication's `event`). */
export const celeryTaskStates = [
  'sent',
  'received',
  'started',
  'progress',
  'retried',
  'succeeded',
  'failed',
  'revoked',
  'rejected',
  'lost',
] as const;

/** A lifecycle state of a Celery task. */
export type CeleryTaskState = (typeof celeryTaskStates)[number];

/** The states after which a task does nothing more (`retried` is not one: the task runs again). */
export const celeryTerminalStates: readonly CeleryTaskState[] = ['succeeded', 'failed', 'revoked', 'rejected', 'lost'];

/**
 * A native task lifecycle event (the `data` of publications on `celery:tasks` and
 * `celery-task:{id}`, whose `event` is `state`). The name, args and kwargs seen earlier for the
 * task are repeated on every event, since Celery sends them only with `task-received`/`task-sent`.
 */
export const celeryTaskEventSchema = z.looseObject({
  /** The Celery task id. */
  task_id: z.string().min(1),
  /** What happened. */
  state: z.enum(celeryTaskStates),
  /** Unix epoch seconds of the Celery event (the bridge's clock for `lost`). */
  timestamp: z.number(),
  /** The task's registered name, when known. */
  name: z.string().optional(),
  /** The worker's node name, when known. */
  worker: z.string().optional(),
  /** Positional arguments parsed from Celery's repr; null when the repr could not be parsed (cut at 1024 characters…). */
  args: z.array(z.unknown()).nullish(),
  /** Keyword arguments parsed from Celery's repr; null when unparseable. */
  kwargs: z.record(z.string(), z.unknown()).nullish(),
  /** Celery's repr of the arguments, as sent. */
  argsrepr: z.string().optional(),
  /** Celery's repr of the keyword arguments, as sent. */
  kwargsrepr: z.string().optional(),
  /** How many times the task was retried before this run. */
  retries: z.number().optional(),
  /** ISO time the task waits for (countdown/ETA), or null. */
  eta: z.string().nullish(),
  /** `succeeded`: repr of the return value (cut by Celery at about 1024 characters). */
  result: z.string().optional(),
  /** `succeeded`: run time in seconds. */
  runtime: z.number().optional(),
  /** `failed`/`retried`: repr of the exception, e.g. `ValueError('kaboom')`. */
  exception: z.string().optional(),
  /** `failed`/`retried`: the formatted traceback. */
  traceback: z.string().optional(),
  /** `progress`: the task's meta (`update_state`) or custom event fields. */
  progress: z.record(z.string(), z.unknown()).optional(),
  /** `revoked`: terminated while running. */
  terminated: z.boolean().optional(),
  /** `revoked`: expired before running. */
  expired: z.boolean().optional(),
  /** `lost`: why the bridge ended the task. */
  reason: z.string().optional(),
});

/** A native Celery task event. */
export type CeleryTaskEvent = z.infer<typeof celeryTaskEventSchema>;

/** A task in the native queue status, as Celery's `inspect()` lists it. */
export const celeryQueueEntrySchema = z.looseObject({
  /** The Celery task id. */
  task_id: z.string().min(1),
  /** The worker holding the task. */
  worker: z.string(),
  /** The task's registered name, when known. */
  name: z.string().optional(),
  /** Parsed positional arguments (null when unparseable). */
  args: z.array(z.unknown()).nullish(),
  /** Parsed keyword arguments (null when unparseable). */
  kwargs: z.record(z.string(), z.unknown()).nullish(),
  /** Active tasks: Unix epoch seconds when the task started. */
  time_start: z.number().optional(),
  /** Scheduled tasks: the ISO ETA. */
  eta: z.string().nullish(),
});

/** A task in the queue status. */
export type CeleryQueueEntry = z.infer<typeof celeryQueueEntrySchema>;

/**
 * The native queue status (the `celery-state:queue` state channel): what each worker holds,
 * derived from the events. `active` = running, `scheduled` = waiting on an ETA/countdown,
 * `reserved` = prefetched, not started — as `app.control.inspect()` means them.
 */
export const celeryQueueStatusSchema = z.looseObject({
  /** Running tasks. */
  active: z.array(celeryQueueEntrySchema),
  /** Tasks held by a worker until their ETA/countdown. */
  scheduled: z.array(celeryQueueEntrySchema),
  /** Tasks prefetched by a worker, not started. */
  reserved: z.array(celeryQueueEntrySchema),
});

/** The native queue status. */
export type CeleryQueueStatus = z.infer<typeof celeryQueueStatusSchema>;

/** One worker in the workers state. */
export const celeryWorkerSchema = z.looseObject({
  /** The node name (`celery@host`). */
  hostname: z.string(),
  /** `online` (heartbeats arrive), `offline` (clean shutdown) or `lost` (heartbeats stopped). */
  status: z.enum(['online', 'offline', 'lost']),
  /** Heartbeat interval announced by the worker, in seconds. */
  freq: z.number().optional(),
  /** Unix epoch seconds of the last worker event. */
  last_heartbeat: z.number().optional(),
  /** Tasks executing, as the last heartbeat said. */
  active: z.number().optional(),
  /** Tasks processed since the worker started. */
  processed: z.number().optional(),
  /** Load average (3 numbers). */
  loadavg: z.array(z.number()).optional(),
  /** Celery version. */
  sw_ver: z.string().optional(),
  /**
   * Whether the worker sends task events: `disabled` when its heartbeats show finished tasks
   * that no task event announced (a worker without `-E`), or after a `disable_events` broadcast.
   */
  task_events: z.enum(['enabled', 'disabled', 'unknown']),
});

/** A worker in the workers state. */
export type CeleryWorker = z.infer<typeof celeryWorkerSchema>;

/** The workers state (the `celery-state:workers` state channel). */
export const celeryWorkersStateSchema = z.looseObject({
  /** Every worker seen, by node name order. */
  workers: z.array(celeryWorkerSchema),
});

/** The workers state. */
export type CeleryWorkersState = z.infer<typeof celeryWorkersStateSchema>;

/**
 * The native channels of the Celery bridge.
 *
 * @example
 * ```ts
 * celeryChannels.task('8ac0d2da-…') // 'celery-task:8ac0d2da-…'
 * ```
 */
export const celeryChannels = {
  /** Every task lifecycle event of every task (events): `celery:tasks`. */
  tasks: 'celery:tasks',
  /** One task's lifecycle events (events): `celery-task:{id}`. */
  task: (taskId: string): string => `celery-task:${taskId}`,
  /** The queue status (state): `celery-state:queue`. */
  queue: 'celery-state:queue',
  /** The workers state (state): `celery-state:workers`. */
  workers: 'celery-state:workers',
} as const;
