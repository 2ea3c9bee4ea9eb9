/**
 * Issue 13, bytes in, bytes out: the subscriber hands `onMessage` handlers the text the publish
 * script wrote, checked (size, nesting, header, then one JSON.parse against the header) but never re-serialized; reads of many
 * channels at once share one script call.
 */
import type { Publication, PublicationMessage, TaskpulseError } from '@taskpulse/protocol';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  channelKeys,
  createPublisher,
  createRedisBroker,
  createSubscriber,
  type Publisher,
  type RedisBroker,
  type Subscriber,
} from '../src/index';
import { range, sleep, waitUntil } from './helpers';

const namespaces = { t: { historySize: 100 } };
let server: RedisServer;
let client: Redis;
let publisher: Publisher;
let verified: Subscriber;
let trusting: Subscriber;
let broker: RedisBroker;
const errors: TaskpulseError[] = [];
const prefix = `${uniqueId('text')}:`;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url);
  publisher = createPublisher({ redis: client, prefix, namespaces });
  verified = createSubscriber({ redis: client, prefix, namespaces, onError: (e) => errors.push(e) });
  trusting = createSubscriber({
    redis: client,
    prefix,
    namespaces,
    verifyLiveMessages: false,
    onError: (e) => errors.push(e),
  });
  broker = createRedisBroker({ redis: client, prefix, namespaces, onError: (e) => errors.push(e) });
});
afterAll(async () => {
  await broker?.close();
  await verified?.close();
  await trusting?.close();
  await publisher?.close();
  client?.disconnect();
  await server?.stop();
});

function messages() {
  const got: PublicationMessage[] = [];
  const objects: Publication[] = [];
  return {
    got,
    objects,
    handler: { onPublication: (p: Publication) => objects.push(p), onMessage: (m: PublicationMessage) => got.push(m) },
  };
}

describe('text pass-through (issue 13)', () => {
  it('delivers the stored text itself, with its header, to onMessage handlers', async () => {
    const c = `t:${uniqueId()}`;
    const m = messages();
    const sub = await verified.subscribe(c, m.handler);
    await publisher.publish(c, 'progress', { progress: 50, s: 'é\u2028"' }, { id: 'x1', priority: 1 });
    await waitUntil(() => m.got.length === 1, 'the message');
    const stored = await client.xrange(channelKeys(prefix, c).history, '-', '+');
    const text = stored[0]?.[1][1];
    const message = m.got[0] as PublicationMessage;
    expect(message.text).toBe(text);
    expect([message.channel, message.offset, message.priority]).toEqual([c, 1, 1]);
    expect(message.publication()).toMatchObject({ event: 'progress', data: { progress: 50, s: 'é\u2028"' }, id: 'x1' });
    expect(m.objects).toEqual([]);
    await sub.unsubscribe();
  });

  it('a header-valid message that is not JSON: never delivered, verified or trusted (a client could not parse it)', async () => {
    const c = `t:${uniqueId()}`;
    const v = messages();
    const t = messages();
    const plain: Publication[] = [];
    const subs = [
      await verified.subscribe(c, v.handler),
      await trusting.subscribe(c, t.handler),
      await trusting.subscribe(c, { onPublication: (p) => plain.push(p) }),
    ];
    const { epoch } = await publisher.publish(c, 'e', 1);
    await waitUntil(() => v.got.length === 1 && t.got.length === 1 && plain.length === 1, 'the first');
    const errorsBefore = errors.length;
    const bogus = `{"channel":"${c}","offset":2,"epoch":"${epoch}",not json}`;
    await client.publish(channelKeys(prefix, c).pubsub, bogus);
    await waitUntil(() => errors.length > errorsBefore, 'the reports');
    await sleep(50);
    // Trusted or not, the subscriber parses each text once before handing it on: refused, reported.
    expect(t.got.map((m) => m.offset)).toEqual([1]);
    expect(plain.map((p) => p.offset)).toEqual([1]);
    expect(v.got.map((m) => m.offset)).toEqual([1]); // verified: not in history, never delivered
    expect(errors.slice(errorsBefore).every((e) => e.code === 'bad_frame')).toBe(true);
    for (const sub of subs) await sub.unsubscribe();
  });

  it('verifies and reads many channels at once, each getting its own publications', async () => {
    const channels = range(1, 40).map(() => `t:${uniqueId()}`);
    const got = new Map<string, number[]>();
    const subs = await Promise.all(
      channels.map((c) =>
        broker.subscribe(c, {
          onPublication: () => {},
          onMessage: (m) => {
            expect(m.channel).toBe(c);
            got.set(c, [...(got.get(c) ?? []), m.offset]);
          },
        }),
      ),
    );
    for (let round = 0; round < 3; round++) {
      await Promise.all(channels.map((c, i) => publisher.publish(c, 'e', { c: i, round })));
    }
    await waitUntil(() => channels.every((c) => got.get(c)?.length === 3), 'every channel');
    for (const c of channels) expect(got.get(c)).toEqual([1, 2, 3]);
    // Concurrent reads of different channels (batched into one call) each answer their own.
    const reads = await Promise.all(channels.map((c) => broker.historyMessages(c, { limit: 2 })));
    reads.forEach((read, i) => {
      expect(read.messages.map((m) => [m.channel, m.offset])).toEqual([
        [channels[i], 2],
        [channels[i], 3],
      ]);
      expect((read.messages[1] as PublicationMessage).publication().data).toEqual({ c: i, round: 2 });
    });
    await Promise.all(subs.map((s) => s.unsubscribe()));
  });

  it('one channel Redis refuses to read does not hold up the others read with it', async () => {
    const good = range(1, 5).map(() => `t:${uniqueId()}`);
    const bad = `t:${uniqueId()}`;
    for (const c of [...good, bad]) await publisher.publish(c, 'e', c);
    // The bad channel's history is no stream any more: its read fails with WRONGTYPE.
    const keys = channelKeys(prefix, bad);
    await client.del(keys.history);
    await client.set(keys.history, 'not a stream');
    const reads = await Promise.allSettled([bad, ...good].map((c) => broker.historyMessages(c)));
    expect(reads[0]?.status).toBe('rejected');
    reads.slice(1).forEach((read, i) => {
      expect(read.status).toBe('fulfilled');
      if (read.status === 'fulfilled') expect(read.value.messages.map((m) => m.publication().data)).toEqual([good[i]]);
    });
  });
});
