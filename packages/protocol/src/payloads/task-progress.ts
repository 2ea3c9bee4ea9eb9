/**
 * Seed 001: task progress tracking messages.
 * @module
 */
import { z } from 'zod';

/** Lifecycle states of a tracked task. */
export const taskStatusValues = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;

/** A task lifecycle state. */
export const taskStatusSchema = z.enum(taskStatusValues);

/** A task lifecycle state. */
export type TaskStatus = z.infer<typeof taskStatusSchema>;

/** ISO-8601 timestamp as the seed writes it (`2026-02-21T10:30:00Z`). */
export const isoTimestampSchema = z.iso.datetime({ offset: true });

/**
 * Payload of a `progress` message (seed 001 "进度更新消息"). `status` is optional because the
 * seed's `GET /progress/{task_id}` response carries the same record without it.
 */
export const taskProgressSchema = z.looseObject({
  /** The task's id. */
  task_id: z.string().min(1),
  /** Percent complete, 0–100. */
  progress: z.number().min(0).max(100),
  /** Name of the step being executed (`视频转码`). */
  current_step: z.string(),
  /** Number of steps in all. */
  total_steps: z.number().int().nonnegative(),
  /** Number of steps done. */
  completed_steps: z.number().int().nonnegative(),
  /** A human-readable message (`正在转码视频...`). */
  message: z.string(),
  /** The task's state; absent in the seed's `GET /progress/{task_id}` response. */
  status: taskStatusSchema.optional(),
  /** When the progress was reported, ISO-8601 with offset (`2026-02-21T10:30:00Z`). */
  timestamp: isoTimestampSchema,
});

/** Progress of one task (seed 001). */
export type TaskProgress = z.infer<typeof taskProgressSchema>;

/** Payload of a `status` message (seed 001 "状态更新消息"): completion or failure. */
export const taskStatusUpdateSchema = z.looseObject({
  /** The task's id. */
  task_id: z.string().min(1),
  /** The new state (`completed`, `failed`…). */
  status: taskStatusSchema,
  /** The task's result, for `completed` (seed: `{video_url}`). */
  result: z.unknown().optional(),
  /** The error message, for `failed`. */
  error: z.string().optional(),
  /** When the state changed, ISO-8601 with offset. */
  timestamp: isoTimestampSchema,
});

/** A status update of one task (seed 001). */
export type TaskStatusUpdate = z.infer<typeof taskStatusUpdateSchema>;

/** `{type: "progress", task_id, payload}` as seed 001's WebSocket sends it. */
export const progressMessageSchema = z.object({
  /** Always `progress`. */
  type: z.literal('progress'),
  /** The task's id (repeated from the payload). */
  task_id: z.string().min(1),
  /** The progress record. */
  payload: taskProgressSchema,
});

/** `{type: "status", task_id, payload}` as seed 001's WebSocket sends it. */
export const statusMessageSchema = z.object({
  /** Always `status`. */
  type: z.literal('status'),
  /** The task's id (repeated from the payload). */
  task_id: z.string().min(1),
  /** The status update. */
  payload: taskStatusUpdateSchema,
});

/** `{type: "connected", payload: {client_id}}`, the first message of seed 001's WebSocket. */
export const connectedMessageSchema = z.object({
  /** Always `connected`. */
  type: z.literal('connected'),
  /** The connection's details. */
  payload: z.looseObject({
    /** The id the server gave this connection (sent back as `old_client_id` on reconnect). */
    client_id: z.string().min(1),
  }),
});

/** Every message seed 001's WebSocket sends. */
export const taskProgressServerMessageSchema = z.discriminatedUnion('type', [
  connectedMessageSchema,
  progressMessageSchema,
  statusMessageSchema,
]);

/** A message of seed 001's WebSocket. */
export type TaskProgressServerMessage = z.infer<typeof taskProgressServerMessageSchema>;

/** `{action: "subscribe"|"unsubscribe", task_id}` sent by seed 001's clients. */
export const taskProgressActionSchema = z.object({
  /** `subscribe` or `unsubscribe`. */
  action: z.enum(['subscribe', 'unsubscribe']),
  /** The task to follow or stop following. */
  task_id: z.string().min(1).max(128),
});

/** An action of seed 001's clients. */
export type TaskProgressAction = z.infer<typeof taskProgressActionSchema>;

/** `GET /websocket/stats` response of seed 001. */
export const connectionStatsSchema = z.object({
  /** Open connections in all. */
  total_clients: z.number().int().nonnegative(),
  /** Open connections per user id. */
  by_user: z.record(z.string(), z.number().int().nonnegative()),
  /** Open connections per project id. */
  by_project: z.record(z.string(), z.number().int().nonnegative()),
});

/** Connection statistics of seed 001. */
export type ConnectionStats = z.infer<typeof connectionStatsSchema>;
