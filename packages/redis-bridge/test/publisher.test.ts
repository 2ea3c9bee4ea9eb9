import { readFileSync } from 'node:fs';
import { SEED_NAMESPACES } from '@taskpulse/protocol';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  channelKeys,
  createHistoryReader,
  createPublisher,
  type HistoryReader,
  luaScriptPath,
  type Publisher,
} from '../src/index';

describe('publisher and readers', () => {
  let server: RedisServer;
  let client: Redis;
  let publisher: Publisher;
  let reader: HistoryReader;
  const prefix = `${uniqueId('pub')}:`;
  const namespaces = {
    ...SEED_NAMESPACES,
    nohist: { kind: 'state' as const, historySize: 0 },
    short: { historyTtlMs: 60_000, historySize: 3 },
  };

  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.url);
    publisher = createPublisher({ redis: client, prefix, namespaces });
    reader = createHistoryReader({ redis: client, prefix, namespaces });
  });
  afterAll(async () => {
    await publisher?.close();
    await reader?.close();
    client?.disconnect();
    await server?.stop();
  });

  const keyCount = async () => (await client.keys(`${prefix}*`)).length;

  it('lays out one channel under one hash tag: meta hash, history stream with TTLs', async () => {
    const channel = `short:${uniqueId()}`;
    const r = await publisher.publish(channel, 'e', { a: 1 });
    const keys = channelKeys(prefix, channel);
    expect(keys.meta).toBe(`${prefix}{${channel}}:meta`);
    // The publisher's MAC key (see lua/publish.lua, ARGV[9]) and its HMAC pads live there too.
    const meta = await client.hgetall(keys.meta);
    expect(meta).toEqual({
      epoch: r.epoch,
      offset: '1',
      mac: expect.any(String),
      mki: expect.any(String),
      mko: expect.any(String),
    });
    expect(meta.mac).toMatch(/^[0-9a-f]{40}$/);
    expect(await client.type(keys.history)).toBe('stream');
    for (const key of [keys.meta, keys.history]) {
      const ttl = await client.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
    for (let i = 0; i < 5; i++) await publisher.publish(channel, 'e', i);
    expect((await reader.history(channel)).publications.map((p) => p.offset)).toEqual([4, 5, 6]);
    // The stream is trimmed exactly every 16 publications; reads count only the newest 3.
    for (let i = 0; i < 34; i++) await publisher.publish(channel, 'e', i);
    expect(await client.xlen(keys.history)).toBeLessThanOrEqual(3 + 15);
    expect((await reader.history(channel)).publications.map((p) => p.offset)).toEqual([38, 39, 40]);
    const since = await reader.history(channel, { since: { epoch: r.epoch, offset: 30 } });
    expect(since.recovered).toBe(false);
    expect(since.publications.map((p) => p.offset)).toEqual([38, 39, 40]);
    const [first] = await client.xrange(keys.history, '-', '+');
    expect(first?.[0]).toBe('30-0'); // trimmed to 30..32 at offset 32, then 33..40 appended
    const stored = JSON.parse(first?.[1][1] as string);
    expect(Object.keys(stored)).toEqual(['channel', 'offset', 'epoch', 'event', 'data', 'ts']);
  });

  it('keeps the latest value of a state channel that keeps no history', async () => {
    const channel = `nohist:${uniqueId()}`;
    await publisher.publish(channel, 'status', { n: 1 });
    await publisher.publish(channel, 'status', { n: 2 });
    expect(await client.exists(channelKeys(prefix, channel).history)).toBe(0);
    const state = await reader.state(channel);
    expect(state).toMatchObject({ offset: 2, latest: { offset: 2, data: { n: 2 }, event: 'status' } });
    expect((await reader.history(channel)).publications).toEqual([]);
  });

  it('uses the seed defaults: 100 entries per task, 24 h TTL', async () => {
    const channel = `task:${uniqueId()}`;
    await publisher.publish(channel, 'progress', { progress: 1 });
    expect(publisher.namespaceOptions(channel)).toMatchObject({ historySize: 100, historyTtlMs: 86_400_000 });
    const ttl = await client.pttl(channelKeys(prefix, channel).history);
    expect(ttl).toBeGreaterThan(86_000_000);
  });

  it('validates before sending anything: bad names, oversize payloads, bad event, id, priority, data', async () => {
    const before = await keyCount();
    const cases: Array<[Promise<unknown>, string]> = [
      [publisher.publish('bad name', 'e', 1), 'bad_channel'],
      [publisher.publish('task:{x}', 'e', 1), 'bad_channel'],
      [publisher.publish(`task:${'x'.repeat(300)}`, 'e', 1), 'bad_channel'],
      [publisher.publish('task:1', 'e', 'x'.repeat(70_000)), 'payload_too_large'],
      [publisher.publish('task:1', '', 1), 'bad_request'],
      [publisher.publish('task:1', 'e', 1, { id: 'x'.repeat(200) }), 'bad_request'],
      [publisher.publish('task:1', 'e', 1, { priority: 9 }), 'bad_request'],
      [publisher.publish('task:1', 'e', 1, { ts: Number.NaN }), 'bad_request'],
      [publisher.publish('task:1', 'e', undefined), 'bad_request'],
      [publisher.publish('task:1', 'e', { big: 10n }), 'bad_request'],
    ];
    for (const [promise, code] of cases) await expect(promise).rejects.toMatchObject({ code });
    expect(await keyCount()).toBe(before);
  });

  it('rejects unknown namespaces when they are not allowed', async () => {
    const strict = createPublisher({ redis: client, prefix, namespaces, allowUnknownNamespaces: false });
    await expect(strict.publish('nope:1', 'e', 1)).rejects.toMatchObject({ code: 'unknown_channel' });
    await strict.close();
  });

  it('rejects bad read arguments', async () => {
    await expect(reader.history('task:1', { limit: -1 })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(reader.history('task:1', { limit: 1.5 })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(reader.history('task:1', { since: { epoch: '', offset: 1 } as never })).rejects.toMatchObject({
      code: 'bad_request',
    });
  });

  it('rejects a client with an ioredis keyPrefix and a prefix with braces', () => {
    const prefixed = new Redis(server.url, { keyPrefix: 'x:', lazyConnect: true });
    expect(() => createPublisher({ redis: prefixed })).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(() => createPublisher({ redis: client, prefix: '{p}' })).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
    prefixed.disconnect();
  });

  it('ships the script as a file with a documented interface', () => {
    const source = readFileSync(luaScriptPath('publish'), 'utf8');
    for (const word of ['KEYS[1]', 'KEYS[2]', 'KEYS[3]', 'ARGV[7]', 'SPUBLISH', 'XADD', 'PEXPIRE', 'HINCRBY']) {
      expect(source).toContain(word);
    }
  });

  it('rejects a malformed script call from a foreign caller without touching the channel', async () => {
    const channel = `task:${uniqueId()}`;
    const keys = channelKeys(prefix, channel);
    const source = readFileSync(luaScriptPath('publish'), 'utf8');
    const call = (candidate: string, body: string) =>
      client.eval(
        source,
        3,
        keys.meta,
        keys.history,
        keys.pubsub,
        candidate,
        channel,
        body,
        10,
        1000,
        'events',
        'publish',
      );
    await expect(call('bad epoch!', '{"event":"e","data":1,"ts":1}')).rejects.toThrow(/epoch candidate/);
    await expect(call('abc', 'not an object')).rejects.toThrow(/JSON object/);
    expect(await client.exists(keys.meta, keys.history)).toBe(0);
  });
});
