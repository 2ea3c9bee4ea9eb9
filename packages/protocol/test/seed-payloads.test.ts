import { JSON_SCHEMA_SOURCES } from '@taskpulse/protocol';
import {
  celeryClientActionSchema,
  celeryServerMessageSchema,
  channelForLegacyRoom,
  connectionStatsSchema,
  legacyRoomForChannel,
  MessagePriority,
  queueStatusResponseSchema,
  queueStatusSchema,
  TestQueueEvents,
  taskProgressActionSchema,
  taskProgressSchema,
  taskProgressServerMessageSchema,
  testCompletedDataSchema,
  testEventDataSchemas,
  testFailedDataSchema,
  testProgressDataSchema,
  testQueueEnvelopeSchema,
  testQueueEventSchema,
  testStartedDataSchema,
  WORKER_STATUS_REDIS_CHANNEL,
  workerStatusSchema,
} from '@taskpulse/protocol/payloads';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import fixture from './fixtures/seed-examples.json' with { type: 'json' };
import { getAt, type Json, leafPaths, mistypes, without, withValue } from './support/json-paths';

interface SeedExample {
  name: string;
  seed: string;
  schema: string;
  value: Json;
  required: string[];
  typed: string[];
  untyped: string[];
}

const examples = fixture.examples as unknown as SeedExample[];

/** Every schema the seed examples name: the JSON Schema sources plus zod-only ones. */
const SCHEMAS: Record<string, z.ZodType> = {
  ...JSON_SCHEMA_SOURCES,
  'task-progress-action': taskProgressActionSchema,
  'connection-stats': connectionStatsSchema,
  'celery-client-action': celeryClientActionSchema,
  'queue-status-response': queueStatusResponseSchema,
  'test-started-data': testStartedDataSchema,
  'test-progress-data': testProgressDataSchema,
  'test-completed-data': testCompletedDataSchema,
  'test-failed-data': testFailedDataSchema,
};

function schemaOf(example: SeedExample): z.ZodType {
  const schema = SCHEMAS[example.schema];
  if (!schema) throw new Error(`fixture names an unknown schema: ${example.schema}`);
  return schema;
}

describe('seed payload examples', () => {
  it('cover seeds 000 to 003 and every payload schema', () => {
    expect(new Set(examples.map((e) => e.seed))).toEqual(new Set(['000', '001', '002', '003']));
    const payloadSchemas = Object.keys(SCHEMAS).filter(
      (name) => !['publication', 'client-frame', 'server-frame'].includes(name),
    );
    expect(new Set(examples.map((e) => e.schema))).toEqual(new Set(payloadSchemas));
  });

  describe.each(examples.map((e) => [`${e.name} (seed ${e.seed})`, e] as const))('%s', (_label, example) => {
    const schema = schemaOf(example);

    it('parses, keeping every field as written', () => {
      const result = schema.safeParse(example.value);
      expect(result.error).toBeUndefined();
      expect(result.data).toEqual(example.value);
    });

    it('lists every field of the example as typed or untyped', () => {
      for (const path of [...example.required, ...example.typed, ...example.untyped]) getAt(example.value, path);
      const listed = new Set([...example.typed, ...example.untyped]);
      expect(leafPaths(example.value).filter((path) => !listed.has(path))).toEqual([]);
    });

    it.each(example.required)('fails without %s', (path) => {
      expect(schema.safeParse(without(example.value, path)).success).toBe(false);
    });

    it.each(example.typed)('fails when %s has another type', (path) => {
      for (const wrong of mistypes(getAt(example.value, path))) {
        expect(
          schema.safeParse(withValue(example.value, path, wrong)).success,
          `${path} = ${JSON.stringify(wrong)}`,
        ).toBe(false);
      }
    });
  });
});

describe('seed 000: worker status', () => {
  const status = examples.find((e) => e.schema === 'worker-status')?.value as Record<string, Json>;

  it('keeps extra fields a newer worker may add', () => {
    const parsed = workerStatusSchema.parse({ ...status, hostname: 'worker-1' });
    expect(parsed.hostname).toBe('worker-1');
  });

  it('rejects negative counts and a fractional worker count', () => {
    expect(workerStatusSchema.safeParse({ ...status, queue_pending: -1 }).success).toBe(false);
    expect(workerStatusSchema.safeParse({ ...status, workers: 2.5 }).success).toBe(false);
  });

  it('accepts an error message in last_error', () => {
    expect(workerStatusSchema.parse({ ...status, last_error: 'boom' }).last_error).toBe('boom');
  });

  it('names the raw Redis channel of the seed', () => {
    expect(WORKER_STATUS_REDIS_CHANNEL).toBe('processor:status:realtime');
  });
});

describe('seed 001: task progress', () => {
  const progress = examples.find((e) => e.name.startsWith('progress update'))?.value as Record<string, Json>;

  it('rejects progress outside 0–100 and a timestamp that is not ISO-8601', () => {
    const payload = progress.payload as Record<string, Json>;
    for (const bad of [{ progress: 101 }, { progress: -1 }, { timestamp: '21/02/2026 10:30' }, { status: 'done' }]) {
      expect(taskProgressServerMessageSchema.safeParse({ ...progress, payload: { ...payload, ...bad } }).success).toBe(
        false,
      );
    }
  });

  it('parses the progress record with or without status', () => {
    const payload = progress.payload as Record<string, Json>;
    expect(taskProgressSchema.parse(payload).status).toBe('running');
    const { status: _status, ...withoutStatus } = payload;
    expect(taskProgressSchema.parse(withoutStatus).status).toBeUndefined();
  });

  it('rejects a message type the seed does not send', () => {
    expect(taskProgressServerMessageSchema.safeParse({ ...progress, type: 'progres' }).success).toBe(false);
  });
});

describe('seed 002: Celery notifications', () => {
  it('ties each notification type to its status', () => {
    const started = examples.find((e) => e.name === 'task_started notification')?.value as Record<string, Json>;
    const data = started.data as Record<string, Json>;
    expect(celeryServerMessageSchema.safeParse({ ...started, data: { ...data, status: 'success' } }).success).toBe(
      false,
    );
    expect(celeryServerMessageSchema.safeParse({ type: 'task_completed', data }).success).toBe(false);
  });

  it('requires the failure reason of task_failed', () => {
    const failed = examples.find((e) => e.name === 'task_failed notification')?.value as Record<string, Json>;
    expect(celeryServerMessageSchema.safeParse(without(failed, 'data.message')).success).toBe(false);
    const completed = examples.find((e) => e.name === 'task_completed notification')?.value as Record<string, Json>;
    expect(celeryServerMessageSchema.safeParse(without(completed, 'data.message')).success).toBe(true);
  });

  it('accepts an empty queue', () => {
    expect(queueStatusSchema.parse({ active_tasks: [], scheduled_tasks: [], reserved_tasks: [] })).toEqual({
      active_tasks: [],
      scheduled_tasks: [],
      reserved_tasks: [],
    });
  });
});

describe('seed 003: test-queue envelope', () => {
  const envelope = examples.find((e) => e.schema === 'test-queue-envelope')?.value as Record<string, Json>;

  it('accepts priorities 1–4 only', () => {
    for (const priority of Object.values(MessagePriority)) {
      expect(testQueueEnvelopeSchema.safeParse({ ...envelope, priority }).success).toBe(true);
    }
    for (const priority of [0, 5, 2.5]) {
      expect(testQueueEnvelopeSchema.safeParse({ ...envelope, priority }).success).toBe(false);
    }
  });

  it('accepts every event of the catalogue and nothing else', () => {
    const events = Object.values(TestQueueEvents);
    expect(events).toHaveLength(19);
    for (const event of events) expect(testQueueEventSchema.parse(event)).toBe(event);
    for (const event of ['test:start', 'custom:event', '']) {
      expect(testQueueEnvelopeSchema.safeParse({ ...envelope, event }).success).toBe(false);
    }
  });

  it('has a data schema for each test lifecycle event', () => {
    expect(Object.keys(testEventDataSchemas).sort()).toEqual([
      TestQueueEvents.TEST_COMPLETED,
      TestQueueEvents.TEST_FAILED,
      TestQueueEvents.TEST_PROGRESS,
      TestQueueEvents.TEST_STARTED,
    ]);
    const data = envelope.data as Record<string, Json>;
    expect(testEventDataSchemas['test:progress'].parse(data)).toEqual(data);
  });

  it('maps the seed room names to channels and back', () => {
    const rooms: [string, string][] = [
      ['test-progress-stress_123', 'test-progress:stress_123'],
      ['user-notifications-42', 'user-notifications:42'],
      ['stress-test-7', 'stress-test:7'],
      ['job-status-abc', 'job-status:abc'],
      ['team-updates-9', 'team-updates:9'],
      ['queue-updates', 'queue-updates'],
      ['test-history-updates', 'test-history-updates'],
      ['system-alerts', 'system-alerts'],
    ];
    for (const [room, channel] of rooms) {
      expect(channelForLegacyRoom(room)).toBe(channel);
      expect(legacyRoomForChannel(channel)).toBe(room);
    }
    // A room that is only the prefix has no id: it stays as it is.
    expect(channelForLegacyRoom('test-progress-')).toBe('test-progress-');
    expect(legacyRoomForChannel('task:8f2c')).toBe('task:8f2c');
  });
});
