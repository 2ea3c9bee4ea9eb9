/**
 * Issue 9.7: a deeply nested publication cannot take a hub down. Publishers (Node and the Lua path
 * of other languages), HTTP and WebSocket publishing refuse it by one rule; one already in Redis
 * (written before the rule, or by hand) is skipped by SSE, polling, history reads and WebSocket
 * delivery, which keep serving.
 */
import { MAX_DATA_DEPTH } from '@taskpulse/protocol';
import {
  channelKeys,
  createPublisher,
  createRedisBroker,
  type Publisher,
  type RedisBroker,
} from '@taskpulse/redis-bridge';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, SseStream } from './fixtures/http-client';
import { startHub, type TestHub } from './helpers/hub';
import { TestClient } from './helpers/ws-client';

const namespaces = { rel: { historySize: 100, clientPublish: true } };
const deepText = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

let redis: RedisServer;
let client: Redis;
let broker: RedisBroker;
let publisher: Publisher;
let t: TestHub;
const prefix = `${uniqueId('deep')}:`;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  broker = createRedisBroker({ redis: redis.url, prefix, namespaces });
  publisher = createPublisher({ redis: redis.url, prefix, namespaces });
  await broker.ready();
  t = await startHub({ broker, http: { publishApiKeys: ['k'] } });
});
afterAll(async () => {
  await t?.close();
  await broker?.close();
  await publisher?.close();
  client?.disconnect();
  await redis?.stop();
});

describe('deep nesting (issue 9.7)', () => {
  it('every way in refuses the 4150-deep array of the issue', async () => {
    const data = JSON.parse(deepText(4150)) as unknown;
    await expect(publisher.publish('rel:x', 'e', data)).rejects.toMatchObject({ code: 'bad_request' });
    const http = await call(`${t.httpUrl}/taskpulse/publish`, {
      headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
      body: `{"channel":"rel:x","event":"e","data":${deepText(4150)}}`,
    });
    expect(http.status).toBe(400);
    const ws = await TestClient.connect(t.wsUrl);
    ws.send(`{"type":"publish","id":1,"channel":"rel:x","event":"e","data":${deepText(4150)}}`);
    expect(await ws.waitForFrame((f) => f.type === 'error', 'the error answer')).toMatchObject({ code: 'bad_frame' });
    ws.send(`{"type":"publish","id":2,"channel":"rel:x","event":"e","data":${deepText(MAX_DATA_DEPTH)}}`);
    expect(await ws.waitForFrame((f) => f.type === 'published', 'the published answer')).toMatchObject({ id: 2 });
    await ws.close();
  });

  it('a deep publication already in Redis takes down neither SSE, polls, history reads nor WebSocket delivery', async () => {
    const channel = `rel:${uniqueId('x')}`;
    const sse = await SseStream.open(`${t.httpUrl}/taskpulse/sse?channel=${channel}`);
    const ws = await TestClient.connect(t.wsUrl);
    await ws.subscribe(channel);
    await sse.waitFor((s) => s.frames().some((f) => f.type === 'subscribed'), 'subscribed');
    const first = await publisher.publish(channel, 'e', 1);
    // Written straight into Redis, bypassing every check: history entry, position and pub/sub.
    const keys = channelKeys(prefix, channel);
    const deep = `{"channel":"${channel}","offset":2,"epoch":"${first.epoch}","event":"e","data":${deepText(4150)},"ts":1}`;
    await client.xadd(keys.history, '2-0', 'p', deep);
    await client.hset(keys.meta, 'offset', 2);
    await client.publish(keys.pubsub, deep);
    await publisher.publish(channel, 'e', 3);

    await sse.waitFor((s) => s.publications(channel).some((p) => p.offset === 3), 'the publication after it (SSE)');
    await ws.waitForPublications(channel, 2);
    expect(sse.publications(channel).map((p) => p.offset)).toEqual([1, 3]);
    expect(ws.publicationsOf(channel).map((p) => p.offset)).toEqual([1, 3]);

    const history = await call(`${t.httpUrl}/taskpulse/channels/${channel}/history`);
    expect(history.status).toBe(200);
    expect(history.body.publications.map((p: { offset: number }) => p.offset)).toEqual([1, 3]);
    const poll = await call(`${t.httpUrl}/taskpulse/poll?channel=${channel}&last_id=0&epoch=${first.epoch}`);
    expect(poll.status).toBe(200);
    // An SSE client resuming from before it is served too.
    const resumed = await SseStream.open(
      `${t.httpUrl}/taskpulse/sse?channel=${channel}&last_id=0&epoch=${first.epoch}`,
    );
    await resumed.waitFor((s) => s.publications(channel).some((p) => p.offset === 3), 'the resumed stream');
    expect(resumed.publications(channel).map((p) => p.offset)).toEqual([1, 3]);
    sse.close();
    resumed.close();
    await ws.close();
    expect(t.hub.ready()).toBe(true);
  });
});
