/**
 * Issue 9.12: after a reconnect whose resubscribe fails, the subscriber retries on a timer (no
 * further `ready` event comes while the connection stays up) and `status()` says it is not ready.
 */
import type { TaskpulseError } from '@taskpulse/protocol';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisBroker, type RedisBroker } from '../src/index';
import { timeline, waitUntil } from './helpers';

let server: RedisServer;
let admin: Redis;
let broker: RedisBroker;

afterAll(async () => {
  await broker?.close();
  admin?.disconnect();
  await server?.stop();
});

describe('resubscribe after a reconnect (issue 9.12)', () => {
  it('retries a failed resubscribe on a timer and reports connecting until it succeeds', async () => {
    server = await startRedis();
    admin = new Redis(server.url);
    const errors: TaskpulseError[] = [];
    const prefix = `${uniqueId('resub')}:`;
    broker = createRedisBroker({
      redis: server.url,
      prefix,
      namespaces: { task: { historySize: 100 } },
      commandTimeoutMs: 1000,
      recoveryRetryDelayMs: 100,
      onError: (e) => errors.push(e),
    });
    await broker.ready();
    const channel = `task:${uniqueId()}`;
    const t = timeline();
    await broker.subscribe(channel, t.handler);
    await broker.publish(channel, 'e', 1);
    await waitUntil(() => t.pubs().length === 1, 'the first publication');

    // Revoking pub/sub channels disconnects the subscribed connection; it reconnects at once, but
    // its SUBSCRIBE is refused (NOPERM) — and no other `ready` event will come.
    await admin.call('ACL', 'SETUSER', 'default', 'resetchannels');
    await waitUntil(() => broker.stats().reconnects >= 1, 'the pub/sub connection to reconnect');
    await waitUntil(() => errors.some((e) => /NOPERM|permission/i.test(e.message)), 'the refused resubscribe');
    expect(broker.status()).not.toBe('ready');
    const refusedBefore = errors.filter((e) => /NOPERM|permission/i.test(e.message)).length;
    await waitUntil(
      () => errors.filter((e) => /NOPERM|permission/i.test(e.message)).length > refusedBefore,
      'a retry of the resubscribe on the timer',
    );
    expect(broker.status()).not.toBe('ready');

    await admin.call('ACL', 'SETUSER', 'default', 'allchannels');
    await waitUntil(() => broker.status() === 'ready', 'ready again after a successful retry');
    await broker.publish(channel, 'e', 2);
    await waitUntil(() => t.pubs().length === 2, 'the publication after the retry');
    expect(t.pubs().map((p) => p.offset)).toEqual([1, 2]);
  }, 60_000);
});
