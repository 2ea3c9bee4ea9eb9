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
import { evalPublish, range, sleep, waitUntil } from './helpers';

const namespaces = { t: { historySize: 100 }, live: { historySize: 0 } };
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

// Issue 13 review: every text a hub hands on must be one line of valid JSON about its channel,
// whoever wrote it into Redis (the publish script, another language, a hostile writer). Each case
// writes a text a client could not parse (or would misread) and checks it is refused, counted, and
// that the channel keeps serving.
function collect() {
  const got: PublicationMessage[] = [];
  return { got, handler: { onPublication: () => {}, onMessage: (m: PublicationMessage) => got.push(m) } };
}

/** Every text handed on parses, and names its own channel and offset. */
function expectClean(got: PublicationMessage[], channel: string) {
  for (const m of got) {
    expect(m.text).not.toMatch(/[\r\n]/);
    const parsed = JSON.parse(m.text);
    expect([parsed.channel, parsed.offset, parsed.epoch]).toEqual([channel, m.offset, m.epoch]);
  }
}

describe('hostile publication texts are never passed through (issue 13)', () => {
  it('a number cjson accepts but JSON.parse refuses (`1.`) is stored, then refused by every reader', async () => {
    const c = `t:${uniqueId()}`;
    const m = collect();
    const sub = await verified.subscribe(c, m.handler);
    const before = errors.length;
    // The script's courtesy check (cjson) lets `1.` through: the hub's parse is the guard.
    expect((await evalPublish(client, prefix, c, '{"event":"e","data":1.,"ts":1}'))[1]).toBe(1);
    await publisher.publish(c, 'ok', 2);
    await waitUntil(() => m.got.length === 1, 'the valid publication');
    expect(m.got.map((x) => x.offset)).toEqual([2]);
    expectClean(m.got, c);
    expect(errors.slice(before).some((e) => e.code === 'bad_frame')).toBe(true);
    const history = await broker.historyMessages(c);
    expect(history.messages.map((x) => x.offset)).toEqual([2]);
    await sub.unsubscribe();
  });

  it('a hand-written history entry that is not JSON, published as well, reaches nobody', async () => {
    const c = `t:${uniqueId()}`;
    const m = collect();
    const sub = await verified.subscribe(c, m.handler);
    await publisher.publish(c, 'ok', 1);
    await waitUntil(() => m.got.length === 1, 'the first publication');
    const keys = channelKeys(prefix, c);
    const epoch = m.got[0]?.epoch as string;
    const forged = `{"channel":"${c}","offset":2,"epoch":"${epoch}","event":"e","data":[1,,2],"ts":1}`;
    await client.hincrby(keys.meta, 'offset', 1);
    await client.xadd(keys.history, '2-0', 'p', forged);
    await client.publish(keys.pubsub, forged);
    await publisher.publish(c, 'ok', 3);
    await waitUntil(() => m.got.some((x) => x.offset === 3), 'the publication after the forged one');
    expect(m.got.map((x) => x.offset)).toEqual([1, 3]);
    expectClean(m.got, c);
    expect((await broker.historyMessages(c)).messages.map((x) => x.offset)).toEqual([1, 3]);
    await sub.unsubscribe();
  });

  it('a raw line break or a second `channel` key is refused even where nothing can be verified', async () => {
    const c = `live:${uniqueId()}`;
    const m = collect();
    const sub = await trusting.subscribe(c, m.handler);
    const keys = channelKeys(prefix, c);
    await publisher.publish(c, 'ok', 1);
    await waitUntil(() => m.got.length === 1, 'the first publication');
    const epoch = m.got[0]?.epoch as string;
    const head = (offset: number) => `{"channel":"${c}","offset":${offset},"epoch":"${epoch}"`;
    // An SSE `data:` line ends at a raw line break: this would inject a forged event.
    await client.publish(keys.pubsub, `${head(2)},"event":"e",\n\ndata: {"type":"welcome"}\n\n"data":1,"ts":1}`);
    // JSON.parse keeps the last duplicate key: clients would read another channel and offset.
    await client.publish(keys.pubsub, `${head(2)},"event":"e","data":1,"ts":1,"offset":999,"channel":"t:other"}`);
    await publisher.publish(c, 'ok', 2);
    await waitUntil(() => m.got.some((x) => x.offset === 2), 'the next genuine publication');
    expect(m.got.map((x) => [x.offset, x.publication().event])).toEqual([
      [1, 'ok'],
      [2, 'ok'],
    ]);
    expectClean(m.got, c);
    await sub.unsubscribe();
  });

  it('a priority written with a space (Python json.dumps) is kept; raw control characters are refused at publish', async () => {
    const c = `t:${uniqueId()}`;
    const m = collect();
    const sub = await verified.subscribe(c, m.handler);
    await evalPublish(client, prefix, c, '{"event": "e", "data": {"x": 1}, "ts": 1, "priority": 2}');
    await waitUntil(() => m.got.length === 1, 'the spaced publication');
    expect(m.got[0]?.priority).toBe(2);
    expect(m.got[0]?.publication()).toMatchObject({ event: 'e', data: { x: 1 }, priority: 2 });
    await expect(evalPublish(client, prefix, c, '{"event":"e",\n"data":1,"ts":1}')).rejects.toThrow(
      /raw control character/,
    );
    await sub.unsubscribe();
  });

  it('a lone surrogate (which JSON.stringify writes and JSON.parse reads) still publishes and delivers', async () => {
    const c = `t:${uniqueId()}`;
    const m = collect();
    const sub = await verified.subscribe(c, m.handler);
    await publisher.publish(c, 'e', { s: 'a\ud800b' });
    await waitUntil(() => m.got.length === 1, 'the publication');
    expect(m.got[0]?.publication().data).toEqual({ s: 'a\ud800b' });
    await sub.unsubscribe();
  });
});
