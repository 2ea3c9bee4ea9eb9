/**
 * Issue 13 review: a hub passes publication texts through to its sockets, so every text it hands
 * on must be one line of valid JSON about its channel — whoever wrote it into Redis (the publish
 * script, another language, a hostile writer). Each case writes a text a client could not parse
 * (or would misread) and checks it is refused, counted, and that the channel keeps serving.
 */

import { readFileSync } from 'node:fs';
import type { PublicationMessage, TaskpulseError } from '@taskpulse/protocol';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  channelKeys,
  createPublisher,
  createRedisBroker,
  createSubscriber,
  luaScriptPath,
  newEpochCandidate,
  type Publisher,
  type RedisBroker,
  type Subscriber,
} from '../src/index';
import { waitUntil } from './helpers';

const namespaces = { t: { historySize: 100 }, live: { historySize: 0 } };
let server: RedisServer;
let client: Redis;
let publisher: Publisher;
let verified: Subscriber;
let trusting: Subscriber;
let broker: RedisBroker;
const errors: TaskpulseError[] = [];
const prefix = `${uniqueId('hostile')}:`;

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

/** Runs the publish script with a raw body, as a publisher of another language does. */
function evalPublish(channel: string, body: string, historySize = 100) {
  const keys = channelKeys(prefix, channel);
  return client.eval(
    readFileSync(luaScriptPath('publish'), 'utf8'),
    3,
    keys.meta,
    keys.history,
    keys.pubsub,
    newEpochCandidate(),
    channel,
    body,
    historySize,
    60_000,
    'events',
    'publish',
  ) as Promise<[string, number]>;
}

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
    expect((await evalPublish(c, '{"event":"e","data":1.,"ts":1}'))[1]).toBe(1);
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
    await evalPublish(c, '{"event": "e", "data": {"x": 1}, "ts": 1, "priority": 2}');
    await waitUntil(() => m.got.length === 1, 'the spaced publication');
    expect(m.got[0]?.priority).toBe(2);
    expect(m.got[0]?.publication()).toMatchObject({ event: 'e', data: { x: 1 }, priority: 2 });
    await expect(evalPublish(c, '{"event":"e",\n"data":1,"ts":1}')).rejects.toThrow(/raw control character/);
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
