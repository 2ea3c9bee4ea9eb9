import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type RedisServer, requirePythonModules, startRedis } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PythonProcess, runPython } from '../src/python';
import { type RedisDemo, startRedisMode } from '../src/redis-mode';
import { launchChromium } from './helpers/browser';
import { buildPage } from './helpers/page-build';
import { readVuePage, WorkerMonitor } from './helpers/status';

const SCREENSHOT = fileURLToPath(new URL('../../../docs/images/worker-status.png', import.meta.url));
const mode = (page: Page) => page.getAttribute('[data-testid="indicator"]', 'data-mode');
const total = (page: Page) => page.textContent('[data-field="processed_total"]').then(Number);

describe('Redis mode end to end: redis-server, worker.py, the JSON bridge, the hub, the built Vue page, Chromium', () => {
  let redis: RedisServer;
  let browser: Browser;
  let demo: RedisDemo;
  let port: number;
  let worker: PythonProcess;
  let producer: PythonProcess;
  let monitor: WorkerMonitor;
  let publisher: Redis;
  let pageDir: string;

  /** Waits until the page's processed_total passes `after`; on timeout, says what each part was doing. */
  // The native protocol's control frames of the pages, for the failure messages.
  const frames: string[] = [];
  const record = (page: Page) => {
    page.on('websocket', (ws) => {
      frames.push(`${Date.now()} open`);
      ws.on('framereceived', (f) => {
        const text = String(f.payload);
        if (!text.includes('"publication"')) frames.push(`${Date.now()} < ${text.slice(0, 300)}`);
      });
      ws.on('close', () => frames.push(`${Date.now()} closed`));
    });
    return page;
  };
  const waitForUpdate = async (page: Page, after: number, timeoutMs = 20_000) => {
    // A page that shows no value ('–') waits for any value.
    const floor = Number.isFinite(after) ? after : -1;
    try {
      await page.waitForFunction(
        (n) => Number(document.querySelector('[data-field="processed_total"]')?.textContent) > n,
        floor,
        { timeout: timeoutMs },
      );
    } catch (error) {
      const indicator = await page.getAttribute('[data-testid="indicator"]', 'data-transport').catch(() => null);
      throw new Error(
        `the page stayed at processed_total ${after} (${(error as Error).message}); ` +
          `mode ${await mode(page)} over ${indicator}; worker's latest ${JSON.stringify(monitor.latest())} ` +
          `(${monitor.statuses.length} seen); bridge ${JSON.stringify(demo.bridge.stats())}; broker ${demo.broker.status()}; ` +
          `worker stderr: ${worker.stderr().slice(-300)}; frames: ${frames.join('\n')}`,
      );
    }
  };

  const startServer = async () => {
    demo = await startRedisMode({
      redisUrl: redis.url,
      port,
      worker: false,
      producer: false,
      leaseTtlMs: 1500,
      pageDir,
    });
    port = Number(new URL(demo.url).port);
  };

  beforeAll(async () => {
    requirePythonModules(['redis']);
    pageDir = await buildPage();
    // With persistence, as seed 000's queues need (the lists survive a Redis restart). A Redis that
    // comes back empty is a new epoch for every channel; the hub's and the client's own tests cover it.
    redis = await startRedis({ persistence: true });
    monitor = await WorkerMonitor.start(redis.url);
    publisher = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    publisher.on('error', () => {});
    port = 0;
    await startServer();
    worker = runPython('worker', ['--workers', '2', '--task-ms', '150', '--idle-publish', '1'], {
      redisUrl: redis.url,
    });
    producer = runPython('producer', ['--rate', '4', '--fail-every', '5', '--dead-every', '11'], {
      redisUrl: redis.url,
    });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([producer?.stop(), worker?.stop()]);
    await demo?.close();
    monitor?.close();
    publisher?.disconnect();
    await redis?.stop();
  });

  it('shows what the worker publishes, last_error included (and takes the docs screenshot)', async () => {
    const page = record(await browser.newPage({ viewport: { width: 900, height: 420 } }));
    await page.goto(demo.url);
    await page.waitForFunction(() => Number(document.querySelector('[data-field="processed_total"]')?.textContent) > 0);
    // Every value the page shows is a status the worker published, all nine fields together.
    for (let i = 0; i < 3; i++) {
      const before = await total(page);
      await page.waitForFunction(
        (n) => Number(document.querySelector('[data-field="processed_total"]')?.textContent) > n,
        before,
      );
      const status = await readVuePage(page);
      expect(monitor.published(status), JSON.stringify(status)).toBe(true);
    }
    await page.waitForFunction(() =>
      /^task t-\d+ failed/.test(document.querySelector('[data-field="last_error"]')?.textContent ?? ''),
    );
    expect(await mode(page)).toBe('realtime');
    mkdirSync(fileURLToPath(new URL('.', `file://${SCREENSHOT}`)), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    // The manual refresh re-reads the current status over HTTP.
    await page.click('[data-testid="refresh"]');
    expect(monitor.published(await readVuePage(page))).toBe(true);
    await page.close();
  });

  it('invalid JSON and a wrong-shaped status: the page keeps working, the bridge counts the rejections', async () => {
    const page = record(await browser.newPage());
    await page.goto(demo.url);
    await page.waitForFunction(() => Number(document.querySelector('[data-field="processed_total"]')?.textContent) > 0);
    const rejected = demo.bridge.stats().invalid;
    await publisher.publish('processor:status:realtime', '{"running": tru');
    await publisher.publish('processor:status:realtime', JSON.stringify({ test: true, running: 'yes', workers: -1 }));
    await expect.poll(() => demo.bridge.stats().invalid, { timeout: 10_000 }).toBe(rejected + 2);
    const before = await total(page);
    await waitForUpdate(page, before);
    expect(monitor.published(await readVuePage(page))).toBe(true);
    expect(await page.locator('[data-testid="problem"]').count()).toBe(0);
    await page.close();
  });

  it('WebSocket blocked: polling, numbers keep updating; unblocked: back to realtime', async () => {
    const page = record(await browser.newPage());
    let blocked = true;
    await page.routeWebSocket(/\/taskpulse\/ws/, (ws) => {
      if (blocked) void ws.close({ code: 1006 });
      else ws.connectToServer();
    });
    // SSE blocked as well, so the client ends on its last resort.
    await page.route(/\/taskpulse\/sse/, (route) => (blocked ? route.abort() : route.fallback()));
    await page.goto(`${demo.url}?probe-ms=2000`);
    await expect.poll(() => mode(page), { timeout: 30_000 }).toBe('polling');
    const before = await total(page);
    await waitForUpdate(page, before, 20_000);
    expect(monitor.published(await readVuePage(page))).toBe(true);
    blocked = false;
    await expect.poll(() => mode(page), { timeout: 30_000 }).toBe('realtime');
    const after = await total(page);
    await waitForUpdate(page, after);
    await page.close();
  }, 90_000);

  it('hub stopped and restarted: the page recovers by itself and shows current values', async () => {
    frames.length = 0;
    const page = record(await browser.newPage());
    await page.goto(demo.url);
    await page.waitForFunction(() => Number(document.querySelector('[data-field="processed_total"]')?.textContent) > 0);
    await expect.poll(() => mode(page)).toBe('realtime');
    frames.push(`${Date.now()} HUB STOP`);
    await demo.close();
    await expect.poll(() => mode(page), { timeout: 15_000 }).not.toBe('realtime');
    const stale = await total(page);
    frames.push(`${Date.now()} HUB START (page shows ${stale})`);
    await startServer();
    await expect.poll(() => mode(page), { timeout: 30_000 }).toBe('realtime');
    await waitForUpdate(page, stale);
    expect(monitor.published(await readVuePage(page))).toBe(true);
    await page.close();
  }, 90_000);

  it("Redis down: the page says live data is unavailable, seed 000's page backs off; both recover", async () => {
    frames.length = 0;
    const page = record(await browser.newPage());
    await page.goto(demo.url);
    // A connected page showing the worker's numbers (its subscription answered) when Redis goes away.
    await page.waitForFunction(() => Number(document.querySelector('[data-field="processed_total"]')?.textContent) > 0);
    await expect.poll(() => mode(page)).toBe('realtime');
    frames.push(`${Date.now()} KILL`);
    await redis.kill();
    await page.waitForSelector('[data-testid="live-unavailable"]', { timeout: 30_000 });
    expect(await page.getAttribute('[data-testid="panel"]', 'class')).toMatch(/panel--stale/);

    // Seed 000's own page, opened during the outage, records when it tries to connect.
    const seed = await browser.newPage();
    await seed.addInitScript(() => {
      const attempts: number[] = [];
      (window as unknown as { attempts: number[] }).attempts = attempts;
      const Native = window.WebSocket;
      window.WebSocket = class extends Native {
        constructor(url: string | URL, protocols?: string | string[]) {
          attempts.push(Date.now());
          super(url, protocols);
        }
      };
    });
    await seed.goto(new URL('/seed-000.html', demo.url).href);
    await new Promise((r) => setTimeout(r, 9_000));
    const attempts = await seed.evaluate(() => (window as unknown as { attempts: number[] }).attempts);
    // Refused with 503 (never opened), so the page's delay doubles: 1 s, 2 s, 4 s… — not one try a second.
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    expect(attempts.length).toBeLessThanOrEqual(5);
    const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] as number));
    expect(gaps.at(-1)).toBeGreaterThanOrEqual(3_000);

    frames.push(`${Date.now()} RESTART`);
    await redis.restart();
    await page.waitForSelector('[data-testid="live-unavailable"]', { state: 'detached', timeout: 30_000 });
    const resumed = await total(page);
    frames.push(`${Date.now()} live again (page shows ${resumed})`);
    await waitForUpdate(page, resumed, 30_000);
    // (The test's own monitor also reconnects to Redis, and may miss the first statuses after it.)
    await expect.poll(async () => monitor.published(await readVuePage(page)), { timeout: 20_000 }).toBe(true);
    // Seed 000's page connects on its next try and shows the worker's numbers.
    await seed.waitForFunction(() => Number(document.getElementById('processed_total')?.textContent) > 0, undefined, {
      timeout: 40_000,
    });
    await page.close();
    await seed.close();
  }, 120_000);
});
