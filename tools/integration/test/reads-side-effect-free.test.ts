/**
 * Issue 9.8: reads create no state (no Redis key per anonymous state read, no channel in the
 * memory broker, nothing left by WebSocket subscribe churn), and HTTP reads are rate-limited (429).
 */
import { createRedisBroker, type RedisBroker } from '@taskpulse/redis-bridge';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from './fixtures/http-client';
import { startHub, type TestHub } from './helpers/hub';
import { TestClient } from './helpers/ws-client';

const namespaces = { x: { historySize: 10 }, task: { historySize: 10 } };
let redis: RedisServer;
let client: Redis;
let broker: RedisBroker;
let t: TestHub;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  broker = createRedisBroker({ redis: redis.url, prefix: `${uniqueId('ro')}:`, namespaces });
  await broker.ready();
  t = await startHub({ broker, http: { readRateLimit: { perSecond: 5, burst: 30 } } });
});
afterAll(async () => {
  await t?.close();
  await broker?.close();
  client?.disconnect();
  await redis?.stop();
});

describe('reads are side-effect free (issue 9.8)', () => {
  it('anonymous state and history reads of random channels create no Redis key', async () => {
    const before = await client.dbsize();
    for (let i = 0; i < 10; i++) {
      const state = await call(`${t.httpUrl}/taskpulse/channels/x:${uniqueId('r')}/state`);
      expect(state.status).toBe(200);
      expect(state.body).toMatchObject({ offset: 0, latest: null });
      const history = await call(`${t.httpUrl}/taskpulse/channels/x:${uniqueId('r')}/history`);
      expect(history.status).toBe(200);
    }
    expect(await client.dbsize()).toBe(before);
  });

  it('WebSocket subscribe churn on random channels leaves no key and no route behind', async () => {
    const before = await client.dbsize();
    const c = await TestClient.connect(t.wsUrl);
    for (let i = 0; i < 10; i++) {
      const channel = `task:${uniqueId('churn')}`;
      expect((await c.subscribeRaw(channel)).type).toBe('subscribed');
      expect((await c.request({ type: 'unsubscribe', channel })).type).toBe('unsubscribed');
    }
    await c.close();
    expect(await client.dbsize()).toBe(before);
    expect(t.hub.core.router.channelCount).toBe(0);
  });

  it('a client subscribed to a channel that does not exist yet gets its first publication without a reset', async () => {
    const channel = `task:${uniqueId('later')}`;
    const c = await TestClient.connect(t.wsUrl);
    const subscribed = await c.subscribeRaw(channel);
    expect(subscribed).toMatchObject({ type: 'subscribed', epoch: '0', offset: 0 });
    const { epoch } = await broker.publish(channel, 'e', 1);
    const [p] = await c.waitForPublications(channel, 1);
    expect(p).toMatchObject({ epoch, offset: 1 });
    expect(c.frames.filter((f) => f.type === 'subscribed')).toHaveLength(1);
    expect(c.violations).toEqual([]);
    await c.close();
  });

  it('HTTP reads are rate-limited per client: 429 rate_limited with Retry-After', async () => {
    const own = await startHub({ namespaces, http: { readRateLimit: { perSecond: 1, burst: 20 } } });
    const url = `${own.httpUrl}/taskpulse/channels/x:${uniqueId('rl')}/state`;
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 40 && !limited; i++) {
      const r = await call(url);
      statuses.push(r.status);
      if (r.status === 429) limited = r;
    }
    expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true);
    expect(limited?.body).toMatchObject({ error: { code: 'rate_limited' } });
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another client (an authenticated user would be keyed by user id) is not affected, nor are
    // other hubs: the budget is per client and per node.
    expect((await call(`${t.httpUrl}/taskpulse/channels/x:${uniqueId('rl')}/state`)).status).toBe(200);
    await own.close();
  });
});
