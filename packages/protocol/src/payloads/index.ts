/**
 * `@taskpulse/protocol/payloads`: zod schemas and types of the seed applications' payloads — task
 * progress, processor (worker) status, the Celery task events and the test-queue (Socket.IO rooms)
 * envelope. The hub's dialects and the bridges build on them; so can your pages.
 *
 * @packageDocumentation
 * @module @taskpulse/protocol/payloads
 */

export {
  type CeleryServerMessage,
  type CeleryTaskInfo,
  type CeleryTaskNotice,
  celeryClientActionSchema,
  celeryServerMessageSchema,
  celeryTaskInfoSchema,
  celeryTaskNoticeSchema,
  type QueueStatus,
  queueStatusMessageSchema,
  queueStatusResponseSchema,
  queueStatusSchema,
  taskCompletedMessageSchema,
  taskFailedMessageSchema,
  taskStartedMessageSchema,
} from './celery';
export {
  type CeleryBackendMessage,
  type CeleryEvent,
  type CeleryQueueEntry,
  type CeleryQueueStatus,
  type CeleryTaskEvent,
  type CeleryTaskState,
  type CeleryWorker,
  type CeleryWorkersState,
  celeryBackendMessageSchema,
  celeryChannels,
  celeryControlSchema,
  celeryEventBatchSchema,
  celeryEventSchema,
  celeryQueueEntrySchema,
  celeryQueueStatusSchema,
  celeryTaskEventSchema,
  celeryTaskStates,
  celeryTerminalStates,
  celeryWorkerSchema,
  celeryWorkersStateSchema,
  type KombuEnvelope,
  kombuEnvelopeSchema,
} from './celery-events';
export {
  type ConnectionStats,
  connectedMessageSchema,
  connectionStatsSchema,
  isoTimestampSchema,
  progressMessageSchema,
  statusMessageSchema,
  type TaskProgress,
  type TaskProgressAction,
  type TaskProgressServerMessage,
  type TaskStatus,
  type TaskStatusUpdate,
  taskProgressActionSchema,
  taskProgressSchema,
  taskProgressServerMessageSchema,
  taskStatusSchema,
  taskStatusUpdateSchema,
  taskStatusValues,
} from './task-progress';
export {
  channelForLegacyRoom,
  legacyRoomForChannel,
  MessagePriority,
  type MessagePriorityValue,
  type TestQueueEnvelope,
  type TestQueueEvent,
  TestQueueEvents,
  testCompletedDataSchema,
  testEventDataSchemas,
  testFailedDataSchema,
  testProgressDataSchema,
  testQueueEnvelopeSchema,
  testQueueEventSchema,
  testStartedDataSchema,
} from './test-queue';
export {
  WORKER_STATUS_REDIS_CHANNEL,
  type WorkerStatus,
  workerStatusSchema,
} from './worker-status';
