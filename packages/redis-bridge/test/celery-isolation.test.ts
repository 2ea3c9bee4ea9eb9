/**
 * Non-default broker settings (DB 3 and `global_keyprefix`) next to a second Celery app on the
 * same Redis (DB 0, no prefix) whose events must never leak in; two bridge instances, the
 * active one killed, the standby taking over; and a worker without task events. Two real workers
 * serve the first two parts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
import { createSubscriber, type Subscriber } from '../src/index';
import {
  type CeleryAppEnv,
  type CeleryDriver,
  type CeleryWorkerProcess,
  celeryPython,
  startCeleryDriver,
  startCeleryWorker,
} from './celery/live';
import { sleep, waitUntil } from './helpers';

let server: RedisServer;
let client: Redis;
let appA: CeleryAppEnv;
let appB: CeleryAppEnv;
let workerA: CeleryWorkerProcess;
let workerB: CeleryWorkerProcess;
let driverA: CeleryDriver;
let driverB: CeleryDriver;
const closers: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  celeryPython();
  server = await startRedis();
  client = new Redis(server.url);
  appA = {
    brokerUrl: `${server.url}/3`,
    backendUrl: `${server.url}/4`,
    transportOptions: { global_keyprefix: 'myapp:' },
  };
  appB = { brokerUrl: `${server.url}/0` };
}, 30_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await Promise.all([driverA?.close(), driverB?.close()]);
  await Promise.all([workerA?.stop(), workerB?.stop()]);
  client?.disconnect();
  await server?.stop();
}, 60_000);

/** A subscriber that keeps everything published on the three Celery channels under `prefix`. */
async function collect(prefix: string) {
  const subscriber: Subscriber = createSubscriber({ redis: client, prefix, namespaces: SEED_NAMESPACES });
  closers.push(() => subscriber.close());
  const tasks: Publication[] = [];
  const queues: CeleryQueueStatus[] = [];
  const workers: CeleryWorkersState[] = [];
  await subscriber.subscribe(celeryChannels.tasks, { onPublication: (p) => tasks.push(p) });
  await subscriber.subscribe(celeryChannels.queue, { onPublication: (p) => queues.push(p.data as CeleryQueueStatus) });
  await subscriber.subscribe(celeryChannels.workers, {
    onPublication: (p) => workers.push(p.data as CeleryWorkersState),
  });
  const statesOf = (id: string) => tasks.filter((p) => (p.data as CeleryTaskEvent).task_id === id).map((p) => p.event);
  return { subscriber, tasks, queues, workers, statesOf };
}

/** A lifecycle without its first `sent` (published only when it comes before task-received). */
const life = (states: string[]) => (states[0] === 'sent' ? states.slice(1) : states);

describe('DB 3 with global_keyprefix, next to a default app on the same Redis', () => {
  // Retry-safe (CI runs a failed test once more): each attempt has its own prefix, hence its own
  // lease, closes its bridge however it ends, and starts its own workers.
  it('follows its own app only', async ({ onTestFinished }) => {
    const prefix = `${uniqueId('iso')}:`;
    const bridge: CeleryBridge = createCeleryBridge({
      redis: client,
      prefix,
      namespaces: SEED_NAMESPACES,
      brokerUrl: appA.brokerUrl,
      transportOptions: appA.transportOptions as { global_keyprefix: string },
      lease: { ttlMs: 2000 },
    });
    onTestFinished(() => bridge.close());
    expect(bridge.names).toMatchObject({ events: 'myapp:/3.celeryev', pidbox: 'myapp:/3.celery.pidbox' });
    await bridge.ready();
    const seen = await collect(prefix);
    await waitUntil(() => bridge.isActive(), 'active');
    // What a failed wait reports: what this test saw, and what the bridge and worker A did.
    const report = (ids: string[]) =>
      JSON.stringify({
        states: Object.fromEntries(ids.map((id) => [id, seen.statesOf(id)])),
        bridge: { ...bridge.status(), workers: undefined },
        runner: bridge.runner.stats(),
        subscriber: seen.subscriber.stats(),
      }) + `\nworker A log (end):\n${workerA?.log().slice(-3000)}`;
    await Promise.all([driverA?.close(), driverB?.close(), workerA?.stop(), workerB?.stop()]);
    [workerA, workerB] = await Promise.all([
      startCeleryWorker(appA, { name: `a@${uniqueId('h')}` }),
      startCeleryWorker(appB, { name: `b@${uniqueId('h')}` }),
    ]);
    driverA = startCeleryDriver(appA);
    driverB = startCeleryDriver(appB);

    const bIds = await Promise.all([
      driverB.send('tp_app.add', [1, 2]),
      driverB.send('tp_app.download', ['LEAK-1'], { steps: 2, delay: 0.1 }),
      driverB.send('tp_app.boom'),
    ]);
    const aIds = await Promise.all([
      driverA.send('tp_app.add', [2, 3]),
      driverA.send('tp_app.download', ['SSIS-950'], { steps: 2, delay: 0.1 }),
      driverA.send('tp_app.boom'),
    ]);
    const done = (id: string) => seen.statesOf(id).some((s) => s === 'succeeded' || s === 'failed');
    await waitUntil(
      () => aIds.every(done),
      () => `app A tasks finished: ${report(aIds)}`,
      30_000,
    );
    expect(aIds.map((id) => seen.statesOf(id).at(-1))).toEqual(['succeeded', 'succeeded', 'failed']);
    expect(seen.statesOf(aIds[1] as string)).toContain('progress');
    // Give app B's worker the time to finish too (its events go to DB 0's channels).
    await waitUntil(async () => (await client.exists(...bIds.map((id) => `celery-task-meta-${id}`))) === 3, 'B done');
    await sleep(300);
    const leaked = seen.tasks.filter((p) => bIds.includes((p.data as CeleryTaskEvent).task_id));
    expect(leaked).toEqual([]);
    const workerNames = new Set(seen.workers.flatMap((w) => w.workers.map((x) => x.hostname)));
    // App A's workers only (a retried attempt may also see the worker of the attempt before).
    expect(workerNames.has(workerA.name)).toBe(true);
    expect([...workerNames].filter((name) => !name.startsWith('a@'))).toEqual([]);
    for (const q of seen.queues) {
      const ids = [...q.active, ...q.scheduled, ...q.reserved].map((t) => t.task_id);
      expect(ids.filter((id) => bIds.includes(id))).toEqual([]);
    }
    expect(bridge.status().rejected).toEqual({ oversize: 0, undecodable: 0, unknown_event: 0 });
  }, 60_000);
});

describe('two bridge instances', () => {
  it('the standby takes over within the lease time after the active one is killed, and replays what nobody published meanwhile', async () => {
    const prefix = `${uniqueId('ha')}:`;
    const ttlMs = 2000;
    const fixture = fileURLToPath(new URL('./fixtures/celery-bridge-instance.ts', import.meta.url));
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '--conditions=@taskpulse/source',
        '--import',
        'tsx',
        fixture,
        server.url,
        prefix,
        appA.brokerUrl,
        JSON.stringify(appA.transportOptions),
        String(ttlMs),
      ],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    closers.push(() => {
      child.kill('SIGKILL');
    });
    let childState = { active: false, token: '' };
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      const last = lines.at(-1);
      if (last) childState = JSON.parse(last);
    });
    await waitUntil(() => childState.active, `child bridge active (stderr: ${stderr})`, 30_000);
    const seen = await collect(prefix);
    const standby = createCeleryBridge({
      redis: client,
      prefix,
      namespaces: SEED_NAMESPACES,
      brokerUrl: appA.brokerUrl,
      transportOptions: appA.transportOptions as { global_keyprefix: string },
      lease: { ttlMs },
    });
    closers.push(() => standby.close());
    await standby.ready();

    const before = await driverA.send('tp_app.add', [1, 1]);
    await waitUntil(() => seen.statesOf(before).includes('succeeded'), 'published by the child');
    expect(standby.isActive()).toBe(false);
    expect(standby.runner.stats().republished).toBe(0);

    // A task running across the takeover: the standby followed it while standing by.
    const across = await driverA.send('tp_app.sleepy', [3]);
    await waitUntil(() => seen.statesOf(across).includes('started'), 'across started');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const killedAt = Date.now();
    const during: string[] = [];
    while (!standby.isActive()) {
      // Run while nobody holds the lease: the standby follows them, and replays them at takeover.
      during.push(await driverA.send('tp_app.add', [during.length, 0]));
      await sleep(200);
      if (Date.now() - killedAt > 30_000) throw new Error('standby never took over');
    }
    expect(during.length).toBeGreaterThan(0);
    const after = await Promise.all([0, 1, 2, 3, 4].map((i) => driverA.send('tp_app.add', [i, 100])));
    const all = [...during, ...after];
    await waitUntil(
      () => all.every((id) => seen.statesOf(id).includes('succeeded')),
      () => `during and after the takeover: ${JSON.stringify(all.map((id) => seen.statesOf(id)))}`,
      30_000,
    );
    // Each lifecycle once, in order: what the dead instance had published is not published again.
    for (const id of all) expect(life(seen.statesOf(id))).toEqual(['received', 'started', 'succeeded']);
    expect(standby.status().replayed).toBeGreaterThan(0);
    await waitUntil(() => seen.statesOf(across).includes('succeeded'), 'the task running across the takeover ends');
    // The takeover republished the queue state the standby had followed.
    expect(seen.queues.length).toBeGreaterThan(0);
    expect(standby.runner.stats().acquisitions).toBe(1);
  }, 90_000);
});

describe('a worker without task events', () => {
  it('is reported: a logged warning and the status field', async () => {
    const app: CeleryAppEnv = { brokerUrl: `${server.url}/5` };
    const warnings: string[] = [];
    const bridge = createCeleryBridge({
      redis: client,
      prefix: `${uniqueId('noev')}:`,
      namespaces: SEED_NAMESPACES,
      brokerUrl: app.brokerUrl,
      lease: { ttlMs: 2000 },
      logger: { debug() {}, info() {}, warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    });
    closers.push(() => bridge.close());
    await bridge.ready();
    await waitUntil(() => bridge.isActive(), 'active');
    const worker = await startCeleryWorker(app, { name: `quiet@${uniqueId('h')}`, taskEvents: false });
    closers.push(() => worker.stop());
    const driver = startCeleryDriver(app);
    closers.push(() => driver.close());
    await waitUntil(() => bridge.status().workers.some((w) => w.hostname === worker.name), 'heartbeats seen');
    expect(bridge.status().workersWithoutTaskEvents).toEqual([]);
    await driver.send('tp_app.add', [1, 1]);
    const processed = () => bridge.status().workers.find((w) => w.hostname === worker.name)?.processed ?? 0;
    await waitUntil(() => processed() >= 1, 'a heartbeat shows the task processed');
    await waitUntil(() => bridge.status().workersWithoutTaskEvents.includes(worker.name), 'reported', 20_000);
    expect(warnings.join('\n')).toContain(`Celery worker ${worker.name} finished tasks but sent no task events`);
    expect(bridge.status().workers.find((w) => w.hostname === worker.name)?.task_events).toBe('disabled');
  }, 40_000);
});
