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
  task_id: z.string().min(1),
  status: z.string().min(1),
  message: z.string().optional(),
  avid: z.string().optional(),
});

/** The data of a Celery task notification. */
export type CeleryTaskNotice = z.infer<typeof celeryTaskNoticeSchema>;

/** `{type: "task_started", data: {task_id, avid, status: "started"}}` */
export const taskStartedMessageSchema = z.object({
  type: z.literal('task_started'),
  data: celeryTaskNoticeSchema.extend({ status: z.literal('started') }),
});

/** `{type: "task_completed", data: {task_id, avid, status: "success", message}}` */
export const taskCompletedMessageSchema = z.object({
  type: z.literal('task_completed'),
  data: celeryTaskNoticeSchema.extend({ status: z.literal('success') }),
});

/** `{type: "task_failed", data: {task_id, avid, status: "failed", message}}` */
export const taskFailedMessageSchema = z.object({
  type: z.literal('task_failed'),
  data: celeryTaskNoticeSchema.extend({ status: z.literal('failed'), message: z.string() }),
});

/** One task in a queue-status list. */
export const celeryTaskInfoSchema = z.looseObject({
  task_id: z.string().min(1),
  worker: z.string().min(1),
  avid: z.string().optional(),
  name: z.string().optional(),
  /** Start time, seconds since the Unix epoch (active tasks). */
  time_start: z.number().optional(),
});

/** A task in a queue-status list. */
export type CeleryTaskInfo = z.infer<typeof celeryTaskInfoSchema>;

/** The queue status: tasks being executed, scheduled (ETA/countdown) and reserved (prefetched). */
export const queueStatusSchema = z.looseObject({
  active_tasks: z.array(celeryTaskInfoSchema),
  scheduled_tasks: z.array(celeryTaskInfoSchema),
  reserved_tasks: z.array(celeryTaskInfoSchema),
});

/** The queue status of seed 002. */
export type QueueStatus = z.infer<typeof queueStatusSchema>;

/** `{type: "queue_status", data: {active_tasks, scheduled_tasks, reserved_tasks}}` */
export const queueStatusMessageSchema = z.object({
  type: z.literal('queue_status'),
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
export const celeryClientActionSchema = z.object({ action: z.literal('get_queue_status') });

/** `GET /api/tasks/queue/status` body of seed 002: `{code, message, data}`. */
export const queueStatusResponseSchema = z.object({
  code: z.number().int(),
  message: z.string(),
  data: queueStatusSchema,
});
