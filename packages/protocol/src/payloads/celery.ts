/**
 * Seed 002: Celery task notifications, as the seed's Django Channels consumer sends them:
 * `{type, data}` messages on `/ws/tasks/`, and the queue-status REST body.
 * @module
 */
import { z } from 'zod';

/**
 * The `data` of `task_started` / `task_completed` / `task_failed`.
 * Application fields (the seed's `avid`) are kept as they are.
 */
export const celeryTaskNoticeSchema = z.looseObject({
  /** The Celery task id. */
  task_id: z.string().min(1),
  /** `started`, `success` or `failed` (fixed per message type). */
  status: z.string().min(1),
  /** A human-readable message (`下载完成`, the failure reason). */
  message: z.string().optional(),
  /** The seed application's item id (`SSIS-950`). */
  avid: z.string().optional(),
});

/** The data of a Celery task notification. */
export type CeleryTaskNotice = z.infer<typeof celeryTaskNoticeSchema>;

/** `{type: "task_started", data: {task_id, avid, status: "started"}}` */
export const taskStartedMessageSchema = z.object({
  /** Always `task_started`. */
  type: z.literal('task_started'),
  /** The notice; `status` is `started`. */
  data: celeryTaskNoticeSchema.extend({
    /** Always `started`. */
    status: z.literal('started'),
  }),
});

/** `{type: "task_completed", data: {task_id, avid, status: "success", message}}` */
export const taskCompletedMessageSchema = z.object({
  /** Always `task_completed`. */
  type: z.literal('task_completed'),
  /** The notice; `status` is `success`. */
  data: celeryTaskNoticeSchema.extend({
    /** Always `success`. */
    status: z.literal('success'),
  }),
});

/** `{type: "task_failed", data: {task_id, avid, status: "failed", message}}` */
export const taskFailedMessageSchema = z.object({
  /** Always `task_failed`. */
  type: z.literal('task_failed'),
  /** The notice; `status` is `failed` and `message` the reason. */
  data: celeryTaskNoticeSchema.extend({
    /** Always `failed`. */
    status: z.literal('failed'),
    /** Why the task failed (required here). */
    message: z.string(),
  }),
});

/** One task in a queue-status list. */
export const celeryTaskInfoSchema = z.looseObject({
  /** The Celery task id. */
  task_id: z.string().min(1),
  /** The worker's node name (`celery@hostname`). */
  worker: z.string().min(1),
  /** The seed application's item id (`SSIS-950`). */
  avid: z.string().optional(),
  /** The task's registered name (`tasks.download`). */
  name: z.string().optional(),
  /** Start time, seconds since the Unix epoch (active tasks). */
  time_start: z.number().optional(),
});

/** A task in a queue-status list. */
export type CeleryTaskInfo = z.infer<typeof celeryTaskInfoSchema>;

/** The queue status: tasks being executed, scheduled (ETA/countdown) and reserved (prefetched). */
export const queueStatusSchema = z.looseObject({
  /** Tasks being executed. */
  active_tasks: z.array(celeryTaskInfoSchema),
  /** Tasks waiting for their ETA or countdown. */
  scheduled_tasks: z.array(celeryTaskInfoSchema),
  /** Tasks a worker has prefetched but not started. */
  reserved_tasks: z.array(celeryTaskInfoSchema),
});

/** The queue status of seed 002. */
export type QueueStatus = z.infer<typeof queueStatusSchema>;

/** `{type: "queue_status", data: {active_tasks, scheduled_tasks, reserved_tasks}}` */
export const queueStatusMessageSchema = z.object({
  /** Always `queue_status`. */
  type: z.literal('queue_status'),
  /** The queue status. */
  data: queueStatusSchema,
});

/** Every message seed 002's `/ws/tasks/` sends. */
export const celeryServerMessageSchema = z.discriminatedUnion('type', [
  taskStartedMessageSchema,
  taskCompletedMessageSchema,
  taskFailedMessageSchema,
  queueStatusMessageSchema,
]);

/** A message of seed 002's WebSocket. */
export type CeleryServerMessage = z.infer<typeof celeryServerMessageSchema>;

/** `{action: "get_queue_status"}` sent by seed 002's clients. */
export const celeryClientActionSchema = z.object({
  /** Always `get_queue_status`. */
  action: z.literal('get_queue_status'),
});

/** `GET /api/tasks/queue/status` body of seed 002: `{code, message, data}`. */
export const queueStatusResponseSchema = z.object({
  /** Application status code (`200`). */
  code: z.number().int(),
  /** `success` or an error message. */
  message: z.string(),
  /** The queue status. */
  data: queueStatusSchema,
});
