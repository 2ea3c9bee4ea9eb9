/**
 * Seed 002's `/ws/tasks/` and `GET /api/tasks/queue/status` over the Celery bridge's native
 * channels (published here directly; the live Celery path is tested in examples/celery-events).
 */

import { SEED_NAMESPACES } from '@taskpulse/protocol';
import {
  type CeleryQueueStatus,
  type CeleryTaskEvent,
  celeryChannels,
  celeryServerMessageSchema,
  queueStatusResponseSchema,
} from '@taskpulse/protocol/payloads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pythonStrText } from '../src/dialects/celery-tasks-encode';
import { celeryTasksDialect, mappedFields } from '../src/dialects/index';
import { call, liveSubscribers } from './fixtures/http-client';
import { LegacyClient } from './fixtures/legacy-client';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';

let t: TestHub;
let wsUrl: string;

beforeAll(async () => {
  t = await startHub({
    namespaces: SEED_NAMESPACES,
    dialects: [celeryTasksDialect({ fields: { avid: { kwarg: 'avid', arg: 0 } } })],
  });
  wsUrl = `${t.httpUrl.replace('http', 'ws')}/ws/tasks/`;
});
afterAll(async () => {
  await t.close();
});

const task = (
  task_id: string,
  state: CeleryTaskEvent['state'],
  extra: Partial<CeleryTaskEvent> = {},
): CeleryTaskEvent => ({
  task_id,
  state,
  timestamp: 1795332418.5,
  name: 'app.download',
  worker: 'celery@host',
  args: ['SSIS-950'],
  kwargs: {},
  ...extra,
});
const publishTask = (e: CeleryTaskEvent) => t.hub.core.publish(celeryChannels.tasks, e.state, e);
const rest = () => call(`${t.httpUrl}/api/tasks/queue/status`);

describe('seed 002 dialect', () => {
  it('answers get_queue_status at once, and the REST route, before the bridge published anything', async () => {
    expect((await rest()).body).toEqual({
      code: 200,
      message: 'success',
      data: { active_tasks: [], scheduled_tasks: [], reserved_tasks: [] },
    });
    const client = await LegacyClient.connect(wsUrl);
    await waitUntil(() => liveSubscribers(t.hub.core, celeryChannels.queue) === 1, 'subscribed');
    client.send({ action: 'get_queue_status' });
    await client.waitFor((c) => c.messages.length === 1, 'answer');
    expect(client.messages[0]).toEqual({
      type: 'queue_status',
      data: { active_tasks: [], scheduled_tasks: [], reserved_tasks: [] },
    });
    client.close();
  });

  it("sends the seed's messages: started, completed, failed with the exception, no retry; queue status pushed", async () => {
    const client = await LegacyClient.connect(wsUrl);
    await waitUntil(() => liveSubscribers(t.hub.core, celeryChannels.tasks) >= 1, 'subscribed');
    await waitUntil(() => liveSubscribers(t.hub.core, celeryChannels.queue) >= 1, 'subscribed to the queue');
    const queue: CeleryQueueStatus = {
      active: [
        {
          task_id: 'a1',
          worker: 'celery@host',
          name: 'app.download',
          args: ['SSIS-950'],
          kwargs: {},
          time_start: 1703001234.567,
        },
      ],
      scheduled: [
        {
          task_id: 'd4',
          worker: 'celery@host',
          args: [],
          kwargs: { avid: 'SONE-028' },
          eta: '2026-11-24T12:00:00+00:00',
        },
      ],
      reserved: [{ task_id: 'r9', worker: 'celery@host', args: null, kwargs: null }],
    };
    await t.hub.core.publish(celeryChannels.queue, 'queue_status', queue);
    for (const e of [
      task('a1', 'received'),
      task('a1', 'started'),
      task('a1', 'progress', { progress: { current: 1, total: 2 } }),
      task('a1', 'succeeded', { result: "'downloaded'" }),
      task('b2', 'retried', { exception: "RuntimeError('transient')" }),
      task('b2', 'failed', { args: [], kwargs: { avid: 'SONE-028' }, exception: "ValueError('disk full')" }),
      task('c3', 'lost', { reason: 'worker celery@host sent no heartbeat for 6000 ms' }),
      task('c4', 'revoked', { terminated: true }),
    ]) {
      await publishTask(e);
    }
    await client.waitFor((c) => c.messages.length === 6, 'six messages');
    for (const m of client.messages) celeryServerMessageSchema.parse(m);
    expect(client.messages).toEqual([
      {
        type: 'queue_status',
        data: {
          active_tasks: [
            {
              task_id: 'a1',
              worker: 'celery@host',
              name: 'app.download',
              time_start: 1703001234.567,
              avid: 'SSIS-950',
            },
          ],
          scheduled_tasks: [
            { task_id: 'd4', worker: 'celery@host', eta: '2026-11-24T12:00:00+00:00', avid: 'SONE-028' },
          ],
          reserved_tasks: [{ task_id: 'r9', worker: 'celery@host' }],
        },
      },
      {
        type: 'task_started',
        data: { task_id: 'a1', name: 'app.download', worker: 'celery@host', avid: 'SSIS-950', status: 'started' },
      },
      {
        type: 'task_completed',
        data: {
          task_id: 'a1',
          name: 'app.download',
          worker: 'celery@host',
          avid: 'SSIS-950',
          status: 'success',
          message: 'downloaded', // the result's text, not its repr "'downloaded'"
        },
      },
      {
        type: 'task_failed',
        data: {
          task_id: 'b2',
          name: 'app.download',
          worker: 'celery@host',
          avid: 'SONE-028',
          status: 'failed',
          message: "ValueError('disk full')",
          reason: 'failed',
        },
      },
      expect.objectContaining({
        type: 'task_failed',
        data: expect.objectContaining({
          task_id: 'c3',
          reason: 'lost',
          message: expect.stringMatching(/no heartbeat/),
        }),
      }),
      expect.objectContaining({
        type: 'task_failed',
        data: expect.objectContaining({ task_id: 'c4', message: 'terminated' }),
      }),
    ]);
    expect(queueStatusResponseSchema.parse((await rest()).body).data).toEqual(client.messages[0].data);
    client.close();
  });

  it('a page reconnecting with its client_id gets the notifications it missed', async () => {
    const url = `${wsUrl}?client_id=page-0123456789`;
    const first = await LegacyClient.connect(url);
    await waitUntil(() => liveSubscribers(t.hub.core, celeryChannels.queue) >= 1, 'subscribed');
    const started = await publishTask(task('m1', 'started'));
    await first.waitFor((c) => c.messages.some((m) => m.data?.task_id === 'm1'), 'm1');
    first.close();
    await first.closed;
    await waitUntil(() => liveSubscribers(t.hub.core, celeryChannels.queue) === 0, 'gone');
    // The position reached is saved server-side when the connection closes.
    await waitUntil(async () => {
      const record = (await t.hub.core.broker.state('dialect-client:page-0123456789')).latest?.data as
        | { tasks: Record<string, { offset: number } | null> }
        | undefined;
      return record?.tasks[celeryChannels.tasks]?.offset === started.offset;
    }, 'position saved');
    await publishTask(task('m1', 'succeeded', { result: '1' }));
    await publishTask(task('m2', 'started'));
    const second = await LegacyClient.connect(url);
    await second.waitFor((c) => c.messages.filter((m) => m.type !== 'queue_status').length === 2, 'missed ones');
    expect(second.messages.filter((m) => m.type !== 'queue_status').map((m) => [m.type, m.data.task_id])).toEqual([
      ['task_completed', 'm1'],
      ['task_started', 'm2'],
    ]);
    second.close();
    // Without a client id: live only.
    const fresh = await LegacyClient.connect(wsUrl);
    await waitUntil(() => liveSubscribers(t.hub.core, celeryChannels.queue) >= 1, 'subscribed');
    await publishTask(task('m3', 'started'));
    await fresh.waitFor((c) => c.messages.some((m) => m.data?.task_id === 'm3'), 'm3');
    expect(fresh.messages.filter((m) => m.type !== 'queue_status').map((m) => m.data.task_id)).toEqual(['m3']);
    fresh.close();
  });

  it('answers other messages with an error the seed pages ignore', async () => {
    const client = await LegacyClient.connect(wsUrl);
    client.send({ action: 'dance' });
    await client.waitFor((c) => c.messages.some((m) => m.type === 'error'), 'error');
    expect(client.messages.find((m) => m.type === 'error')).toEqual({
      type: 'error',
      data: { code: 'bad_frame', message: 'expected {"action": "get_queue_status"}' },
    });
    client.close();
  });
});

describe('the field mapping', () => {
  it('takes a keyword argument first, then a positional one, or calls a function; leaves out what is missing', () => {
    const fields = {
      avid: { kwarg: 'avid', arg: 0 },
      title: (t: { name?: string; kwargs?: Record<string, unknown> | null }) => t.kwargs?.title ?? t.name,
    };
    expect(mappedFields({ task_id: 'x', name: 'app.d', args: ['A-1'], kwargs: { avid: 'K-1' } }, fields)).toEqual({
      avid: 'K-1',
      title: 'app.d',
    });
    expect(mappedFields({ task_id: 'x', args: ['A-1'], kwargs: {} }, fields)).toEqual({ avid: 'A-1' });
    expect(mappedFields({ task_id: 'x', args: null, kwargs: null }, fields)).toEqual({});
  });
});

describe('the completed message', () => {
  it.each([
    ["'下载完成'", '下载完成'],
    ['"it\'s"', "it's"],
    ["'a\\'b\\n\\x41\\u00e9\\U0001f600\\\\'", "a'b\nAé😀\\"],
    ["''", ''],
    ['5', '5'],
    ["{'size': 3}", "{'size': 3}"],
    ["'cut off", "'cut off"],
    ["'a' + 'b'", "'a' + 'b'"],
    ["'bad \\x4'", "'bad \\x4'"],
  ])('the text of a str repr, other reprs as they are: %s', (repr, text) => {
    expect(pythonStrText(repr)).toBe(text);
  });
});
