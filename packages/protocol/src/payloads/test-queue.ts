/**
 * Seed 003: the test-queue rooms — one channel and event catalogue, one standard envelope.
 * @module
 */
import { z } from 'zod';

/**
 * Message priorities of seed 003 (1–4, the lower the more urgent: its envelope example sends
 * `test:progress` with priority 3). Under backpressure the hub writes priority 1 publications ahead
 * of other channels' queued frames and never conflates them (docs/rooms.md).
 */
export const MessagePriority = {
  /** 1: critical, delivered first and never conflated (system alerts). */
  CRITICAL: 1,
  /** 2: high (failures, completions). */
  HIGH: 2,
  /** 3: the default (progress). */
  NORMAL: 3,
  /** 4: informational, may wait. */
  LOW: 4,
} as const;

/** A priority value 1–4. */
export type MessagePriorityValue = (typeof MessagePriority)[keyof typeof MessagePriority];

/** The event catalogue of seed 003 (MESSAGE_TYPES), as wire strings. */
export const TestQueueEvents = {
  /** A test run started (`test-progress-{testId}` and `queue-updates`). */
  TEST_STARTED: 'test:started',
  /** A test run reported progress. */
  TEST_PROGRESS: 'test:progress',
  /** A test run completed. */
  TEST_COMPLETED: 'test:completed',
  /** A test run failed. */
  TEST_FAILED: 'test:failed',
  /** A test run was cancelled. */
  TEST_CANCELLED: 'test:cancelled',
  /** A job was added to the test queue. */
  QUEUE_JOB_ADDED: 'queue:job:added',
  /** A queued job started. */
  QUEUE_JOB_STARTED: 'queue:job:started',
  /** A queued job reported progress. */
  QUEUE_JOB_PROGRESS: 'queue:job:progress',
  /** A queued job completed. */
  QUEUE_JOB_COMPLETED: 'queue:job:completed',
  /** A queued job failed. */
  QUEUE_JOB_FAILED: 'queue:job:failed',
  /** A system alert (`system-alerts`). */
  SYSTEM_ALERT: 'system:alert',
  /** Maintenance started. */
  SYSTEM_MAINTENANCE_START: 'system:maintenance:start',
  /** Maintenance ended. */
  SYSTEM_MAINTENANCE_END: 'system:maintenance:end',
  /** A notification for one user (`user-notifications-{userId}`). */
  USER_NOTIFICATION: 'user:notification',
  /** A user came online. */
  USER_ONLINE: 'user:online',
  /** A user went offline. */
  USER_OFFLINE: 'user:offline',
  /** A connection was established (legacy dialect; the native protocol uses `welcome`). */
  CONNECTION_ESTABLISHED: 'connection:established',
  /** Heartbeat ping (legacy dialect; the native protocol uses `ping`). */
  HEARTBEAT_PING: 'heartbeat:ping',
  /** Heartbeat pong (legacy dialect; the native protocol uses `pong`). */
  HEARTBEAT_PONG: 'heartbeat:pong',
} as const;

/** One event name of the catalogue. */
export type TestQueueEvent = (typeof TestQueueEvents)[keyof typeof TestQueueEvents];

const eventValues = Object.values(TestQueueEvents) as [TestQueueEvent, ...TestQueueEvent[]];

/** An event name of the catalogue as a zod schema. */
export const testQueueEventSchema = z.enum(eventValues);

/**
 * The standard envelope of seed 003 (MESSAGE_FORMAT):
 * `{id, event, data, channel, priority 1–4, timestamp, userId?}`.
 */
export const testQueueEnvelopeSchema = z.object({
  /** Unique message id (`msg_xxx`). */
  id: z.string().min(1),
  /** The event, from the catalogue {@link TestQueueEvents}. */
  event: testQueueEventSchema,
  /** The event's data (see {@link testEventDataSchemas} for the test events). */
  data: z.unknown(),
  /** The room name as the seed writes it (`test-progress-stress_123`, `queue-updates`). */
  channel: z.string().min(1),
  /** Priority 1–4 ({@link MessagePriority}). */
  priority: z.number().int().min(1).max(4),
  /** Milliseconds since the Unix epoch. */
  timestamp: z.number(),
  /** The user the message concerns, when there is one. */
  userId: z.string().optional(),
});

/** The standard envelope of seed 003. */
export type TestQueueEnvelope = z.infer<typeof testQueueEnvelopeSchema>;

/** `test:started` data: `{testId, testType, url, startedAt}`. */
export const testStartedDataSchema = z.looseObject({
  /** The test run's id (`stress_123`). */
  testId: z.string().min(1),
  /** The kind of test (`stress`, `performance`…). */
  testType: z.string(),
  /** The URL under test. */
  url: z.string(),
  /** Start time: an ISO-8601 string or milliseconds since the Unix epoch. */
  startedAt: z.union([z.string(), z.number()]),
});

/** `test:progress` data: `{testId, progress, metrics, message}`. */
export const testProgressDataSchema = z.looseObject({
  /** The test run's id. */
  testId: z.string().min(1),
  /** Percent complete, 0–100. */
  progress: z.number().min(0).max(100),
  /** Measurements so far (free-form). */
  metrics: z.record(z.string(), z.unknown()).optional(),
  /** A human-readable message. */
  message: z.string().optional(),
});

/** `test:completed` data: `{testId, status, results, completedAt}`. */
export const testCompletedDataSchema = z.looseObject({
  /** The test run's id. */
  testId: z.string().min(1),
  /** The final status (`completed`). */
  status: z.string(),
  /** The results (free-form; the key must be present). */
  results: z.unknown(),
  /** End time: an ISO-8601 string or milliseconds since the Unix epoch. */
  completedAt: z.union([z.string(), z.number()]),
});

/** `test:failed` data: `{testId, error, attempts}`. */
export const testFailedDataSchema = z.looseObject({
  /** The test run's id. */
  testId: z.string().min(1),
  /** Why it failed. */
  error: z.string(),
  /** How many attempts were made. */
  attempts: z.number().int().nonnegative(),
});

/** Data schemas per test event, for validating producers. */
export const testEventDataSchemas = {
  /** Data of `test:started`. */
  'test:started': testStartedDataSchema,
  /** Data of `test:progress`. */
  'test:progress': testProgressDataSchema,
  /** Data of `test:completed`. */
  'test:completed': testCompletedDataSchema,
  /** Data of `test:failed`. */
  'test:failed': testFailedDataSchema,
} as const;

/** Rooms of seed 003 whose names carry an id after a dash, mapped to taskpulse namespaces. */
const LEGACY_ROOM_PREFIXES: ReadonlyArray<readonly [string, string]> = [
  ['test-progress-', 'test-progress'],
  ['user-notifications-', 'user-notifications'],
  ['stress-test-', 'stress-test'],
  ['job-status-', 'job-status'],
  ['team-updates-', 'team-updates'],
];

/**
 * Maps a seed 003 room name to a taskpulse channel name:
 * `test-progress-stress_123` → `test-progress:stress_123`, `user-notifications-7` →
 * `user-notifications:7`; rooms without an id (`queue-updates`) keep their name.
 */
export function channelForLegacyRoom(room: string): string {
  for (const [prefix, namespace] of LEGACY_ROOM_PREFIXES) {
    if (room.startsWith(prefix) && room.length > prefix.length) {
      return `${namespace}:${room.slice(prefix.length)}`;
    }
  }
  return room;
}

/** The inverse of {@link channelForLegacyRoom}: `test-progress:stress_123` → `test-progress-stress_123`. */
export function legacyRoomForChannel(channel: string): string {
  const colon = channel.indexOf(':');
  if (colon === -1) return channel;
  const ns = channel.slice(0, colon);
  return LEGACY_ROOM_PREFIXES.some(([, n]) => n === ns) ? `${ns}-${channel.slice(colon + 1)}` : channel;
}
