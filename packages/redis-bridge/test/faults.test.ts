import { createServer, type Server, type Socket } from 'node:net';
import { TaskpulseError } from '@taskpulse/protocol';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createPublisher, createRedisBroker, type RedisBroker } from '../src/index';
import { publishUnseen, range, sleep, timeline, waitUntil } from './helpers';

const servers: RedisServer[] = [];
const brokers: RedisBroker[] = [];

afterAll(async () => {
  await Promise.all(brokers.map((b) => b.close()));
  await Promise.all(servers.map((s) => s.stop()));
});

async function setup(persistence: boolean) {
  const server = await startRedis({ persistence });
  servers.push(server);
  const errors: TaskpulseError[] = [];
  const prefix = `${uniqueId('fault')}:`;
  const broker = createRedisBroker({
    redis: server.url,
    prefix,
    namespaces: { task: {} },
    commandTimeoutMs: 1000,
    recoveryRetryDelayMs: 100,
    onError: (e) => errors.push(e),
  });
  brokers.push(broker);
  await broker.ready();
  return { server, broker, errors, prefix };
}

/**
 * Publishes a numbered stream until `stop()`; records every attempt's outcome. Redis gets killed
 * and restarted while it runs.
 */
function stream(broker: RedisBroker, channel: string) {
  const ok: Array<{ n: number; epoch: string; offset: number }> = [];
  const failed: TaskpulseError[] = [];
  let running = true;
  let n = 0;
  const done = (async () => {
    while (running) {
      n++;
      try {
        const r = await broker.publish(channel, 'tick', { n });
        ok.push({ n, epoch: r.epoch, offset: r.offset });
      } catch (error) {
        failed.push(error as TaskpulseError);
      }
      await sleep(5);
    }
  })();
  return {
    ok,
    failed,
    async stop() {
      running = false;
      await done;
    },
  };
}

describe('faults: redis-server killed and restarted mid-stream', () => {
  it('with persistence (AOF): resubscribes by itself and delivers every publication exactly once, in order', async () => {
    const { server, broker } = await setup(true);
    const channel = `task:${uniqueId()}`;
    const t = timeline();
    await broker.subscribe(channel, t.handler);
    const s = stream(broker, channel);
    await waitUntil(() => s.ok.length >= 20, '20 publications before the crash');
    await server.kill();
    await waitUntil(() => s.failed.length >= 3, 'publications rejected while Redis is down');
    await waitUntil(() => broker.status() === 'down', 'status down');
    await server.restart();
    const okBeforeRestart = s.ok.length;
    await waitUntil(() => s.ok.length >= okBeforeRestart + 20, '20 publications after the restart');
    await s.stop();
    const last = s.ok[s.ok.length - 1] as { offset: number };
    await waitUntil(() => t.pubs().some((p) => p.offset === last.offset), 'delivery of the last publication');
    await sleep(50);

    expect(s.failed.every((e) => e instanceof TaskpulseError && e.code === 'unavailable')).toBe(true);
    expect(t.resets()).toEqual([]);
    const offsets = t.pubs().map((p) => p.offset);
    // Gap-free, in order, each once; a publish cut off mid-reply may still have landed, so the
    // delivered set may hold more than the successful calls, never less.
    expect(offsets).toEqual(range(1, last.offset));
    expect(new Set(t.pubs().map((p) => p.epoch)).size).toBe(1);
    const delivered = new Map(t.pubs().map((p) => [p.offset, (p.data as { n: number }).n]));
    for (const r of s.ok) expect(delivered.get(r.offset)).toBe(r.n);
    expect(broker.stats().reconnects).toBeGreaterThanOrEqual(1);
    await waitUntil(() => broker.status() === 'ready', 'status ready again');
  });

  it('without persistence: reports the epoch change with the current state, then delivers the new epoch in order', async () => {
    const { server, broker } = await setup(false);
    const channel = `task:${uniqueId()}`;
    const t = timeline();
    await broker.subscribe(channel, t.handler);
    const s = stream(broker, channel);
    await waitUntil(() => s.ok.length >= 20, '20 publications before the crash');
    await server.kill();
    await waitUntil(() => s.failed.length >= 3, 'publications rejected while Redis is down');
    await server.restart();
    const okBeforeRestart = s.ok.length;
    await waitUntil(() => s.ok.length >= okBeforeRestart + 20, '20 publications after the restart');
    await s.stop();
    await waitUntil(() => t.resets().length === 1, 'the reset');
    const last = s.ok[s.ok.length - 1] as { offset: number; epoch: string };
    await waitUntil(
      () => t.pubs().some((p) => p.epoch === last.epoch && p.offset === last.offset),
      'the last publication',
    );
    await sleep(50);

    const oldEpoch = (s.ok[0] as { epoch: string }).epoch;
    expect(last.epoch).not.toBe(oldEpoch);
    const resetIndex = t.events.findIndex((x) => x.kind === 'reset');
    const reset = t.resets()[0];
    // The new epoch, or the empty position ("0", 0) when the resubscription read the channel
    // before its first publication after the restart (reads create nothing).
    expect(reset).toMatchObject({ channel, reason: 'epoch_changed' });
    expect([last.epoch, '0']).toContain(reset?.epoch);
    const before = t.events.slice(0, resetIndex).flatMap((x) => (x.kind === 'pub' ? [x.p] : []));
    const after = t.events.slice(resetIndex + 1).flatMap((x) => (x.kind === 'pub' ? [x.p] : []));
    expect(before.every((p) => p.epoch === oldEpoch)).toBe(true);
    expect(before.map((p) => p.offset)).toEqual(range(1, before.length));
    expect(after.every((p) => p.epoch === last.epoch)).toBe(true);
    expect(after.map((p) => p.offset)).toEqual(range((reset?.offset ?? 0) + 1, last.offset));
  });
});

describe('faults: pub/sub connection cut', () => {
  it('reconnects, resubscribes and recovers what it missed without any further live message', async () => {
    const { server, broker, prefix } = await setup(false);
    const channel = `task:${uniqueId()}`;
    const t = timeline();
    await broker.subscribe(channel, t.handler);
    await broker.publish(channel, 'e', 1);
    await waitUntil(() => t.pubs().length === 1, 'first');
    // 2..6 reach history but not the subscriber, which has no live message revealing the gap;
    // only the resynchronization after its reconnect can deliver them.
    const raw = new Redis(server.url);
    for (let n = 2; n <= 6; n++) await publishUnseen(raw, prefix, channel, n);
    raw.disconnect();
    await server.command('CLIENT', 'KILL', 'TYPE', 'pubsub'); // cut the subscriber connection only
    await waitUntil(() => t.pubs().length === 6, 'recovered after resubscribe');
    await broker.publish(channel, 'e', 7);
    await waitUntil(() => t.pubs().length === 7, 'live again');
    expect(t.pubs().map((p) => p.data)).toEqual(range(1, 7));
    expect(t.resets()).toEqual([]);
    expect(broker.stats()).toMatchObject({ reconnects: 1, recovered: 5 });
  });
});

describe('faults: Redis unreachable', () => {
  it('rejects publish, reads and subscribe with unavailable while down, and recovers after a restart', async () => {
    const { server, broker } = await setup(false);
    await server.kill();
    const channel = `task:${uniqueId()}`;
    await expect(broker.publish(channel, 'e', 1)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(broker.history(channel)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(broker.state(channel)).rejects.toMatchObject({ code: 'unavailable' });
    await expect(broker.subscribe(channel, timeline().handler)).rejects.toMatchObject({ code: 'unavailable' });
    await waitUntil(() => broker.status() === 'down', 'status down');
    await server.restart();
    await waitUntil(() => broker.status() === 'ready', 'reconnected');
    await expect(broker.publish(channel, 'e', 1)).resolves.toMatchObject({ offset: 1 });
  });

  it('rejects with unavailable when the server accepts connections but never answers', async () => {
    const sockets = new Set<Socket>();
    const blackhole: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    const { port } = blackhole.address() as { port: number };
    const broker = createRedisBroker({
      redis: `redis://127.0.0.1:${port}`,
      namespaces: { task: {} },
      commandTimeoutMs: 300,
    });
    try {
      await expect(broker.publish('task:1', 'e', 1)).rejects.toMatchObject({ code: 'unavailable' });
      await expect(broker.state('task:1')).rejects.toMatchObject({ code: 'unavailable' });
      expect(broker.status()).not.toBe('ready');
    } finally {
      await broker.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => blackhole.close(() => resolve()));
    }
    expect(broker.status()).toBe('closed');
  });

  it('fails fast with a client that keeps an offline queue (the caller-owned client is left as is)', async () => {
    const server = await startRedis();
    servers.push(server);
    const client = new Redis(server.url); // default options: offline queue on
    client.on('error', () => {});
    const publisher = createPublisher({ redis: client, namespaces: { task: {} }, commandTimeoutMs: 1000 });
    await publisher.publish('task:1', 'e', 1);
    await server.kill();
    await waitUntil(() => client.status !== 'ready', 'client noticed');
    await expect(publisher.publish('task:1', 'e', 2)).rejects.toMatchObject({ code: 'unavailable' });
    await publisher.close();
    expect(client.status).not.toBe('end');
    client.disconnect();
  });
});
