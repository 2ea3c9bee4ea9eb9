import { MAX_DATA_DEPTH, type Publication, type TaskpulseError } from '@taskpulse/protocol';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelKeys, createPublisher, createRedisBroker, type Publisher, type RedisBroker } from '../src/index';
import { evalPublish, waitUntil } from './helpers';

const namespaces = { rel: { historySize: 100 } };
const deepText = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const nested = (depth: number) => JSON.parse(deepText(depth)) as unknown;

let redis: RedisServer;
let client: Redis;
let publisher: Publisher;
let broker: RedisBroker;
const prefix = `${uniqueId('deep')}:`;
const errors: TaskpulseError[] = [];

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  publisher = createPublisher({ redis: redis.url, prefix, namespaces });
  broker = createRedisBroker({ redis: redis.url, prefix, namespaces, onError: (e) => errors.push(e) });
  await broker.ready();
});
afterAll(async () => {
  await publisher?.close();
  await broker?.close();
  client?.disconnect();
  await redis?.stop();
});

describe('one nesting rule for every way in (issue 9.7)', () => {
  it('the Lua script refuses a body that is not valid JSON, so hubs can pass its text through (issue 13)', async () => {
    const channel = `rel:${uniqueId()}`;
    for (const bad of [
      '{"event":"e","data":[1,,2],"ts":1}',
      '{"event":"e","data":NaN,"ts":1}',
      '{"event":"e","data":0x10,"ts":1}',
      '{"event":"e","data":{"a":1},"ts":1',
      `{"event":"e","data":"a raw control character ${String.fromCharCode(1)}","ts":1}`,
      '{"event":"e",\n"data":1,"ts":1}',
    ]) {
      await expect(evalPublish(client, prefix, channel, bad), bad).rejects.toThrow(
        /not valid JSON|must be a JSON object/,
      );
    }
    const ok = (await evalPublish(client, prefix, channel, '{"event":"e","data":{"a":[1,2.5e3,"x"]},"ts":1}')) as [
      string,
      number,
    ];
    expect(ok[1]).toBe(1);
    const stored = await broker.history(channel);
    expect(stored.publications.map((p) => p.data)).toEqual([{ a: [1, 2500, 'x'] }]);
  });

  it('the publisher refuses data nested deeper than MAX_DATA_DEPTH, and the 4150-deep array of the issue', async () => {
    const channel = `rel:${uniqueId()}`;
    expect((await publisher.publish(channel, 'e', nested(MAX_DATA_DEPTH))).offset).toBe(1);
    for (const depth of [MAX_DATA_DEPTH + 1, 4150]) {
      await expect(publisher.publish(channel, 'e', nested(depth))).rejects.toMatchObject({ code: 'bad_request' });
    }
    // A string that looks deep is not deep.
    expect((await publisher.publish(channel, 'e', '['.repeat(5000))).offset).toBe(2);
  });

  it('the Lua script (the path of other languages) refuses the same bodies', async () => {
    const channel = `rel:${uniqueId()}`;
    const body = (data: string) => `{"event":"e","data":${data},"ts":1}`;
    await expect(evalPublish(client, prefix, channel, body(deepText(4150)))).rejects.toThrow(/nests deeper than 64/);
    await expect(evalPublish(client, prefix, channel, body(deepText(MAX_DATA_DEPTH + 1)))).rejects.toThrow(
      /nests deeper/,
    );
    const ok = (await evalPublish(client, prefix, channel, body(deepText(MAX_DATA_DEPTH)))) as [string, number];
    expect(ok[1]).toBe(1);
    // Escaped quotes and brackets inside strings do not count.
    const tricky = (await evalPublish(client, prefix, channel, body(JSON.stringify({ s: '\\"[[[[', t: ']]]"' })))) as [
      string,
      number,
    ];
    expect(tricky[1]).toBe(2);
    // Too deep is what is said even when the body is also malformed before its deep part.
    await expect(evalPublish(client, prefix, channel, body(`[1,,2,${deepText(70)}]`))).rejects.toThrow(
      /nests deeper than 64/,
    );
  });

  it("the Lua script leaves the shared cjson's settings as other scripts set them", async () => {
    const channel = `rel:${uniqueId()}`;
    const settings = 'return {tostring(cjson.decode_invalid_numbers()), cjson.decode_max_depth()}';
    // Another application's scripts may rely on settings of their own.
    await client.eval('cjson.decode_invalid_numbers(true); cjson.decode_max_depth(7); return 1', 0);
    try {
      const body = (data: string) => `{"event":"e","data":${data},"ts":1}`;
      expect(((await evalPublish(client, prefix, channel, body(deepText(40)))) as [string, number])[1]).toBe(1);
      await expect(evalPublish(client, prefix, channel, body(deepText(MAX_DATA_DEPTH + 1)))).rejects.toThrow(
        /nests deeper/,
      );
      await expect(evalPublish(client, prefix, channel, body('NaN'))).rejects.toThrow(/not valid JSON/);
      expect(await client.eval(settings, 0)).toEqual(['true', 7]);
    } finally {
      await client.eval('cjson.decode_max_depth(1000); return 1', 0);
    }
    expect(await client.eval(settings, 0)).toEqual(['true', 1000]);
  });

  it('a too-deep publication already in Redis is skipped by readers and subscribers, which keep serving', async () => {
    const channel = `rel:${uniqueId()}`;
    const keys = channelKeys(prefix, channel);
    const got: Publication[] = [];
    await broker.subscribe(channel, { onPublication: (p) => got.push(p) });
    const first = await broker.publish(channel, 'e', 1);
    // Written straight into Redis, as an older or foreign writer could have: history and pub/sub.
    const deep = `{"channel":"${channel}","offset":2,"epoch":"${first.epoch}","event":"e","data":${deepText(4150)},"ts":1}`;
    await client.xadd(keys.history, '2-0', 'p', deep);
    await client.hset(keys.meta, 'offset', 2);
    await client.publish(keys.pubsub, deep);
    await broker.publish(channel, 'e', 3);
    await waitUntil(() => got.some((p) => p.offset === 3), 'the publication after the deep one');
    expect(got.map((p) => p.offset)).toEqual([1, 3]);
    expect(errors.some((e) => e.code === 'bad_frame' && /nests deeper/.test(e.message))).toBe(true);
    const history = await broker.history(channel);
    expect(history.publications.map((p) => p.offset)).toEqual([1, 3]);
    expect((await broker.history(channel, { since: { epoch: first.epoch, offset: 1 } })).publications.length).toBe(1);
  });
});
