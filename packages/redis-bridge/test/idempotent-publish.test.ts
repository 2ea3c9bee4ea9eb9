import { readFileSync } from 'node:fs';
import type { TaskpulseError } from '@taskpulse/protocol';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { channelKeys, createHistoryReader, createPublisher, luaScriptPath, newEpochCandidate } from '../src/index';
import { range, sleep, waitUntil } from './helpers';

const namespaces = { idem: { historySize: 10_000 } };
const servers: RedisServer[] = [];
const closers: Array<() => Promise<unknown> | unknown> = [];

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await Promise.all(servers.map((s) => s.stop()));
});

async function server(options: { persistence?: boolean; args?: string[] } = {}) {
  const s = await startRedis(options);
  servers.push(s);
  return s;
}

describe('idempotent publish (issue 9.6)', () => {
  it('a publish that timed out but was applied is not applied again when retried with the same id', async () => {
    const redis = await server({ args: ['--enable-debug-command', 'yes'] });
    const prefix = `${uniqueId('idem')}:`;
    const publisher = createPublisher({ redis: redis.url, prefix, namespaces, commandTimeoutMs: 300 });
    const reader = createHistoryReader({ redis: redis.url, prefix, namespaces });
    const blocker = new Redis(redis.url);
    closers.push(
      () => publisher.close(),
      () => reader.close(),
      () => blocker.disconnect(),
    );
    const channel = `idem:${uniqueId()}`;
    await publisher.publish(channel, 'e', { n: 0 }, { id: 'm-0' });
    // Redis stalls for a second: the publish is written, times out on our side, and is applied
    // once Redis wakes up — the case a retrying publisher used to duplicate.
    const sleeping = blocker.call('DEBUG', 'SLEEP', '1');
    await sleep(50);
    const first = await publisher.publish(channel, 'e', { n: 1 }, { id: 'm-1' }).then(
      () => null,
      (error: TaskpulseError) => error,
    );
    expect(first?.code).toBe('unavailable');
    await sleeping;
    const retried = await publisher.publish(channel, 'e', { n: 1 }, { id: 'm-1' });
    expect(retried).toMatchObject({ channel, offset: 2, duplicate: true });
    const history = await reader.history(channel);
    expect(history.publications.map((p) => [p.id, p.offset])).toEqual([
      ['m-0', 1],
      ['m-1', 2],
    ]);
    // A new id is a new publication; no id is never deduplicated.
    expect(await publisher.publish(channel, 'e', { n: 2 }, { id: 'm-2' })).toEqual({
      channel,
      epoch: history.epoch,
      offset: 3,
    });
    expect((await publisher.publish(channel, 'e', { n: 3 })).offset).toBe(4);
    expect((await publisher.publish(channel, 'e', { n: 3 })).offset).toBe(5);
  });

  it('the dedupe window ends: the same id after the window is a new publication', async () => {
    const redis = await server();
    const prefix = `${uniqueId('idem')}:`;
    const publisher = createPublisher({ redis: redis.url, prefix, namespaces, dedupeWindowMs: 100 });
    closers.push(() => publisher.close());
    const channel = `idem:${uniqueId()}`;
    expect((await publisher.publish(channel, 'e', 1, { id: 'x' })).offset).toBe(1);
    expect(await publisher.publish(channel, 'e', 1, { id: 'x' })).toMatchObject({ offset: 1, duplicate: true });
    await sleep(250);
    expect((await publisher.publish(channel, 'e', 1, { id: 'x' })).offset).toBe(2);
    expect(() => createPublisher({ redis: redis.url, namespaces, dedupeWindowMs: -1 })).toThrow(/dedupeWindowMs/);
  });

  it('other languages get it from the script: KEYS[4] + ARGV[8]', async () => {
    const redis = await server();
    const client = new Redis(redis.url);
    closers.push(() => client.disconnect());
    const source = readFileSync(luaScriptPath('publish'), 'utf8');
    const channel = `idem:${uniqueId()}`;
    const keys = channelKeys('py:', channel);
    const body = JSON.stringify({ event: 'e', data: 1, ts: 1, id: 'job-7' });
    const run = () =>
      client.eval(
        source,
        4,
        keys.meta,
        keys.history,
        keys.pubsub,
        `${keys.pubsub}:id:job-7`,
        newEpochCandidate(),
        channel,
        body,
        100,
        60_000,
        'events',
        'publish',
        60_000,
      ) as Promise<[string, number, number]>;
    const a = await run();
    const b = await run();
    expect(a[1]).toBe(1);
    expect(a[2]).toBe(0);
    expect(b).toEqual([a[0], 1, 1]);
    expect(await client.xlen(keys.history)).toBe(1);
  });

  it('a publisher that retries every failure with the same id through Redis kills creates each publication once', async () => {
    const redis = await server({ persistence: true });
    const prefix = `${uniqueId('idem')}:`;
    const publisher = createPublisher({ redis: redis.url, prefix, namespaces, commandTimeoutMs: 250 });
    const reader = createHistoryReader({ redis: redis.url, prefix, namespaces });
    closers.push(
      () => publisher.close(),
      () => reader.close(),
    );
    const channel = `idem:${uniqueId()}`;
    const results = new Map<string, number>();
    let failures = 0;
    let running = true;
    const done = (async () => {
      for (let n = 1; running || n <= 5; n++) {
        const id = `msg-${n}`;
        for (;;) {
          try {
            results.set(id, (await publisher.publish(channel, 'tick', { n }, { id })).offset);
            break;
          } catch {
            failures++;
            await sleep(20);
          }
        }
        if (n >= 5 && !running) break;
      }
    })();
    for (let kill = 0; kill < 3; kill++) {
      const before = results.size;
      await waitUntil(() => results.size >= before + 15, 'publications before the kill');
      await redis.kill();
      await sleep(150);
      await redis.restart();
    }
    const before = results.size;
    await waitUntil(() => results.size >= before + 15, 'publications after the last restart');
    running = false;
    await done;
    expect(failures).toBeGreaterThan(0);
    const history = await reader.history(channel);
    const ids = history.publications.map((p) => p.id);
    // Every id once, offsets gap-free, and each id where its publish (or its retry) said it is.
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(results.size);
    expect(history.publications.map((p) => p.offset)).toEqual(range(1, results.size));
    for (const p of history.publications) expect(results.get(p.id as string)).toBe(p.offset);
  }, 60_000);
});
