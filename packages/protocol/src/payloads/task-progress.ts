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
  task_id: z.string().min(1),
  /** Percent complete, 0–100. */
  progress: z.number().min(0).max(100),
  current_step: z.string(),
  total_steps: z.number().int().nonnegative(),
  completed_steps: z.number().int().nonnegative(),
  message: z.string(),
  status: taskStatusSchema.optional(),
  timestamp: isoTimestampSchema,
});

/** Progress of one task (seed 001). */
export type TaskProgress = z.infer<typeof taskProgressSchema>;

/** Payload of a `status` message (seed 001 "状态更新消息"): completion or failure. */
export const taskStatusUpdateSchema = z.looseObject({
  task_id: z.string().min(1),
  status: taskStatusSchema,
  result: z.unknown().optional(),
  error: z.string().optional(),
  timestamp: isoTimestampSchema,
});

/** A status update of one task (seed 001). */
export type TaskStatusUpdate = z.infer<typeof taskStatusUpdateSchema>;

/** `{type: "progress", task_id, payload}` as seed 001's WebSocket sends it. */
export const progressMessageSchema = z.object({
  type: z.literal('progress'),
  task_id: z.string().min(1),
  payload: taskProgressSchema,
});

/** `{type: "status", task_id, payload}` as seed 001's WebSocket sends it. */
export const statusMessageSchema = z.object({
  type: z.literal('status'),
  task_id: z.string().min(1),
  payload: taskStatusUpdateSchema,
});

/** `{type: "connected", payload: {client_id}}`, the first message of seed 001's WebSocket. */
export const connectedMessageSchema = z.object({
  type: z.literal('connected'),
  payload: z.looseObject({ client_id: z.string().min(1) }),
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
  action: z.enum(['subscribe', 'unsubscribe']),
  task_id: z.string().min(1).max(128),
});

/** An action of seed 001's clients. */
export type TaskProgressAction = z.infer<typeof taskProgressActionSchema>;

/** `GET /websocket/stats` response of seed 001. */
export const connectionStatsSchema = z.object({
  total_clients: z.number().int().nonnegative(),
  by_user: z.record(z.string(), z.number().int().nonnegative()),
  by_project: z.record(z.string(), z.number().int().nonnegative()),
});

/** Connection statistics of seed 001. */
export type ConnectionStats = z.infer<typeof connectionStatsSchema>;
