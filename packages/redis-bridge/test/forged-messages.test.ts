/**
 * Issue 9.5: a message PUBLISHed on a channel's pub/sub key by anything but the publish script
 * never replaces the genuine publication of its offset: live messages are verified against the
 * stored history (or the stored latest value) before delivery.
 */
import type { TaskpulseError } from '@taskpulse/protocol';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelKeys, createPublisher, createSubscriber, type Publisher, type Subscriber } from '../src/index';
import { sleep, timeline, waitUntil } from './helpers';

const namespaces = { t: { historySize: 100 }, nohist: { kind: 'state' as const, historySize: 0 } };
let server: RedisServer;
let client: Redis;
let publisher: Publisher;
let subscriber: Subscriber;
const errors: TaskpulseError[] = [];
const prefix = `${uniqueId('forge')}:`;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url);
  publisher = createPublisher({ redis: client, prefix, namespaces });
  subscriber = createSubscriber({ redis: client, prefix, namespaces, onError: (e) => errors.push(e) });
});
afterAll(async () => {
  await subscriber?.close();
  await publisher?.close();
  client?.disconnect();
  await server?.stop();
});

const forged = (channel: string, epoch: string, offset: number, data: unknown) =>
  JSON.stringify({ channel, offset, epoch, event: 'e', data, ts: 1 });

describe('forged pub/sub messages (issue 9.5)', () => {
  it('the issue reproduction: forged offsets 5 then 2 in one pipeline, then the genuine 2', async () => {
    const c = `t:${uniqueId()}`;
    const t = timeline();
    await subscriber.subscribe(c, t.handler);
    const { epoch } = await publisher.publish(c, 'e', 'genuine-1');
    await waitUntil(() => t.pubs().length === 1, 'the first publication');
    const invalidBefore = subscriber.stats().invalid;
    const pubsub = channelKeys(prefix, c).pubsub;
    await client
      .pipeline()
      .publish(pubsub, forged(c, epoch, 5, 'forged-5'))
      .publish(pubsub, forged(c, epoch, 2, 'forged-2'))
      .exec();
    await waitUntil(() => subscriber.stats().invalid >= invalidBefore + 2, 'both forged messages rejected');
    await publisher.publish(c, 'e', 'genuine-2');
    await publisher.publish(c, 'e', 'genuine-3');
    await waitUntil(() => t.pubs().length === 3, 'the genuine publications');
    await sleep(30);
    expect(t.pubs().map((p) => [p.offset, p.data])).toEqual([
      [1, 'genuine-1'],
      [2, 'genuine-2'],
      [3, 'genuine-3'],
    ]);
    expect(t.resets()).toEqual([]);
  });

  it('a forged next offset is never delivered, before or after the genuine one', async () => {
    const c = `t:${uniqueId()}`;
    const t = timeline();
    await subscriber.subscribe(c, t.handler);
    const { epoch } = await publisher.publish(c, 'e', 'genuine-1');
    await waitUntil(() => t.pubs().length === 1, 'the first publication');
    const pubsub = channelKeys(prefix, c).pubsub;
    const invalidBefore = subscriber.stats().invalid;
    await client.publish(pubsub, forged(c, epoch, 2, 'forged-before'));
    await waitUntil(() => subscriber.stats().invalid > invalidBefore, 'the forged message rejected');
    await publisher.publish(c, 'e', 'genuine-2');
    await waitUntil(() => t.pubs().length === 2, 'the genuine publication');
    // The same offset forged again after the genuine one was delivered: dropped (already delivered).
    const duplicatesBefore = subscriber.stats().duplicates;
    await client.publish(pubsub, forged(c, epoch, 2, 'forged-after'));
    await waitUntil(() => subscriber.stats().duplicates > duplicatesBefore, 'the late forgery dropped');
    await publisher.publish(c, 'e', 'genuine-3');
    await waitUntil(() => t.pubs().length === 3, 'the third publication');
    expect(t.pubs().map((p) => p.data)).toEqual(['genuine-1', 'genuine-2', 'genuine-3']);
    expect(errors.some((e) => /ahead of the channel/.test(e.message))).toBe(true);
  });

  it('a channel without history is verified against its stored latest value', async () => {
    const c = `nohist:${uniqueId()}`;
    const t = timeline();
    await subscriber.subscribe(c, t.handler);
    const { epoch } = await publisher.publish(c, 'status', { n: 1 });
    await waitUntil(() => t.pubs().length === 1, 'the first value');
    const invalidBefore = subscriber.stats().invalid;
    await client.publish(channelKeys(prefix, c).pubsub, forged(c, epoch, 2, { n: 'forged' }));
    await waitUntil(() => subscriber.stats().invalid > invalidBefore, 'the forged value rejected');
    await publisher.publish(c, 'status', { n: 2 });
    await waitUntil(() => t.pubs().length === 2, 'the second value');
    expect(t.pubs().map((p) => p.data)).toEqual([{ n: 1 }, { n: 2 }]);
  });
});
