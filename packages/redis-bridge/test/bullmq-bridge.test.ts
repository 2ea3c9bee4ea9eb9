import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Publication, SEED_NAMESPACES, type TaskpulseLogger } from '@taskpulse/protocol';
import { TestQueueEvents } from '@taskpulse/protocol/payloads';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BullmqStreamEvent, createBullmqBridge, testQueueMapping } from '../src/bullmq/index';
import { channelKeys, createPublisher } from '../src/index';
import { sleep, waitUntil } from './helpers';

let server: RedisServer;
let client: Redis;
const closers: Array<() => Promise<unknown> | unknown> = [];

/** Seed namespaces with room for every event of a run in history (the checks read it all back). */
const namespaces = Object.fromEntries(
  Object.entries(SEED_NAMESPACES).map(([ns, options]) => [ns, { ...options, historySize: 10_000 }]),
);

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url);
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  client?.disconnect();
  await server?.stop();
});

interface TestJob {
  testId: string;
  testType: string;
  url: string;
  userId?: string;
  outcome: 'pass' | 'fail' | 'cancel';
  steps: number;
  stepMs: number;
}

/** A real BullMQ queue and worker running simulated test jobs (progress with metrics). */
function testQueue(bullmqPrefix: string, queueName: string, concurrency = 4) {
  const connection = { host: server.host, port: server.port };
  const queue = new Queue<TestJob>(queueName, { connection, prefix: bullmqPrefix });
  const worker = new Worker<TestJob>(
    queueName,
    async (job: Job<TestJob>) => {
      const { steps, stepMs, outcome } = job.data;
      for (let step = 1; step <= steps; step++) {
        await sleep(stepMs);
        await job.updateProgress({
          progress: Math.round((step / steps) * 100),
          metrics: { rps: 100 + step, p95Ms: 40 + step },
          message: `step ${step}/${steps}`,
        });
        if (outcome === 'fail' && step === Math.ceil(steps / 2)) throw new Error(`assertion failed at step ${step}`);
        if (outcome === 'cancel' && step === 1) throw new Error('cancelled by user');
      }
      return { passed: true, requests: steps * 100 };
    },
    { connection, prefix: bullmqPrefix, concurrency },
  );
  worker.on('error', () => {});
  closers.push(async () => {
    await worker.close();
    await queue.close();
  });
  return { queue, worker };
}

/** The id of a stream's newest entry. */
async function lastStreamId(key: string): Promise<string | undefined> {
  const entries = (await client.xrevrange(key, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
  return entries[0]?.[0];
}

/** Every publication in a channel's history. */
async function history(prefix: string, channel: string): Promise<Publication[]> {
  const entries = (await client.xrange(channelKeys(prefix, channel).history, '-', '+')) as Array<[string, string[]]>;
  return entries.map(([, fields]) => JSON.parse(fields[1] as string) as Publication);
}

/**
 * What the bridge must have published for the queue's whole event stream (computed from BullMQ's
 * own stream and job records with the same mapping), checked against the channels' history:
 * every expected publication exactly once, nothing else. Returns the histories by channel.
 */
async function expectExactlyOnce(prefix: string, bullmqPrefix: string, queueName: string) {
  const map = testQueueMapping();
  const entries = (await client.xrange(`${bullmqPrefix}:${queueName}:events`, '-', '+')) as Array<[string, string[]]>;
  const expected: Array<{ id: string; channel: string; event: string }> = [];
  for (const [streamId, flat] of entries) {
    const fields: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
    if (!['added', 'active', 'progress', 'completed', 'failed', 'stalled', 'removed'].includes(fields.event ?? '')) {
      continue;
    }
    const event: BullmqStreamEvent = {
      queue: queueName,
      streamId,
      ts: Number(streamId.split('-')[0]),
      event: fields.event as string,
      jobId: fields.jobId as string,
      fields,
      ...(fields.data !== undefined ? { progress: JSON.parse(fields.data) } : {}),
      ...(fields.failedReason !== undefined ? { failedReason: fields.failedReason } : {}),
      job: async () => {
        const hash = await client.hgetall(`${bullmqPrefix}:${queueName}:${fields.jobId}`);
        return hash.data
          ? { id: fields.jobId as string, name: hash.name ?? '', data: JSON.parse(hash.data), attemptsMade: 0 }
          : null;
      },
    };
    const pubs = (await map(event)) ?? [];
    pubs.forEach((p, i) => {
      expected.push({ id: `bullmq:${queueName}:${streamId}:${i}`, channel: p.channel, event: p.event });
    });
  }
  const channels = [...new Set(expected.map((e) => e.channel))];
  const byChannel = new Map<string, Publication[]>();
  for (const channel of channels) byChannel.set(channel, await history(prefix, channel));
  for (const e of expected) {
    const found = (byChannel.get(e.channel) ?? []).filter((p) => p.id === e.id);
    expect(
      found.map((p) => p.event),
      `${e.id} on ${e.channel}`,
    ).toEqual([e.event]);
  }
  const published = [...byChannel.values()].reduce((n, list) => n + list.length, 0);
  expect(published).toBe(expected.length);
  return { expected, byChannel };
}

/** Checks the test-progress rooms against BullMQ's own record of each job. */
async function expectMatchesJobRecords(queue: Queue<TestJob>, byChannel: Map<string, Publication[]>, ids: string[]) {
  for (const id of ids) {
    const job = (await queue.getJob(id)) as Job<TestJob>;
    const state = await job.getState();
    const room = byChannel.get(`test-progress:${id}`) ?? [];
    const events = room.map((p) => p.event);
    expect(events[0], id).toBe(TestQueueEvents.TEST_STARTED);
    expect(events.filter((e) => e === TestQueueEvents.TEST_STARTED)).toHaveLength(1);
    const progress = room.filter((p) => p.event === TestQueueEvents.TEST_PROGRESS);
    expect(((progress.at(-1) as Publication).data as { progress: number }).progress).toBe(
      (job.progress as { progress: number }).progress,
    );
    const last = room.at(-1) as Publication;
    if (state === 'completed') {
      expect(last.event).toBe(TestQueueEvents.TEST_COMPLETED);
      expect((last.data as { results: unknown }).results).toEqual(job.returnvalue);
    } else {
      expect(state).toBe('failed');
      const cancelled = job.failedReason.startsWith('cancelled');
      expect(last.event).toBe(cancelled ? TestQueueEvents.TEST_CANCELLED : TestQueueEvents.TEST_FAILED);
      expect(JSON.stringify(last.data)).toContain(job.failedReason);
      if (!cancelled) expect((last.data as { attempts: number }).attempts).toBe(job.attemptsMade);
    }
    // Offsets are gap-free and in the order BullMQ wrote the events.
    expect(room.map((p) => p.offset)).toEqual(room.map((_, i) => i + 1));
  }
}

function jobSpec(testId: string, n: number, stepMs = 15): TestJob {
  const outcome = n % 5 === 3 ? 'fail' : n % 7 === 4 ? 'cancel' : 'pass';
  return {
    testId,
    testType: 'stress',
    url: `https://example.test/${n}`,
    userId: `u${n % 3}`,
    outcome,
    steps: 4,
    stepMs,
  };
}

function spawnBridge(prefix: string, bullmqPrefix: string, queueName: string, ttlMs: number) {
  const fixture = fileURLToPath(new URL('./fixtures/bullmq-bridge-instance.ts', import.meta.url));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--conditions=@taskpulse/source',
      '--import',
      'tsx',
      fixture,
      server.url,
      prefix,
      bullmqPrefix,
      queueName,
      String(ttlMs),
    ],
    { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  closers.push(() => child.kill('SIGKILL'));
  const state = { active: false, republished: 0, stderr: '' };
  child.stderr?.on('data', (c: Buffer) => {
    state.stderr += c.toString();
  });
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    const last = lines[lines.length - 1];
    if (last) Object.assign(state, JSON.parse(last));
  });
  return {
    state,
    async kill() {
      child.kill('SIGKILL');
      if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}

async function waitFinished(queue: Queue<TestJob>, count: number) {
  await waitUntil(
    async () => {
      const counts = await queue.getJobCounts('completed', 'failed');
      return (counts.completed ?? 0) + (counts.failed ?? 0) === count;
    },
    'all jobs finished',
    60_000,
  );
}

describe('BullMQ bridge', () => {
  it('republishes every catalogue event of real jobs into the right room, with ids from the stream', async () => {
    const prefix = `${uniqueId('bq')}:`;
    const bullmqPrefix = uniqueId('bull');
    const { queue } = testQueue(bullmqPrefix, 'tests');
    const bridge = createBullmqBridge({
      redis: client,
      prefix,
      namespaces,
      bullmqPrefix,
      queue: 'tests',
      map: testQueueMapping(),
      blockMs: 100,
      lease: { ttlMs: 2000 },
    });
    closers.push(() => bridge.close());
    await waitUntil(() => bridge.isActive(), 'bridge active');

    await queue.add('stress', jobSpec('t-pass', 1), { jobId: 't-pass' });
    await queue.add('stress', { ...jobSpec('t-fail', 3), outcome: 'fail' }, { jobId: 't-fail' });
    await queue.add('stress', { ...jobSpec('t-cancel', 4), outcome: 'cancel' }, { jobId: 't-cancel' });
    const removed = await queue.add('stress', jobSpec('t-removed', 5), { jobId: 't-removed', delay: 60_000 });
    await removed.remove();
    await waitFinished(queue, 3);
    // A stalled job, as BullMQ's stalled-job checker writes it to the stream.
    await client.xadd(`${bullmqPrefix}:tests:events`, '*', 'event', 'stalled', 'jobId', 't-pass');
    const streamLength = await client.xlen(`${bullmqPrefix}:tests:events`);
    await waitUntil(() => bridge.stats().received === streamLength, 'bridge read the whole stream');

    const { byChannel } = await expectExactlyOnce(prefix, bullmqPrefix, 'tests');
    await expectMatchesJobRecords(queue, byChannel, ['t-pass', 't-fail', 't-cancel']);
    const events = (channel: string) => (byChannel.get(channel) ?? []).map((p) => p.event);
    expect(events('test-progress:t-pass')).toEqual([
      'test:started',
      'test:progress',
      'test:progress',
      'test:progress',
      'test:progress',
      'test:completed',
    ]);
    expect(events('test-progress:t-fail')).toEqual(['test:started', 'test:progress', 'test:progress', 'test:failed']);
    expect(events('test-progress:t-cancel')).toEqual(['test:started', 'test:progress', 'test:cancelled']);
    expect(events('test-progress:t-removed')).toEqual(['test:cancelled']);
    const queueEvents = new Set(events('queue-updates'));
    for (const e of ['added', 'started', 'progress', 'completed', 'failed'])
      expect(queueEvents).toContain(`queue:job:${e}`);
    expect(events('system-alerts')).toEqual(['system:alert']);
    expect(byChannel.get('system-alerts')?.[0]?.priority).toBe(1);
    expect(events('test-history-updates').sort()).toEqual(['test:cancelled', 'test:completed', 'test:failed']);
    expect(events('user-notifications:u1')).toEqual(['user:notification', 'user:notification']); // t-pass, t-cancel
    expect(events('user-notifications:u0')).toEqual(['user:notification']); // t-fail
    const progress = byChannel.get('test-progress:t-pass')?.[1] as Publication;
    expect(progress.data).toEqual({
      testId: 't-pass',
      progress: 25,
      metrics: { rps: 101, p95Ms: 41 },
      message: 'step 1/4',
    });
    expect(progress.id).toMatch(/^bullmq:tests:\d+-\d+:0$/);
    expect(bridge.sourceStats().cursor).toBe(await lastStreamId(`${bullmqPrefix}:tests:events`));
  });

  it('counts and logs bad entries and keeps going', async () => {
    const prefix = `${uniqueId('bq')}:`;
    const bullmqPrefix = uniqueId('bull');
    const stream = `${bullmqPrefix}:tests:events`;
    const warnings: string[] = [];
    const logger: TaskpulseLogger = { debug() {}, info() {}, error() {}, warn: (message) => warnings.push(message) };
    const bridge = createBullmqBridge({
      redis: client,
      prefix,
      namespaces,
      allowUnknownNamespaces: false,
      bullmqPrefix,
      queue: 'tests',
      map: async (e) => {
        if (e.jobId === 'throws') throw new Error('no such test');
        if (e.jobId === 'bad-channel') return [{ channel: 'Not A Channel', event: 'x', data: 1 }];
        if (e.jobId === 'unknown-ns') return [{ channel: 'nowhere:1', event: 'x', data: 1 }];
        return testQueueMapping()(e);
      },
      blockMs: 100,
      logger,
      lease: { ttlMs: 2000 },
    });
    closers.push(() => bridge.close());
    await waitUntil(() => bridge.isActive(), 'bridge active');
    await client.xadd(stream, '*', 'jobId', '1'); // no event
    await client.xadd(stream, '*', 'event', 'active'); // no jobId
    await client.xadd(stream, '*', 'event', 'progress', 'jobId', '1'); // no data
    await client.xadd(stream, '*', 'event', 'progress', 'jobId', '1', 'data', '{oops'); // not JSON
    await client.xadd(stream, '*', 'event', 'progress', 'jobId', '1', 'data', '"half"'); // mapping rejects a string
    await client.xadd(stream, '*', 'event', 'active', 'jobId', 'throws');
    await client.xadd(stream, '*', 'event', 'active', 'jobId', 'bad-channel');
    await client.xadd(stream, '*', 'event', 'active', 'jobId', 'unknown-ns');
    await client.xadd(stream, '*', 'event', 'drained'); // not a job event: skipped
    await client.xadd(stream, '*', 'event', 'active', 'jobId', 'good');
    await waitUntil(() => bridge.stats().received === 10, 'every entry read');
    await waitUntil(async () => (await history(prefix, 'test-progress:good')).length === 1, 'good entry published');
    // The good entry maps to two publications; the second may still be on its way.
    await waitUntil(() => bridge.stats().republished === 2, 'both publications of the good entry');
    expect(bridge.stats()).toMatchObject({ invalid: 8, republished: 2 });
    expect(bridge.sourceStats().skipped).toBe(1);
    expect(warnings).toHaveLength(8);
    expect(warnings.join('\n')).toMatch(/no "event" field/);
    expect(warnings.join('\n')).toMatch(/progress data is not JSON/);
    expect(warnings.join('\n')).toMatch(/mapping failed: no such test/);
    expect(warnings.join('\n')).toMatch(/publication rejected: .*invalid channel name/);
    expect(warnings.join('\n')).toMatch(/publication rejected: .*unknown channel namespace/);
  });

  it('resumes after a half-republished entry without publishing its first part again', async () => {
    const prefix = `${uniqueId('bq')}:`;
    const bullmqPrefix = uniqueId('bull');
    const stream = `${bullmqPrefix}:tests:events`;
    const before = await client.xadd(stream, '*', 'event', 'active', 'jobId', 'done');
    const half = (await client.xadd(stream, '*', 'event', 'active', 'jobId', 'half')) as string;
    // A bridge stored `before` as its position, published the first publication of `half`, and died.
    await client.set(`${prefix}bridge:bullmq:${bullmqPrefix}:tests:cursor`, before as string);
    const publisher = createPublisher({ redis: client, prefix, namespaces });
    closers.push(() => publisher.close());
    await publisher.publish('test-progress:half', 'test:started', { testId: 'half' }, { id: `bullmq:tests:${half}:0` });
    const bridge = createBullmqBridge({
      redis: client,
      prefix,
      namespaces,
      bullmqPrefix,
      queue: 'tests',
      map: testQueueMapping(),
      blockMs: 100,
      lease: { ttlMs: 2000 },
    });
    closers.push(() => bridge.close());
    await waitUntil(() => bridge.sourceStats().cursor === half, 'bridge resumed and caught up');
    expect(bridge.stats().received).toBe(1); // only the entry after the stored position
    expect(bridge.sourceStats().alreadyPublished).toBe(1);
    expect((await history(prefix, 'test-progress:half')).map((p) => p.id)).toEqual([`bullmq:tests:${half}:0`]);
    expect((await history(prefix, 'queue-updates')).map((p) => p.id)).toEqual([`bullmq:tests:${half}:1`]);
    expect(await history(prefix, 'test-progress:done')).toEqual([]);
  });

  it('keeps reading when a paused former holder stored the position of the entry it is handling', async () => {
    const prefix = `${uniqueId('bq')}:`;
    const bullmqPrefix = uniqueId('bull');
    const stream = `${bullmqPrefix}:tests:events`;
    const cursorKey = `${prefix}bridge:bullmq:${bullmqPrefix}:tests:cursor`;
    const before = (await client.xadd(stream, '*', 'event', 'active', 'jobId', 'done')) as string;
    const raced = (await client.xadd(stream, '*', 'event', 'active', 'jobId', 'raced')) as string;
    await client.set(cursorKey, before);
    const bridge = createBullmqBridge({
      redis: client,
      prefix,
      namespaces,
      bullmqPrefix,
      queue: 'tests',
      // While this instance handles `raced`, the former holder (paused after publishing it, before
      // storing its position) wakes up and stores `raced`.
      map: async (e) => {
        if (e.jobId === 'raced') await client.set(cursorKey, raced);
        return testQueueMapping()(e);
      },
      blockMs: 100,
      lease: { ttlMs: 2000 },
    });
    closers.push(() => bridge.close());
    await waitUntil(() => bridge.sourceStats().cursor === raced, 'raced entry handled');
    await client.xadd(stream, '*', 'event', 'active', 'jobId', 'after');
    await waitUntil(async () => (await history(prefix, 'test-progress:after')).length === 1, 'later entry published');
    expect(bridge.isActive()).toBe(true);
    expect((await history(prefix, 'test-progress:raced')).length).toBe(1);
  });

  it('reports the events lost when BullMQ trimmed its stream past the stored position, and goes on', async () => {
    const prefix = `${uniqueId('bq')}:`;
    const bullmqPrefix = uniqueId('bull');
    const stream = `${bullmqPrefix}:tests:events`;
    const stored = (await client.xadd(stream, '*', 'event', 'active', 'jobId', 'seen')) as string;
    await client.set(`${prefix}bridge:bullmq:${bullmqPrefix}:tests:cursor`, stored);
    for (const id of ['lost-1', 'lost-2', 'kept-1', 'kept-2'])
      await client.xadd(stream, '*', 'event', 'active', 'jobId', id);
    await client.xtrim(stream, 'MAXLEN', 2); // as BullMQ's MAXLEN does while no bridge runs
    const errors: string[] = [];
    const bridge = createBullmqBridge({
      redis: client,
      prefix,
      namespaces,
      bullmqPrefix,
      queue: 'tests',
      map: testQueueMapping(),
      blockMs: 100,
      onError: (error) => errors.push(error.message),
      lease: { ttlMs: 2000 },
    });
    closers.push(() => bridge.close());
    await waitUntil(() => bridge.stats().received === 2, 'the entries left');
    // received counts an entry when it is read; its republish completes a moment later
    await waitUntil(
      async () => (await history(prefix, 'test-progress:kept-2')).length > 0,
      'the last entry republished',
    );
    expect(bridge.sourceStats().gaps).toBe(1);
    expect(errors.join('\n')).toMatch(/trimmed past the stored position .* events in between may be lost/);
    expect((await history(prefix, 'test-progress:kept-2')).map((p) => p.event)).toEqual(['test:started']);
    expect(await history(prefix, 'test-progress:lost-1')).toEqual([]);
  });

  it('killed mid-run and restarted: every job event republished exactly once', async () => {
    const prefix = `${uniqueId('bq')}:`;
    const bullmqPrefix = uniqueId('bull');
    const { queue } = testQueue(bullmqPrefix, 'tests');
    const first = spawnBridge(prefix, bullmqPrefix, 'tests', 1000);
    await waitUntil(() => first.state.active, `first bridge active (${first.state.stderr})`, 30_000);
    const ids = Array.from({ length: 20 }, (_, i) => `run1-${i}`);
    for (const [n, id] of ids.entries()) await queue.add('stress', jobSpec(id, n, 25), { jobId: id });
    await waitUntil(() => first.state.republished >= 40, 'first bridge republished part of the run', 30_000);
    await first.kill();
    const republishedBefore = first.state.republished;
    // Events keep coming while no bridge runs; a new instance resumes from the stored cursor.
    await sleep(300);
    const second = spawnBridge(prefix, bullmqPrefix, 'tests', 1000);
    await waitFinished(queue, 20);
    await waitUntil(() => second.state.active, `second bridge active (${second.state.stderr})`, 30_000);
    const streamLength = await client.xlen(`${bullmqPrefix}:tests:events`);
    const cursorKey = `${prefix}bridge:bullmq:${bullmqPrefix}:tests:cursor`;
    const lastId = await lastStreamId(`${bullmqPrefix}:tests:events`);
    await waitUntil(async () => (await client.get(cursorKey)) === lastId, 'second bridge caught up', 30_000);
    expect(streamLength).toBeGreaterThan(100);
    expect(republishedBefore).toBeGreaterThan(0);
    const { byChannel } = await expectExactlyOnce(prefix, bullmqPrefix, 'tests');
    await expectMatchesJobRecords(queue, byChannel, ids);
    await second.kill();
  });

  it('two instances: the standby takes over from the killed one, nothing lost or repeated', async () => {
    const prefix = `${uniqueId('bq')}:`;
    const bullmqPrefix = uniqueId('bull');
    const { queue } = testQueue(bullmqPrefix, 'tests');
    const active = spawnBridge(prefix, bullmqPrefix, 'tests', 1000);
    await waitUntil(() => active.state.active, `bridge active (${active.state.stderr})`, 30_000);
    const standby = createBullmqBridge({
      redis: client,
      prefix,
      namespaces,
      bullmqPrefix,
      queue: 'tests',
      map: testQueueMapping(),
      blockMs: 100,
      lease: { ttlMs: 1000 },
    });
    closers.push(() => standby.close());
    const ids = Array.from({ length: 20 }, (_, i) => `run2-${i}`);
    for (const [n, id] of ids.entries()) await queue.add('stress', jobSpec(id, n, 25), { jobId: id });
    await waitUntil(() => active.state.republished >= 40, 'active bridge republished part of the run', 30_000);
    expect(standby.isActive()).toBe(false);
    expect(standby.stats().republished).toBe(0);
    await active.kill();
    await waitUntil(() => standby.isActive(), 'standby took over', 30_000);
    await waitFinished(queue, 20);
    const lastId = await lastStreamId(`${bullmqPrefix}:tests:events`);
    await waitUntil(() => standby.sourceStats().cursor === lastId, 'standby caught up', 30_000);
    expect(standby.stats().republished).toBeGreaterThan(0);
    const { byChannel } = await expectExactlyOnce(prefix, bullmqPrefix, 'tests');
    await expectMatchesJobRecords(queue, byChannel, ids);
  });
});
