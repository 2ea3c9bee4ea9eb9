/**
 * The dialect mechanism from the outside: a seed-002-shaped dialect (`/ws/tasks/`, `{type, data}`,
 * `get_queue_status`, `GET /api/tasks/queue/status`) written in a few lines with the public
 * helpers, as the Celery issue will write it.
 */
import { CloseCode } from '@taskpulse/protocol';
import { celeryServerMessageSchema, queueStatusResponseSchema } from '@taskpulse/protocol/payloads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannelCodec, defineDialect, stateRoute } from '../src/dialects/index';
import { call, liveSubscribers } from './fixtures/http-client';
import { LegacyClient } from './fixtures/legacy-client';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';

const emptyQueue = { active_tasks: [], scheduled_tasks: [], reserved_tasks: [] };

const celeryTasksDialect = defineDialect({
  name: 'celery-tasks',
  path: '/ws/tasks/',
  codec: createChannelCodec({
    name: 'celery-tasks',
    channels: () => ['celery:tasks', 'celery:queue'],
    encode: (p) => JSON.stringify({ type: p.event, data: p.data }),
    onMessage: (message, connection) =>
      message.action === 'get_queue_status'
        ? connection.sendLatest('celery:queue')
        : connection.gate.reject('unknown action'),
  }),
  routes: [
    stateRoute({
      path: '/api/tasks/queue/status',
      channel: 'celery:queue',
      body: (latest) => ({ code: 200, message: 'success', data: latest.data }),
      empty: () => ({ code: 200, message: 'success', data: emptyQueue }),
    }),
  ],
});

let t: TestHub;

beforeAll(async () => {
  t = await startHub({
    namespaces: { celery: { kind: 'events' } },
    dialects: [celeryTasksDialect],
    limits: { maxInvalidFrames: 2 },
  });
});

afterAll(async () => {
  await t.close();
});

describe('a dialect built from the public helpers', () => {
  it('speaks its own format on its own path, with its REST route', async () => {
    const rest = `${t.httpUrl}/api/tasks/queue/status`;
    expect(queueStatusResponseSchema.parse((await call(rest)).body)).toEqual({
      code: 200,
      message: 'success',
      data: emptyQueue,
    });
    const client = await LegacyClient.connect(`${t.httpUrl.replace('http', 'ws')}/ws/tasks/`);
    await waitUntil(() => liveSubscribers(t.hub.core, 'celery:queue') === 1, 'subscribed');
    const queue = {
      ...emptyQueue,
      active_tasks: [{ task_id: 'abc123', avid: 'SSIS-950', worker: 'celery@host', time_start: 1703001234.567 }],
    };
    await t.hub.core.publish('celery:queue', 'queue_status', queue);
    await t.hub.core.publish('celery:tasks', 'task_started', {
      task_id: 'abc123',
      avid: 'SSIS-950',
      status: 'started',
    });
    await client.waitFor((c) => c.messages.length === 2, 'two messages');
    client.send({ action: 'get_queue_status' });
    await client.waitFor((c) => c.messages.length === 3, 'the queue status on request');
    expect(client.messages.map((m) => celeryServerMessageSchema.parse(m).type)).toEqual([
      'queue_status',
      'task_started',
      'queue_status',
    ]);
    expect(client.messages[2]).toEqual({ type: 'queue_status', data: queue });
    expect((await call(rest)).body).toEqual({ code: 200, message: 'success', data: queue });

    client.send({ action: 'dance' });
    client.send('{');
    expect((await client.closed).code).toBe(CloseCode.BadRequest);
    expect(client.messages).toHaveLength(3);
  });
});
