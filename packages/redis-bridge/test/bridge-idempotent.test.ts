/**
 * Issue 9.6 for bridges: the JSON bridge derives each publication's id from its source message and
 * retries a republish that failed with `unavailable` under it, so a message is republished once —
 * not lost when the connection breaks, not doubled when it is delivered (or retried) twice.
 */
import { type Publication, SEED_NAMESPACES } from '@taskpulse/protocol';
import { workerStatusSchema } from '@taskpulse/protocol/payloads';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createHistoryReader, createJsonBridge, createSubscriber } from '../src/index';
import { sleep, waitUntil } from './helpers';

const status = (n: number) => ({
  running: true,
  workers: 3,
  queue_pending: 10,
  queue_retry: 0,
  queue_dead: 0,
  processed_total: n,
  processed_today: n,
  speed: 1,
  last_error: null,
});

const closers: Array<() => unknown> = [];
let server: RedisServer;

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await server?.stop();
});

describe('JSON bridge republishing (issue 9.6)', () => {
  it('retries a failed republish under the id derived from the source message, and republishes each message once', async () => {
    server = await startRedis();
    const client = new Redis(server.url);
    // The bridge's own client, so that the test can cut its connection at the worst moment.
    const bridgeClient = new Redis(server.url, { enableOfflineQueue: false });
    let cut = false;
    closers.push(
      () => client.disconnect(),
      () => bridgeClient.disconnect(),
    );

    const prefix = `${uniqueId('bi')}:`;
    const sourceChannel = `${uniqueId('src')}:realtime`;
    const bridge = createJsonBridge({
      redis: bridgeClient,
      prefix,
      namespaces: SEED_NAMESPACES,
      sourceChannel,
      targetChannel: 'processor:status',
      event: 'status',
      schema: workerStatusSchema,
      // Right before the first republish is written, the connection breaks: that attempt fails
      // with `unavailable` (it may as well have timed out after being applied).
      map: (message) => {
        if (!cut) {
          cut = true;
          (bridgeClient as unknown as { stream: { destroy(): void } }).stream.destroy();
        }
        return { data: message };
      },
      lease: { ttlMs: 5000 },
      republishRetries: 30,
      republishRetryDelayMs: 100,
    });
    closers.push(() => bridge.close());
    await waitUntil(() => bridge.isActive(), 'the bridge to be active');
    const subscriber = createSubscriber({ redis: server.url, prefix, namespaces: SEED_NAMESPACES });
    closers.push(() => subscriber.close());
    const received: Publication[] = [];
    await subscriber.subscribe('processor:status', { onPublication: (p) => received.push(p) });

    await client.publish(sourceChannel, JSON.stringify(status(1)));
    await waitUntil(() => received.length === 1, 'the republished status');
    expect(cut).toBe(true);

    // The same message again within the dedupe window is the same publication.
    await client.publish(sourceChannel, JSON.stringify(status(1)));
    await client.publish(sourceChannel, JSON.stringify(status(2)));
    await waitUntil(() => received.length === 2, 'the next status');
    await sleep(50);
    const reader = createHistoryReader({ redis: server.url, prefix, namespaces: SEED_NAMESPACES });
    closers.push(() => reader.close());
    const history = await reader.history('processor:status');
    expect(received.map((p) => (p.data as { processed_total: number }).processed_total)).toEqual([1, 2]);
    expect(received.every((p) => typeof p.id === 'string' && p.id.startsWith('sha1:'))).toBe(true);
    expect(history.offset).toBe(2);
  });
});
