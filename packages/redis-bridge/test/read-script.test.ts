/**
 * Issue 13: the read script sends the newest publication's text once. When the newest entry is
 * the last one it read (a hub verifying a live publication), `newest` is its id alone; the reader
 * still reports the newest publication.
 */
import { readFileSync } from 'node:fs';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelKeys, createHistoryReader, createPublisher, type HistoryReader, luaScriptPath } from '../src/index';

const namespaces = { r: { historySize: 100 } };
const prefix = `${uniqueId('read')}:`;
let server: RedisServer;
let client: Redis;
let reader: HistoryReader;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url);
  reader = createHistoryReader({ redis: client, prefix, namespaces });
});

afterAll(async () => {
  await reader?.close();
  client?.disconnect();
  await server?.stop();
});

const source = () => readFileSync(luaScriptPath('read'), 'utf8');

function readSince(channel: string, epoch: string, offset: number): Promise<unknown[]> {
  const keys = channelKeys(prefix, channel);
  return client.eval(source(), 2, keys.meta, keys.history, '', 0, 'since', 10, epoch, offset, 100) as Promise<
    unknown[]
  >;
}

describe('read.lua newest entry', () => {
  it('is the id alone when it is the last entry read, and id and text otherwise', async () => {
    const channel = `r:${uniqueId('c')}`;
    const publisher = createPublisher({ redis: client, prefix, namespaces });
    const first = await publisher.publish(channel, 'e', { n: 1 });
    await publisher.publish(channel, 'e', { n: 2 });
    const third = await publisher.publish(channel, 'e', { n: 3 });

    const [, offset, entries, newest] = await readSince(channel, first.epoch, first.offset);
    expect(offset).toBe(3);
    expect((entries as string[]).length).toBe(4); // offsets 2 and 3, id and text each
    expect(newest).toEqual([(entries as string[])[2]]);
    expect(String((newest as string[])[0]).startsWith('3-')).toBe(true);

    // Nothing read after the newest: its text comes with it.
    const [, , none, newestAlone] = await readSince(channel, third.epoch, third.offset);
    expect(none).toEqual([]);
    expect((newestAlone as string[]).length).toBe(2);
    expect(JSON.parse((newestAlone as string[])[1] as string).data).toEqual({ n: 3 });
  });

  it('still gives the reader the newest publication', async () => {
    const channel = `r:${uniqueId('c')}`;
    const publisher = createPublisher({ redis: client, prefix, namespaces });
    await publisher.publish(channel, 'e', { n: 1 });
    await publisher.publish(channel, 'e', { n: 2 });
    const state = await reader.state(channel);
    expect(state.offset).toBe(2);
    expect(state.latest?.offset).toBe(2);
    expect(state.latest?.data).toEqual({ n: 2 });
    const history = await reader.history(channel, { limit: 10 });
    expect(history.publications.map((p) => p.data)).toEqual([{ n: 1 }, { n: 2 }]);
  });
});
