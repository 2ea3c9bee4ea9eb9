import { CloseCode, SEED_NAMESPACES } from '@taskpulse/protocol';
import {
  connectedMessageSchema,
  connectionStatsSchema,
  progressMessageSchema,
  statusMessageSchema,
} from '@taskpulse/protocol/payloads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_RECORD_NAMESPACES, taskProgressDialect } from '../src/dialects/index';
import { call, liveSubscribers, testAuthenticate } from './fixtures/http-client';
import { LegacyClient } from './fixtures/legacy-client';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';

const namespaces = { ...SEED_NAMESPACES, ...CLIENT_RECORD_NAMESPACES };

/** Seed 001's progress payload. */
const progress = (taskId: string, completed: number, extra: Record<string, unknown> = {}) => ({
  task_id: taskId,
  progress: completed * 25,
  current_step: ['下载视频', '视频转码', '上传视频', '完成'][completed] ?? '完成',
  total_steps: 4,
  completed_steps: completed,
  message: `step ${completed}`,
  status: 'running',
  timestamp: '2026-02-21T10:30:00Z',
  ...extra,
});
const completed = (taskId: string) => ({
  task_id: taskId,
  status: 'completed',
  result: { video_url: 'https://example.com/video.mp4' },
  timestamp: '2026-02-21T10:35:00Z',
});

let t: TestHub;
let ws: (query: string) => string;
const publish = (channel: string, event: string, data: unknown) => t.hub.core.publish(channel, event, data);

beforeAll(async () => {
  t = await startHub({
    authenticate: testAuthenticate,
    namespaces,
    dialects: [taskProgressDialect()],
    limits: { maxInvalidFrames: 4 },
  });
  ws = (query) => `${t.httpUrl.replace('http', 'ws')}/api/v1/ws?${query}`;
});

afterAll(async () => {
  await t.close();
});

async function connected(query: string): Promise<{ client: LegacyClient; clientId: string }> {
  const client = await LegacyClient.connect(ws(query));
  await client.waitFor((c) => c.ofType('connected').length === 1, 'connected');
  const clientId = connectedMessageSchema.parse(client.messages[0]).payload.client_id;
  return { client, clientId };
}

/** Waits until `count` sessions hold a live subscription to the channel (the action was processed). */
const subscribed = (channel: string, count = 1) =>
  waitUntil(() => liveSubscribers(t.hub.core, channel) === count, `${count} subscriber(s) of ${channel}`);

describe('seed 001 dialect: /api/v1/ws', () => {
  it('greets with connected, then sends progress and status messages of subscribed tasks', async () => {
    const { client } = await connected('token=u42.p7&project_id=7');
    expect(client.messages[0].type).toBe('connected');
    client.send({ action: 'subscribe', task_id: 'task-123' });
    await subscribed('task:task-123');
    await publish('task:task-123', 'progress', progress('task-123', 2));
    await publish('task:task-123', 'status', completed('task-123'));
    await client.waitFor((c) => c.messages.length === 3, 'progress and status');
    expect(progressMessageSchema.parse(client.messages[1])).toEqual({
      type: 'progress',
      task_id: 'task-123',
      payload: progress('task-123', 2),
    });
    expect(statusMessageSchema.parse(client.messages[2])).toEqual({
      type: 'status',
      task_id: 'task-123',
      payload: completed('task-123'),
    });

    client.send({ action: 'unsubscribe', task_id: 'task-123' });
    await subscribed('task:task-123', 0);
    await publish('task:task-123', 'progress', progress('task-123', 3));
    await publish('user:42', 'progress', progress('barrier', 1));
    await client.waitFor((c) => c.messages.some((m) => m.task_id === 'barrier'), 'the barrier');
    expect(client.messages.filter((m) => m.task_id === 'task-123')).toHaveLength(2);
    await client.close();
  });

  it("broadcasts to all of a user's and a project's clients, and to nobody else", async () => {
    const a = await connected('token=u42.p7&project_id=7');
    const b = await connected('token=u42');
    // Principal mode: the query's user_id is not trusted — u43 asking for user 42 gets user 43.
    const c = await connected('token=u43.p8&user_id=42&project_id=7');
    await subscribed('user:42', 2);
    await subscribed('user:43');
    await publish('user:42', 'progress', progress('task-456', 2));
    await publish('project:7', 'progress', progress('task-789', 3));
    await publish('user:43', 'status', completed('task-43'));
    await a.client.waitFor((x) => x.messages.length === 3, 'user and project broadcasts');
    await b.client.waitFor((x) => x.messages.length === 2, 'user broadcast');
    await c.client.waitFor((x) => x.ofType('status').length === 1, "user 43's own message");
    expect(a.client.messages.slice(1).map((m) => m.task_id)).toEqual(['task-456', 'task-789']);
    expect(b.client.messages[1]).toEqual({ type: 'progress', task_id: 'task-456', payload: progress('task-456', 2) });
    // u43 is not in project 7: told so, and never sees project 7 or user 42.
    expect(c.client.ofType('error')).toEqual([
      { type: 'error', payload: expect.objectContaining({ code: 'forbidden' }) },
    ]);
    expect(c.client.messages.map((m) => m.task_id).filter(Boolean)).toEqual(['task-43']);

    const stats = await call(`${t.httpUrl}/api/v1/websocket/stats`);
    expect(connectionStatsSchema.parse(stats.body)).toEqual({
      total_clients: 3,
      by_user: { '42': 2, '43': 1 },
      by_project: { '7': 1, '8': 1 },
    });
    for (const x of [a, b, c]) await x.client.close();
  });

  it('restores the subscriptions of old_client_id on reconnect, with what was missed', async () => {
    const first = await connected('token=u42');
    first.client.send({ action: 'subscribe', task_id: 'r1' });
    first.client.send({ action: 'subscribe', task_id: 'r2' });
    await subscribed('task:r2');
    await publish('task:r1', 'progress', progress('r1', 0));
    await first.client.waitFor((c) => c.ofType('progress').length === 1, 'first progress');
    await first.client.close();
    await subscribed('task:r1', 0);
    await publish('task:r1', 'progress', progress('r1', 1));
    await publish('task:r1', 'progress', progress('r1', 2));

    const second = await connected(`token=u42&old_client_id=${first.clientId}`);
    expect(second.clientId).toBe(first.clientId);
    await second.client.waitFor((c) => c.ofType('progress').length === 2, 'the missed progress');
    expect(second.client.ofType('progress').map((m) => m.payload.completed_steps)).toEqual([1, 2]);
    await subscribed('task:r2');
    // The seed's client re-sends its subscriptions: a no-op, not an error or a duplicate.
    second.client.send({ action: 'subscribe', task_id: 'r1' });
    second.client.send({ action: 'subscribe', task_id: 'r2' });
    await publish('task:r2', 'progress', progress('r2', 1));
    await second.client.waitFor((c) => c.ofType('progress').length === 3, 'live progress');
    expect(second.client.ofType('error')).toEqual([]);
    expect(t.hub.core.router.listenerCount('task:r1')).toBe(1);

    // Another user presenting that client id gets none of it.
    const thief = await connected(`token=u43&old_client_id=${first.clientId}`);
    await publish('task:r1', 'progress', progress('r1', 3));
    await second.client.waitFor((c) => c.ofType('progress').length === 4, 'owner still served');
    await publish('user:43', 'progress', progress('barrier-43', 1));
    await thief.client.waitFor((c) => c.ofType('progress').length === 1, 'barrier');
    expect(thief.client.ofType('progress').map((m) => m.task_id)).toEqual(['barrier-43']);
    await thief.client.close();
    await second.client.close();

    // The owner's record survived the other user's attempt.
    const third = await connected(`token=u42&old_client_id=${first.clientId}`);
    await subscribed('task:r2');
    expect(t.hub.core.router.listenerCount('task:r1')).toBe(1);
    await third.client.close();
  });

  it('answers bad actions with error messages and closes after too many', async () => {
    const { client } = await connected('token=u42');
    client.send({ action: 'subscribe', task_id: 'has space' });
    await client.waitFor((c) => c.ofType('error').length === 1, 'bad task id');
    expect(client.ofType('error')[0].payload.code).toBe('bad_channel');
    client.send({ action: 'jump', task_id: 'x' });
    client.send({ action: 'subscribe' });
    client.send('{"action":');
    await client.waitFor((c) => c.ofType('error').length === 4, 'errors');
    expect(
      client
        .ofType('error')
        .slice(1)
        .map((m) => m.payload.code),
    ).toEqual(['bad_frame', 'bad_frame', 'bad_frame']);
    client.send('nope');
    expect((await client.closed).code).toBe(CloseCode.BadRequest);
  });

  it('serves progress, history and stats over REST', async () => {
    for (let i = 0; i < 4; i++) await publish('task:rest-1', 'progress', progress('rest-1', i));
    const latest = await call(`${t.httpUrl}/api/v1/progress/rest-1`);
    expect(latest.status).toBe(200);
    expect(latest.body).toEqual(progress('rest-1', 3));
    await publish('task:rest-1', 'status', completed('rest-1'));
    expect((await call(`${t.httpUrl}/api/v1/progress/rest-1`)).body).toMatchObject({
      completed_steps: 3,
      status: 'completed',
    });
    const history = await call(`${t.httpUrl}/api/v1/progress/rest-1/history?limit=2`);
    expect(history.body).toEqual({ task_id: 'rest-1', history: [progress('rest-1', 2), progress('rest-1', 3)] });
    expect((await call(`${t.httpUrl}/api/v1/progress/rest-1/history`)).body.history).toHaveLength(4);

    const { client } = await connected('token=u42');
    client.send({ action: 'subscribe', task_id: 'rest-1' });
    await subscribed('task:rest-1');
    const stats = await call(`${t.httpUrl}/api/v1/progress/stats`);
    expect(stats.body).toMatchObject({ by_task: { 'rest-1': 1 }, max_history: 100, history_ttl_seconds: 86400 });
    await client.close();

    const bad: Array<[string, number, string]> = [
      ['/api/v1/progress/unknown-task', 404, 'not_found'],
      ['/api/v1/progress/rest-1/history?limit=0', 400, 'bad_request'],
      ['/api/v1/progress/rest-1/history?limit=abc', 400, 'bad_request'],
      ['/api/v1/progress/rest-1/history?limit=101', 400, 'bad_request'],
      ['/api/v1/progress/bad%20id', 400, 'bad_channel'],
      ['/api/v1/progress/%E0%A4%A', 404, 'not_found'],
    ];
    for (const [path, status, code] of bad) {
      const res = await call(`${t.httpUrl}${path}`);
      expect({ path, status: res.status, code: res.body?.error?.code }).toEqual({ path, status, code });
    }
    expect((await call(`${t.httpUrl}/api/v1/progress/rest-1`, { method: 'POST', body: {} })).status).toBe(405);
  });
});

describe('seed 001 dialect with trusted query identity (legacy opt-in)', () => {
  it('takes user_id/project_id from the query, and restores them for an old_client_id-only reconnect', async () => {
    const dialect = taskProgressDialect();
    const legacy = await startHub({
      namespaces,
      dialects: [dialect],
      authenticate: dialect.trustQueryIdentity({ fallback: testAuthenticate }),
    });
    const url = (q: string) => `${legacy.httpUrl.replace('http', 'ws')}/api/v1/ws?${q}`;
    const a = await LegacyClient.connect(url('user_id=user-123&project_id=project-456'));
    await a.waitFor((c) => c.messages.length === 1, 'connected');
    const clientId = a.messages[0].payload.client_id as string;
    a.send({ action: 'subscribe', task_id: 'legacy-1' });
    await waitUntil(() => liveSubscribers(legacy.hub.core, 'task:legacy-1') === 1, 'subscribed');
    expect((await call(`${legacy.httpUrl}/api/v1/websocket/stats`)).body).toEqual({
      total_clients: 1,
      by_user: { 'user-123': 1 },
      by_project: { 'project-456': 1 },
    });
    await legacy.hub.core.publish('user:user-123', 'progress', progress('u-task', 1));
    await legacy.hub.core.publish('project:project-456', 'progress', progress('p-task', 1));
    await a.waitFor((c) => c.messages.length === 3, 'broadcasts');
    await a.close();

    const b = await LegacyClient.connect(url(`old_client_id=${clientId}`));
    await waitUntil(() => liveSubscribers(legacy.hub.core, 'task:legacy-1') === 1, 'restored');
    await waitUntil(() => liveSubscribers(legacy.hub.core, 'user:user-123') === 1, 'identity restored');
    await legacy.hub.core.publish('user:user-123', 'progress', progress('u-task', 2));
    await legacy.hub.core.publish('task:legacy-1', 'progress', progress('legacy-1', 2));
    await b.waitFor((c) => c.messages.length === 3, 'messages after reconnect');
    expect(b.messages.map((m) => m.type)).toEqual(['connected', 'progress', 'progress']);
    expect(b.messages[0].payload.client_id).toBe(clientId);

    // A bad id in the query is refused at the upgrade.
    await expect(LegacyClient.connect(url('user_id=a%20b'))).rejects.toMatchObject({ status: 400 });
    // Other paths still use the fallback.
    expect((await call(`${legacy.httpUrl}/taskpulse/channels/user:user-123/state?token=uuser-123`)).status).toBe(200);
    expect((await call(`${legacy.httpUrl}/taskpulse/channels/user:user-123/state?user_id=user-123`)).status).toBe(403);
    await b.close();
    await legacy.close();
  });
});
