/**
 * The Celery bridge against a real Celery worker (Debian's python3-celery) on a private
 * redis-server: lifecycles, queue status against `inspect()`, revoke, and SIGKILL → lost.
 * One worker (concurrency 1, prefetch multiplier 1) serves the whole file.
 */

import { type Publication, SEED_NAMESPACES } from '@taskpulse/protocol';
import {
  type CeleryQueueStatus,
  type CeleryTaskEvent,
  type CeleryWorkersState,
  celeryChannels,
} from '@taskpulse/protocol/payloads';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CeleryBridge, createCeleryBridge } from '../src/celery/index';
import { createHistoryReader, createSubscriber, type HistoryReader, type Subscriber } from '../src/index';
import {
  type CeleryDriver,
  type CeleryWorkerProcess,
  celeryPython,
  startCeleryDriver,
  startCeleryWorker,
} from './celery/live';
import { waitUntil } from './helpers';

let server: RedisServer;
let client: Redis;
let bridge: CeleryBridge;
let subscriber: Subscriber;
let reader: HistoryReader;
let worker: CeleryWorkerProcess;
let driver: CeleryDriver;
const prefix = `${uniqueId('celery')}:`;
const all: Publication[] = [];
let queue: CeleryQueueStatus = { active: [], scheduled: [], reserved: [] };
let workers: CeleryWorkersState = { workers: [] };
const warnings: string[] = [];

beforeAll(async () => {
  celeryPython();
  server = await startRedis();
  client = new Redis(server.url);
  const brokerUrl = `${server.url}/0`;
  const logger = {
    debug() {},
    info() {},
    warn: (m: string) => warnings.push(m),
    error: (m: string) => warnings.push(m),
  };
  bridge = createCeleryBridge({
    redis: client,
    prefix,
    namespaces: SEED_NAMESPACES,
    brokerUrl,
    lease: { ttlMs: 2000 },
    logger,
    maxMessageBytes: 64 * 1024,
  });
  await bridge.ready();
  await waitUntil(() => bridge.isActive(), 'bridge active');
  subscriber = createSubscriber({ redis: client, prefix, namespaces: SEED_NAMESPACES });
  await subscriber.subscribe(celeryChannels.tasks, { onPublication: (p) => all.push(p) });
  await subscriber.subscribe(celeryChannels.queue, { onPublication: (p) => (queue = p.data as CeleryQueueStatus) });
  await subscriber.subscribe(celeryChannels.workers, {
    onPublication: (p) => (workers = p.data as CeleryWorkersState),
  });
  reader = createHistoryReader({ redis: client, prefix, namespaces: SEED_NAMESPACES });
  // Subscribed before the worker starts: pub/sub keeps nothing, worker-online would be missed.
  worker = await startCeleryWorker({ brokerUrl }, { name: `w1@${uniqueId('h')}`, concurrency: 1 });
  driver = startCeleryDriver({ brokerUrl });
}, 60_000);

afterAll(async () => {
  await driver?.close();
  await worker?.kill();
  await bridge?.close();
  await subscriber?.close();
  await reader?.close();
  client?.disconnect();
  await server?.stop();
}, 60_000);

const eventsOf = (id: string) => all.filter((p) => (p.data as CeleryTaskEvent).task_id === id);
const statesOf = (id: string) => eventsOf(id).map((p) => p.event);
/** The lifecycle without its first `sent` (the client's task-sent may come after task-received: then it is not published). */
const life = (id: string) => {
  const states = statesOf(id);
  return states[0] === 'sent' ? states.slice(1) : states;
};
const terminal = (id: string) => statesOf(id).some((s) => ['succeeded', 'failed', 'revoked', 'lost'].includes(s));
async function taskChannel(id: string): Promise<Publication[]> {
  return (await reader.history(celeryChannels.task(id))).publications;
}

describe('a real Celery worker', () => {
  it('shows the worker online, sending task events', async () => {
    await waitUntil(() => workers.workers.some((w) => w.hostname === worker.name && w.status === 'online'), 'online');
    // The lease lives 2 s here: on a loaded machine a renewal can come late, and the lease is
    // taken again at the next attempt (task events meanwhile are replayed at that takeover).
    await waitUntil(() => bridge.isActive(), 'bridge active');
    expect(bridge.status()).toMatchObject({ subscribed: true, active: true, workersWithoutTaskEvents: [] });
  });

  it('success, failure, retry and progress: the right events, in order, on each task channel', async () => {
    const add = await driver.send('tp_app.add', [2, 3]);
    const boom = await driver.send('tp_app.boom', ['disk full']);
    const flaky = await driver.send('tp_app.flaky', [], { avid: 'SONE-028' });
    const download = await driver.send('tp_app.download', ['SSIS-950']);
    await waitUntil(() => [add, boom, flaky, download].every(terminal), 'all four finished', 30_000);

    expect(life(add)).toEqual(['received', 'started', 'succeeded']);
    expect(eventsOf(add).at(-1)?.data).toMatchObject({
      name: 'tp_app.add',
      args: [2, 3],
      result: '5',
      worker: worker.name,
    });
    expect(life(boom)).toEqual(['received', 'started', 'failed']);
    expect(eventsOf(boom).at(-1)?.data).toMatchObject({ exception: "ValueError('disk full')" });
    // The retry's events come from two processes over two connections (the worker's main process
    // sends `received`, the pool child `started`, `sent` for the retry's message and `retried`), so
    // Celery itself does not order them across processes: seen under load, `sent` before the first
    // `started`, and `retried` after the second `received`. What holds: every event once per
    // attempt, the first attempt started before it was retried, the second started after that.
    const flakyLife = life(flaky);
    expect([...flakyLife].sort()).toEqual([
      'received',
      'received',
      'retried',
      'sent',
      'started',
      'started',
      'succeeded',
    ]);
    expect(flakyLife[0]).toBe('received');
    expect(flakyLife.at(-1)).toBe('succeeded');
    expect(flakyLife.indexOf('started')).toBeLessThan(flakyLife.indexOf('retried'));
    expect(flakyLife.lastIndexOf('started')).toBeGreaterThan(flakyLife.indexOf('retried'));
    expect(eventsOf(flaky).at(-1)?.data).toMatchObject({ kwargs: { avid: 'SONE-028' }, retries: 1 });
    const states = life(download);
    expect(states[0]).toBe('received');
    expect(states.at(-1)).toBe('succeeded');
    const progress = eventsOf(download)
      .filter((p) => p.event === 'progress')
      .map((p) => ((p.data as CeleryTaskEvent).progress as { current: number }).current);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect([...progress].sort()).toEqual(progress); // never backwards
    expect(progress.at(-1)).toBe(3);

    // Each task's own channel holds the same lifecycle.
    for (const id of [add, boom, flaky, download]) {
      expect((await taskChannel(id)).map((p) => p.event)).toEqual(statesOf(id));
    }
    await waitUntil(() => queue.active.length + queue.reserved.length + queue.scheduled.length === 0, 'queue empty');
  });

  it('queue status matches app.control.inspect(): one running, one on a countdown, one prefetched', async () => {
    const running = await driver.send('tp_app.sleepy', [20], { avid: 'RUN-1' });
    await waitUntil(() => queue.active.some((t) => t.task_id === running), 'running');
    const countdown = await driver.send('tp_app.add', [1, 1], {}, 60);
    const prefetched = await driver.send('tp_app.add', [2, 2]);
    await waitUntil(
      () =>
        queue.scheduled.some((t) => t.task_id === countdown) && queue.reserved.some((t) => t.task_id === prefetched),
      'scheduled and reserved',
    );
    // Ours at the moment of asking (inspect() waits its whole timeout for replies).
    const ours = queue;
    const inspected = await driver.inspect(1.5);
    const ids = (lists: Record<string, Array<{ id?: string; request?: { id: string } }>>) =>
      Object.values(lists).flatMap((l) => l.map((t) => t.id ?? t.request?.id));
    expect({
      active: ours.active.map((t) => t.task_id),
      scheduled: ours.scheduled.map((t) => t.task_id),
      reserved: ours.reserved.map((t) => t.task_id),
    }).toEqual({
      active: ids(inspected.active),
      scheduled: ids(inspected.scheduled),
      reserved: ids(inspected.reserved),
    });
    expect(ids(inspected.active)).toEqual([running]);
    expect(queue.active[0]).toMatchObject({ worker: worker.name, name: 'tp_app.sleepy', kwargs: { avid: 'RUN-1' } });
    expect(queue.active[0]?.time_start).toBeCloseTo(inspected.active[worker.name]?.[0]?.time_start ?? 0, 0);
    expect(queue.scheduled[0]?.eta).toEqual(expect.any(String));

    // Revoke the countdown task: revoked, gone from scheduled; terminate the running one.
    await driver.revoke(countdown);
    await waitUntil(() => terminal(countdown), 'countdown revoked');
    expect(life(countdown)).toEqual(['received', 'revoked']);
    await waitUntil(() => !queue.scheduled.some((t) => t.task_id === countdown), 'gone from scheduled');
    await driver.revoke(running, true);
    await waitUntil(() => terminal(running), 'running task terminated');
    expect(eventsOf(running).at(-1)?.data).toMatchObject({ state: 'revoked', terminated: true });
    await waitUntil(() => terminal(prefetched), 'prefetched one ran');
    expect(life(prefetched)).toEqual(['received', 'started', 'succeeded']);
  }, 60_000);

  it('counts and logs bad input on the Celery channels, and keeps working', async () => {
    const envelope = (body: unknown) =>
      JSON.stringify({
        body: Buffer.from(JSON.stringify(body)).toString('base64'),
        'content-type': 'application/json',
        properties: { body_encoding: 'base64' },
      });
    await client.publish('/0.celeryev/task.multi', 'not json at all');
    await client.publish('/0.celeryev/task.multi', envelope([{ type: 'task-started', timestamp: 1 }]));
    await client.publish(
      '/0.celeryev/task.weird',
      envelope({ type: 'task-weird', hostname: 'x@y', timestamp: 1, uuid: 'u' }),
    );
    await client.publish('/0.celeryev/task.multi', 'x'.repeat(70 * 1024));
    await waitUntil(() => bridge.status().rejected.oversize === 1, 'oversize counted');
    expect(bridge.status().rejected).toEqual({ oversize: 1, undecodable: 2, unknown_event: 1 });
    expect(bridge.runner.stats().invalid).toBe(4);
    expect(warnings.join('\n')).toMatch(/envelope is not JSON/);
    expect(warnings.join('\n')).toMatch(/unknown Celery event type "task-weird"/);
    expect(warnings.join('\n')).toMatch(/larger than 65536 bytes/);
    const id = await driver.send('tp_app.add', [40, 2]);
    await waitUntil(() => terminal(id), 'still working');
    expect(eventsOf(id).at(-1)?.data).toMatchObject({ result: '42' });
  });

  it('SIGKILL mid-task: the task ends with `lost`, the worker shows lost (offline)', async () => {
    const victim = await driver.send('tp_app.sleepy', [60]);
    await waitUntil(() => queue.active.some((t) => t.task_id === victim), 'victim running');
    await worker.kill();
    await waitUntil(() => terminal(victim), 'lost event', 30_000);
    expect(eventsOf(victim).at(-1)).toMatchObject({
      event: 'lost',
      data: { state: 'lost', worker: worker.name, reason: expect.stringMatching(/no heartbeat for 6000 ms/) },
    });
    expect((await taskChannel(victim)).at(-1)?.event).toBe('lost');
    await waitUntil(
      () => workers.workers.some((w) => w.hostname === worker.name && w.status === 'lost'),
      'worker lost',
    );
    // The queue status is published after the workers state (another channel): wait for it.
    await waitUntil(() => !queue.active.some((t) => t.task_id === victim), 'queue status without the lost task');
    expect(queue.active).toEqual([]);
    expect(bridge.status().lost).toBe(1);
  }, 40_000);
});
