/**
 * Seed 003's catalogue as a BullMQ mapping: what its TestQueueService pushed by hand for each
 * queue event, expressed once. It is an example of a {@link BullmqMapping} (the one
 * `examples/test-queue-rooms` runs); write your own for other queues.
 * @module
 */
import { MessagePriority, TestQueueEvents } from '@taskpulse/protocol/payloads';
import type { BullmqJobRecord, BullmqStreamEvent } from './events';
import type { BullmqMapping, BullmqPublication } from './options';

/** Options of {@link testQueueMapping}. */
export interface TestQueueMappingOptions {
  /**
   * Whether a failure is a cancellation (published as `test:cancelled`).
   * @default the failed reason starts with "cancelled" (case-insensitive)
   */
  isCancelled?: (failedReason: string) => boolean;
}

/** The job data seed 003's producer puts in a test job (all optional; `testId` defaults to the job id). */
interface TestJobData {
  testId?: string;
  testType?: string;
  url?: string;
  userId?: string;
}

function jobData(job: BullmqJobRecord | null): TestJobData {
  const data = job?.data;
  return data !== null && typeof data === 'object' ? (data as TestJobData) : {};
}

function progressOf(value: unknown): { progress: number; metrics?: unknown; message?: string } {
  if (typeof value === 'number') return { progress: value };
  if (value !== null && typeof value === 'object') {
    const v = value as { progress?: unknown; metrics?: unknown; message?: unknown };
    return {
      progress: typeof v.progress === 'number' ? v.progress : 0,
      ...(v.metrics !== undefined ? { metrics: v.metrics } : {}),
      ...(typeof v.message === 'string' ? { message: v.message } : {}),
    };
  }
  throw new Error('progress is neither a number nor an object');
}

/**
 * Seed 003's catalogue (see docs/rooms.md for the table):
 *
 * | BullMQ | `test-progress:{testId}` | `queue-updates` | other |
 * |---|---|---|---|
 * | added | | `queue:job:added` | |
 * | active | `test:started` | `queue:job:started` | |
 * | progress | `test:progress` | `queue:job:progress` | |
 * | completed | `test:completed` | `queue:job:completed` | `test-history-updates`, `user-notifications:{userId}` |
 * | failed | `test:failed` (`test:cancelled` when cancelled) | `queue:job:failed` | `test-history-updates`, `user-notifications:{userId}` |
 * | stalled | | | `system-alerts` `system:alert` (priority 1) |
 * | removed (while waiting, delayed…) | `test:cancelled` | `queue:job:failed` (status `cancelled`) | |
 *
 * Removing a finished job (`removed` with `prev` `completed` or `failed`) is housekeeping: nothing
 * is published.
 *
 * `testId` is the job data's `testId`, or the job id; `userId` the job data's `userId`.
 */
export function testQueueMapping(options: TestQueueMappingOptions = {}): BullmqMapping {
  const isCancelled = options.isCancelled ?? ((reason: string) => /^cancell?ed/i.test(reason));
  return async (e: BullmqStreamEvent): Promise<BullmqPublication[]> => {
    // A failure reports the attempts made so far: read the job again rather than from the cache.
    const job = await e.job({ fresh: e.event === 'failed' });
    const data = jobData(job);
    const testId = data.testId ?? e.jobId;
    const room = `test-progress:${testId}`;
    const jobRef = { jobId: e.jobId, testId, testType: data.testType ?? job?.name ?? '' };
    const at = new Date(e.ts).toISOString();
    const history = (event: string, body: unknown): BullmqPublication[] => [
      { channel: 'test-history-updates', event, data: body, priority: MessagePriority.HIGH },
      ...(data.userId !== undefined
        ? [
            {
              channel: `user-notifications:${data.userId}`,
              event: TestQueueEvents.USER_NOTIFICATION,
              data: { testId, type: event, message: `test ${testId}: ${event.slice(5)}`, at },
              priority: MessagePriority.HIGH,
            },
          ]
        : []),
    ];
    switch (e.event) {
      case 'added':
        return [
          {
            channel: 'queue-updates',
            event: TestQueueEvents.QUEUE_JOB_ADDED,
            data: { ...jobRef, name: e.fields.name ?? job?.name ?? '', url: data.url ?? '' },
            priority: MessagePriority.NORMAL,
          },
        ];
      case 'active':
        return [
          {
            channel: room,
            event: TestQueueEvents.TEST_STARTED,
            data: { testId, testType: jobRef.testType, url: data.url ?? '', startedAt: at },
            priority: MessagePriority.NORMAL,
          },
          {
            channel: 'queue-updates',
            event: TestQueueEvents.QUEUE_JOB_STARTED,
            data: jobRef,
            priority: MessagePriority.NORMAL,
          },
        ];
      case 'progress': {
        const p = progressOf(e.progress);
        return [
          {
            channel: room,
            event: TestQueueEvents.TEST_PROGRESS,
            data: { testId, ...p },
            priority: MessagePriority.NORMAL,
          },
          {
            channel: 'queue-updates',
            event: TestQueueEvents.QUEUE_JOB_PROGRESS,
            data: { ...jobRef, progress: p.progress },
            priority: MessagePriority.LOW,
          },
        ];
      }
      case 'completed': {
        const body = { testId, status: 'completed', results: e.returnValue ?? null, completedAt: at };
        return [
          { channel: room, event: TestQueueEvents.TEST_COMPLETED, data: body, priority: MessagePriority.HIGH },
          {
            channel: 'queue-updates',
            event: TestQueueEvents.QUEUE_JOB_COMPLETED,
            data: jobRef,
            priority: MessagePriority.HIGH,
          },
          ...history(TestQueueEvents.TEST_COMPLETED, body),
        ];
      }
      case 'failed': {
        const reason = e.failedReason ?? '';
        const cancelled = isCancelled(reason);
        const event = cancelled ? TestQueueEvents.TEST_CANCELLED : TestQueueEvents.TEST_FAILED;
        const body = cancelled
          ? { testId, status: 'cancelled', reason, cancelledAt: at }
          : { testId, error: reason, attempts: job?.attemptsMade ?? 0 };
        return [
          { channel: room, event, data: body, priority: MessagePriority.HIGH },
          {
            channel: 'queue-updates',
            event: TestQueueEvents.QUEUE_JOB_FAILED,
            data: { ...jobRef, status: cancelled ? 'cancelled' : 'failed', error: reason },
            priority: MessagePriority.HIGH,
          },
          ...history(event, body),
        ];
      }
      case 'stalled':
        return [
          {
            channel: 'system-alerts',
            event: TestQueueEvents.SYSTEM_ALERT,
            data: { level: 'warning', message: `job ${e.jobId} (test ${testId}) stalled`, ...jobRef, at },
            priority: MessagePriority.CRITICAL,
          },
        ];
      case 'removed':
        if (e.fields.prev === 'completed' || e.fields.prev === 'failed') return [];
        return [
          {
            channel: room,
            event: TestQueueEvents.TEST_CANCELLED,
            data: { testId, status: 'cancelled', reason: 'removed from the queue', cancelledAt: at },
            priority: MessagePriority.HIGH,
          },
          {
            channel: 'queue-updates',
            event: TestQueueEvents.QUEUE_JOB_FAILED,
            data: { ...jobRef, status: 'cancelled', error: 'removed from the queue' },
            priority: MessagePriority.HIGH,
          },
        ];
      default:
        return [];
    }
  };
}
