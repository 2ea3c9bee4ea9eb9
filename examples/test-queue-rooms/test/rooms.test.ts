import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Publication } from '@taskpulse/protocol';
import { type TestQueueEnvelope, testQueueEnvelopeSchema } from '@taskpulse/protocol/payloads';
import { type RedisServer, requireBinary, startRedis, uniqueId } from '@taskpulse/testkit';
import { type Browser, chromium } from 'playwright-core';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type Rooms, startTestQueueRooms } from '../src/app';
import { testJob } from '../src/jobs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let redis: RedisServer;
let rooms: Rooms;
let browser: Browser;
let pageDir: string;
const closers: Array<() => unknown> = [];

async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

beforeAll(async () => {
  const executablePath = requireBinary(CHROMIUM, 'apt-get update && apt-get install -y chromium');
  // The pages are built from the workspace sources (as `npm start` does), into a directory of
  // this run's own (a concurrent `npm run build` writes dist/page).
  pageDir = mkdtempSync(join(tmpdir(), 'rooms-page-'));
  execFileSync(
    process.execPath,
    [fileURLToPath(new URL('../../../node_modules/vite/bin/vite.js', import.meta.url)), 'build', '--outDir', pageDir],
    { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: 'pipe' },
  );
  redis = await startRedis();
  rooms = await startTestQueueRooms({
    redisUrl: redis.url,
    port: 0,
    prefix: `${uniqueId('rooms')}:`,
    bullmqPrefix: uniqueId('bull'),
    workers: 2,
    pageDir,
  });
  await waitUntil(() => rooms.bridge.isActive(), 'bridge active');
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 120_000);

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await browser?.close();
  await rooms?.close();
  await redis?.stop();
  if (pageDir) rmSync(pageDir, { recursive: true, force: true });
});

/** Test ids of a run produced with a fixed run name (known before the jobs exist). */
const idsOf = (run: string, count: number) => Array.from({ length: count }, (_, n) => testJob(run, n).testId);

/** What BullMQ says became of a job: completed, failed or cancelled. */
async function outcomeOf(testId: string): Promise<'completed' | 'failed' | 'cancelled'> {
  const job = await rooms.tests.queue.getJob(testId);
  const state = await job?.getState();
  if (state === 'completed') return 'completed';
  expect(state).toBe('failed');
  return job?.failedReason.startsWith('cancelled') ? 'cancelled' : 'failed';
}

function socketClient(options: { transports?: string[]; token?: string }): {
  socket: Socket;
  got: TestQueueEnvelope[];
} {
  const socket = connect(rooms.url, {
    reconnection: false,
    forceNew: true,
    ...(options.transports ? { transports: options.transports as never } : {}),
    ...(options.token ? { auth: { token: options.token } } : {}),
  });
  closers.push(() => socket.disconnect());
  const got: TestQueueEnvelope[] = [];
  socket.onAny((event: string, envelope: TestQueueEnvelope) => {
    if (!event.startsWith('room:') && !event.startsWith('connection:'))
      got.push({ ...envelope, event: event as never });
  });
  return { socket, got };
}

// Each test's timeout covers its own waits (the page's connection, then the jobs: up to 60 s), not
// the shared 20 s: on a loaded machine they run longer.
describe('examples/test-queue-rooms (real Redis, BullMQ workers, socket.io-client, Chromium)', () => {
  it('carries every job event of real BullMQ jobs to the right room in the envelope: Socket.IO (websocket, polling-then-upgrade) and native', async () => {
    const run = uniqueId('r');
    const ids = idsOf(run, 7); // 4: fails, 6: cancelled, others pass
    const rooms_ = [
      'queue-updates',
      'test-history-updates',
      'user-notifications-demo',
      ...ids.map((id) => `test-progress-${id}`),
    ];
    const clients = [
      socketClient({ transports: ['websocket'], token: 'user:demo' }),
      socketClient({ token: 'user:demo' }),
    ];
    for (const { socket } of clients) {
      for (const room of rooms_) {
        expect(await socket.timeout(10_000).emitWithAck('room:join', room)).toMatchObject({ ok: true, room });
      }
    }
    // Native: the same channels over the hub's own WebSocket protocol.
    const native: Publication[] = [];
    const ws = new WebSocket(`${rooms.url.replace('http', 'ws')}taskpulse/ws?token=user:demo`);
    closers.push(() => ws.close());
    ws.on('message', (m) => {
      const frame = JSON.parse(m.toString()) as { type: string; publications?: Publication[] } & Publication;
      if (frame.type === 'publication') native.push(frame);
      if (frame.type === 'batch') native.push(...(frame.publications ?? []));
    });
    await new Promise((resolve) => ws.once('open', resolve));
    let subscribed = 0;
    ws.on('message', (m) => {
      if (JSON.parse(m.toString()).type === 'subscribed') subscribed++;
    });
    for (const room of rooms_) {
      const channel = room.replace(/^(test-progress|user-notifications)-/, '$1:');
      ws.send(JSON.stringify({ type: 'subscribe', channel }));
    }
    await waitUntil(() => subscribed === rooms_.length, 'native subscriptions');

    await rooms.tests.produce(7, { run, stepMs: 60, steps: 4 });
    await waitUntil(async () => {
      const counts = await rooms.tests.queue.getJobCounts('completed', 'failed');
      return (counts.completed ?? 0) + (counts.failed ?? 0) >= 7;
    }, 'the jobs finish');
    for (const id of ids) {
      const outcome = outcomeOf(id);
      const last = { completed: 'test:completed', failed: 'test:failed', cancelled: 'test:cancelled' }[await outcome];
      for (const { got } of clients) {
        await waitUntil(
          () => got.some((e) => e.channel === `test-progress-${id}` && e.event === last),
          `${last} of ${id}`,
        );
        // queue-updates comes from BullMQ's own events, on another channel: its last event may
        // arrive after the room's
        const queueEnd = last === 'test:completed' ? 'queue:job:completed' : 'queue:job:failed';
        await waitUntil(
          () =>
            got.some(
              (e) =>
                e.channel === 'queue-updates' && e.event === queueEnd && (e.data as { testId: string }).testId === id,
            ),
          `${queueEnd} of ${id}`,
        );
        // so do the history update and the user's notification, published on their own channels
        // when the run ends
        await waitUntil(
          () =>
            got.some((e) => e.channel === 'test-history-updates' && (e.data as { testId: string }).testId === id) &&
            got.some((e) => e.channel === 'user-notifications-demo' && (e.data as { testId: string }).testId === id),
          `history update and notification of ${id}`,
        );
        const room = got.filter((e) => e.channel === `test-progress-${id}`);
        expect(room[0]?.event).toBe('test:started');
        expect(room.at(-1)?.event).toBe(last);
        expect(room.slice(1, -1).every((e) => e.event === 'test:progress')).toBe(true);
        for (const e of room) expect(testQueueEnvelopeSchema.parse(e)).toEqual(e);
        const progress = room.find((e) => e.event === 'test:progress')?.data as { metrics: { rps: number } };
        expect(progress.metrics.rps).toBeGreaterThan(0);
        const queue = got.filter((e) => e.channel === 'queue-updates' && (e.data as { testId: string }).testId === id);
        expect(queue[0]?.event).toBe('queue:job:added');
        expect(queue.at(-1)?.event).toBe(last === 'test:completed' ? 'queue:job:completed' : 'queue:job:failed');
        expect(
          got.filter((e) => e.channel === 'test-history-updates' && (e.data as { testId: string }).testId === id),
        ).toHaveLength(1);
        const note = got.filter(
          (e) => e.channel === 'user-notifications-demo' && (e.data as { testId: string }).testId === id,
        );
        expect(note).toHaveLength(1);
        expect(note[0]?.userId).toBe('demo');
      }
      await waitUntil(
        () => native.some((p) => p.channel === `test-progress:${id}` && p.event === last),
        `native ${last} of ${id}`,
      );
    }
    // The same publications, the same ids, whichever protocol.
    const [wsOnly, upgraded] = clients as [(typeof clients)[0], (typeof clients)[0]];
    const idsOn = (list: Array<{ id?: string; channel: string }>, channel: string) =>
      list.filter((e) => e.channel === channel).map((e) => e.id);
    for (const id of ids) {
      expect(idsOn(upgraded.got, `test-progress-${id}`)).toEqual(idsOn(wsOnly.got, `test-progress-${id}`));
      expect(idsOn(native, `test-progress:${id}`)).toEqual(idsOn(wsOnly.got, `test-progress-${id}`));
    }
    expect(upgraded.socket.io.engine.transport.name).toBe('websocket');
  }, 60_000);

  it("runs seed 003's socket.io-client code unchanged in Chromium", async () => {
    const page = await browser.newPage();
    closers.push(() => page.close());
    await page.goto(new URL('socketio.html', rooms.url).href);
    await page.waitForFunction(() => document.getElementById('transport')?.textContent === 'websocket', undefined, {
      timeout: 20_000,
    });
    // The room the seed's code joins: test-progress-stress_123.
    await rooms.hub.core.publish('system-alerts', 'system:alert', { message: 'not joined' });
    await rooms.tests.produceSeedTest({ stepMs: 80, steps: 3 });
    // The history update follows the completion: wait for both before reading the log.
    await page.waitForFunction(
      () =>
        document.querySelector('#log li[data-event="test:completed"]') !== null &&
        Array.from(document.querySelectorAll('#log li')).some((li) =>
          li.textContent?.includes('"test-history-updates"'),
        ),
      undefined,
      {
        timeout: 30_000,
      },
    );
    const lines = await page.$$eval('#log li', (items) => items.map((li) => li.textContent ?? '').reverse());
    const envelopes = lines.map((line) => JSON.parse(line.slice(line.indexOf(' ') + 1)) as TestQueueEnvelope);
    const seedRoom = envelopes.filter((e) => e.channel === 'test-progress-stress_123').map((e) => e.event);
    expect(seedRoom[0]).toBe('test:started');
    expect(seedRoom.at(-1)).toBe('test:completed');
    expect(seedRoom.filter((e) => e === 'test:progress')).toHaveLength(3);
    expect(envelopes.some((e) => e.channel === 'queue-updates' && e.event === 'queue:job:completed')).toBe(true);
    expect(envelopes.some((e) => e.channel === 'test-history-updates')).toBe(true);
    expect(envelopes.some((e) => e.channel === 'system-alerts')).toBe(false);
    for (const e of envelopes) expect(testQueueEnvelopeSchema.safeParse(e).success).toBe(true);
  }, 60_000);

  it('the Vue board follows a run of 20 jobs to completion in Chromium', async () => {
    const page = await browser.newPage();
    closers.push(() => page.close());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(rooms.url);
    await page.waitForFunction(() => document.getElementById('conn')?.textContent === 'realtime', undefined, {
      timeout: 20_000,
    });
    const run = uniqueId('b');
    const ids = await rooms.tests.produce(20, { run, stepMs: 80, steps: 3 });
    expect(ids).toEqual(idsOf(run, 20));
    // The board shows the jobs moving (some active at some point), then every one finished.
    await page.waitForFunction(
      (list) =>
        list.every((id) => {
          const state = document.querySelector(`li[data-test-id="${id}"]`)?.getAttribute('data-state');
          return state === 'completed' || state === 'failed' || state === 'cancelled';
        }),
      ids,
      { timeout: 60_000, polling: 100 },
    );
    for (const id of ids) {
      const state = await page.getAttribute(`li[data-test-id="${id}"]`, 'data-state');
      expect(state, id).toBe(await outcomeOf(id));
    }
    expect(Number(await page.textContent('#count-completed'))).toBeGreaterThanOrEqual(
      (await Promise.all(ids.map(outcomeOf))).filter((o) => o === 'completed').length,
    );
    // The followed test's live progress and the user's notifications are on the page.
    expect(await page.textContent('#selected')).not.toBe('—');
    await page.waitForFunction(() => (document.getElementById('notifications')?.children.length ?? 0) > 0);
    expect(errors).toEqual([]);
  }, 90_000);
});
