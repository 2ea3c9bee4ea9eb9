/**
 * Issues 9.10 and 9.11: while Redis is down the hub refuses new WebSocket upgrades with 503 (native
 * and dialect paths alike), and tells connected clients when live data stops and when it resumes.
 */
import { type Broker, type BrokerStatus, type LiveFrame, SEED_NAMESPACES } from '@taskpulse/protocol';
import { createRedisBroker, type RedisBroker } from '@taskpulse/redis-bridge';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { createMemoryBroker } from '@taskpulse/ws-hub';
import { CLIENT_RECORD_NAMESPACES, processorStatusDialect, taskProgressDialect } from '@taskpulse/ws-hub/dialects';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { testAuthenticate } from './fixtures/http-client';
import { LegacyClient } from './fixtures/legacy-client';
import { startHub, type TestHub } from './helpers/hub';
import { TestClient } from './helpers/ws-client';

const namespaces = { ...SEED_NAMESPACES, ...CLIENT_RECORD_NAMESPACES };

let redis: RedisServer;
let broker: RedisBroker;
let worker: RedisBroker;
let t: TestHub;

beforeAll(async () => {
  redis = await startRedis();
  const prefix = `${uniqueId('outage')}:`;
  broker = createRedisBroker({ redis: redis.url, prefix, namespaces, commandTimeoutMs: 500 });
  worker = createRedisBroker({ redis: redis.url, prefix, namespaces, commandTimeoutMs: 500 });
  await broker.ready();
  t = await startHub({
    broker,
    authenticate: testAuthenticate,
    dialects: [taskProgressDialect(), processorStatusDialect()],
    brokerCheckIntervalMs: 50,
  });
});

afterAll(async () => {
  await t?.close();
  await broker?.close();
  await worker?.close();
  await redis?.stop();
});

/** Opens a WebSocket and reports the HTTP refusal (status, Retry-After, JSON body) or `open`. */
function tryUpgrade(url: string): Promise<{ status: number; retryAfter?: string; body: unknown } | 'open'> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => {
      ws.terminate();
      resolve('open');
    });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => {
        const retryAfter = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, ...(retryAfter ? { retryAfter } : {}), body: JSON.parse(text) });
        ws.terminate();
      });
    });
    ws.once('error', (error) => {
      if (!(error instanceof Error && /Unexpected server response/.test(error.message))) reject(error);
    });
  });
}

describe('broker outage', () => {
  it('tells connected clients when live data stops and resumes, and refuses upgrades with 503 meanwhile', async () => {
    const wsBase = t.httpUrl.replace('http', 'ws');
    const native = await TestClient.connect(t.wsUrl, { token: 'u1' });
    await native.subscribe('task:outage');
    const legacy = await LegacyClient.connect(`${wsBase}/api/v1/ws?token=u1`);
    await legacy.waitFor((c) => c.ofType('connected').length === 1, 'connected');
    await worker.publish('processor:status', 'status', { running: true });
    const panel = await LegacyClient.connect(`${wsBase}/ws/processor-status`);
    await panel.waitFor((c) => c.messages.length === 1, 'the current status');

    await redis.kill();
    await native.waitForFrame(
      (f) => f.type === 'live' && f.available === false,
      'live: false on the native connection',
      15_000,
    );
    await legacy.waitFor((c) => c.ofType('live').length === 1, 'live on the seed 001 connection');
    expect(legacy.ofType('live')[0]).toEqual({
      type: 'live',
      payload: { available: false, code: 'unavailable', message: expect.any(String) },
    });

    // New upgrades are refused while the broker is down: native and dialect paths.
    for (const url of [`${t.wsUrl}?token=u1`, `${wsBase}/api/v1/ws?token=u1`, `${wsBase}/ws/processor-status`]) {
      const refused = await tryUpgrade(url);
      expect(refused).toMatchObject({
        status: 503,
        retryAfter: expect.any(String),
        body: { error: { code: 'unavailable' } },
      });
    }

    await redis.restart();
    await native.waitForFrame((f) => f.type === 'live' && f.available === true, 'live: true again', 20_000);
    await legacy.waitFor((c) => c.ofType('live').length === 2, 'live: true on the seed 001 connection', 20_000);
    expect(legacy.ofType('live')[1]).toEqual({ type: 'live', payload: { available: true } });
    // The seed 000 panel's format (bare status objects) has no room for it: it gets none.
    expect(panel.messages).toEqual([{ running: true }]);
    expect(native.closeInfo).toBeUndefined();
    // Accepted again, and live data flows.
    expect(await tryUpgrade(`${t.wsUrl}?token=u1`)).toBe('open');
    await worker.publish('task:outage', 'e', 'after');
    await native.waitForPublications('task:outage', 1, 20_000);
    await native.close();
    await legacy.close();
    await panel.close();
  }, 60_000);
});

describe('a connection opened while the hub believes live data is stopped', () => {
  it('is told live: false at the next check (a flapping broker), once, then live: true', async () => {
    // A broker whose status the test sets; checks run by hand. The broker goes down (the hub
    // notices), flaps up just long enough to admit an upgrade, and is down again at the next
    // check: the new session must hear that live data is stopped, not assume it flows.
    const memory = createMemoryBroker({ namespaces: SEED_NAMESPACES });
    let status: BrokerStatus = 'ready';
    const flaky = new Proxy(memory, {
      get: (target, key, receiver) => (key === 'status' ? () => status : Reflect.get(target, key, receiver)),
    }) as Broker;
    const h = await startHub({ broker: flaky, brokerCheckIntervalMs: 60_000 });
    try {
      const early = await TestClient.connect(h.wsUrl);
      status = 'down';
      h.hub.core.checkBroker();
      await early.waitForFrame((f) => f.type === 'live' && f.available === false, 'live: false (early)', 5_000);
      status = 'ready'; // a flap: the upgrade is admitted before the next check
      const late = await TestClient.connect(h.wsUrl);
      status = 'down';
      h.hub.core.checkBroker();
      await late.waitForFrame((f) => f.type === 'live' && f.available === false, 'live: false (late)', 5_000);
      h.hub.core.checkBroker(); // still down: nobody is told twice
      status = 'ready';
      h.hub.core.checkBroker();
      for (const client of [early, late]) {
        await client.waitForFrame((f) => f.type === 'live' && f.available === true, 'live: true', 5_000);
        const told = client.frames.filter((f): f is LiveFrame => f.type === 'live').map((f) => f.available);
        expect(told).toEqual([false, true]);
        await client.close();
      }
    } finally {
      await h.close();
      await memory.close();
    }
  });
});
