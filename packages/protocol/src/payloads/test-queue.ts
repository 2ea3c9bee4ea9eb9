/**
 * Seed 003: the test-queue rooms — one channel and event catalogue, one standard envelope.
 * @module
 */
import { z } from 'zod';

/** Message priorities of seed 003 (1–4). */
export const MessagePriority = { LOW: 1, NORMAL: 2, HIGH: 3, CRITICAL: 4 } as const;

/** A priority value 1–4. */
export type MessagePriorityValue = (typeof MessagePriority)[keyof typeof MessagePriority];

/** The event catalogue of seed 003 (MESSAGE_TYPES), as wire strings. */
export const TestQueueEvents = {
  TEST_STARTED: 'test:started',
  TEST_PROGRESS: 'test:progress',
  TEST_COMPLETED: 'test:completed',
  TEST_FAILED: 'test:failed',
  TEST_CANCELLED: 'test:cancelled',
  QUEUE_JOB_ADDED: 'queue:job:added',
  QUEUE_JOB_STARTED: 'queue:job:started',
  QUEUE_JOB_PROGRESS: 'queue:job:progress',
  QUEUE_JOB_COMPLETED: 'queue:job:completed',
  QUEUE_JOB_FAILED: 'queue:job:failed',
  SYSTEM_ALERT: 'system:alert',
  SYSTEM_MAINTENANCE_START: 'system:maintenance:start',
  SYSTEM_MAINTENANCE_END: 'system:maintenance:end',
  USER_NOTIFICATION: 'user:notification',
  USER_ONLINE: 'user:online',
  USER_OFFLINE: 'user:offline',
  CONNECTION_ESTABLISHED: 'connection:established',
  HEARTBEAT_PING: 'heartbeat:ping',
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
  id: z.string().min(1),
  event: testQueueEventSchema,
  data: z.unknown(),
  /** The room name as the seed writes it (`test-progress-stress_123`, `queue-updates`). */
  channel: z.string().min(1),
  priority: z.number().int().min(1).max(4),
  /** Milliseconds since the Unix epoch. */
  timestamp: z.number(),
  userId: z.string().optional(),
});

/** The standard envelope of seed 003. */
export type TestQueueEnvelope = z.infer<typeof testQueueEnvelopeSchema>;

/** `test:started` data: `{testId, testType, url, startedAt}`. */
export const testStartedDataSchema = z.looseObject({
  testId: z.string().min(1),
  testType: z.string(),
  url: z.string(),
  startedAt: z.union([z.string(), z.number()]),
});

/** `test:progress` data: `{testId, progress, metrics, message}`. */
export const testProgressDataSchema = z.looseObject({
  testId: z.string().min(1),
  progress: z.number().min(0).max(100),
  metrics: z.record(z.string(), z.unknown()).optional(),
  message: z.string().optional(),
});

/** `test:completed` data: `{testId, status, results, completedAt}`. */
export const testCompletedDataSchema = z.looseObject({
  testId: z.string().min(1),
  status: z.string(),
  results: z.unknown(),
  completedAt: z.union([z.string(), z.number()]),
});

/** `test:failed` data: `{testId, error, attempts}`. */
export const testFailedDataSchema = z.looseObject({
  testId: z.string().min(1),
  error: z.string(),
  attempts: z.number().int().nonnegative(),
});

/** Data schemas per test event, for validating producers. */
export const testEventDataSchemas = {
  'test:started': testStartedDataSchema,
  'test:progress': testProgressDataSchema,
  'test:completed': testCompletedDataSchema,
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
