/**
 * A real page in a real Chromium: the documented example component and an SFC, built with Vite
 * into a temporary directory and served beside a real hub. The gateway in front of the hub then
 * refuses WebSocket upgrades and SSE (seed 004's broken proxy): the indicator turns to polling, the
 * numbers keep updating, and "retry WebSocket" brings it back to realtime once unblocked; the
 * browser going offline and online again shows in the indicator too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '@taskpulse/testkit';
import vue from '@vitejs/plugin-vue';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build, defaultClientConditions } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_NOTICE_STORAGE_KEY } from '../src/index';
import { type Gateway, startGateway } from './helpers/gateway';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let outDir: string;
let gateway: Gateway;
let browser: Browser;
let publisher: ReturnType<typeof setInterval> | undefined;
let tick = 0;
const pageErrors: string[] = [];

declare global {
  var __processed: number[];
}

const workerStatus = (n: number) => ({
  running: true,
  workers: 3,
  queue_pending: 1000 - n,
  queue_retry: 2,
  queue_dead: 0,
  processed_total: n,
  processed_today: n,
  speed: 2.5,
  last_error: null,
});

beforeAll(async () => {
  const executablePath = requireBinary(CHROMIUM, 'apt-get update && apt-get install -y chromium');
  outDir = mkdtempSync(join(tmpdir(), 'taskpulse-vue-page-'));
  await build({
    configFile: false,
    root: join(import.meta.dirname, 'fixtures', 'browser-page'),
    logLevel: 'warn',
    plugins: [vue()],
    // Read the workspace packages from their TypeScript sources, like the tests do.
    resolve: { conditions: ['@taskpulse/source', ...defaultClientConditions] },
    build: { outDir, emptyOutDir: true, minify: false, reportCompressedSize: false },
  });
  gateway = await startGateway({ staticDir: outDir });
  // A worker publishing its status 5 times a second, some task notices and a task's progress.
  publisher = setInterval(() => {
    tick++;
    const core = gateway.hub.core;
    void core.publish('processor:status', 'status', workerStatus(tick)).catch(() => {});
    if (tick % 5 === 0) {
      void core
        .publish('celery:tasks', 'task_completed', { task_id: `c${tick}`, status: 'success', avid: `A-${tick}` })
        .catch(() => {});
      void core
        .publish('task:job-1', 'progress', {
          task_id: 'job-1',
          progress: Math.min(100, tick / 5),
          current_step: `step ${tick}`,
          total_steps: 100,
          completed_steps: Math.min(100, Math.floor(tick / 5)),
          message: 'working',
          status: 'running',
          timestamp: new Date().toISOString(),
        })
        .catch(() => {});
    }
  }, 200);
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-gpu',
    ],
  });
}, 120_000);

afterAll(async () => {
  if (publisher) clearInterval(publisher);
  await browser?.close();
  await gateway?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

const processed = async (page: Page) => Number(await page.locator('.worker-panel .processed').textContent());

/** Waits until the page shows a processed count above `than` (the numbers are moving). */
async function advancesBeyond(page: Page, than: number, timeoutMs = 20_000): Promise<number> {
  await page.waitForFunction((n) => Number(document.querySelector('.processed')?.textContent) > n, than, {
    timeout: timeoutMs,
  });
  return processed(page);
}

describe('a built Vue page in Chromium', () => {
  it('shows live numbers over WebSocket, falls back to polling when blocked, and retries back', async () => {
    const page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(gateway.url);
    const indicator = page.locator('.taskpulse-indicator');

    // Realtime over WebSocket, numbers moving, the list and the task filling.
    await page.waitForSelector('.taskpulse-indicator[data-mode="realtime"][data-transport="websocket"]');
    await page.evaluate(() => {
      // Record every value the page shows, to prove it never goes back nor stops.
      globalThis.__processed = [];
      const cell = document.querySelector('.processed');
      if (!cell) throw new Error('no .processed cell');
      new MutationObserver(() => globalThis.__processed.push(Number(cell.textContent))).observe(cell, {
        characterData: true,
        childList: true,
        subtree: true,
      });
    });
    let seen = await advancesBeyond(page, await processed(page));
    await page.waitForFunction(() => Number(document.querySelector('.task progress')?.getAttribute('value')) > 0);
    await page.waitForFunction(() => document.querySelectorAll('.notices li').length >= 2);
    expect(await page.locator('.page-mode').textContent()).toMatch(/^realtime/);
    expect(await page.locator('.taskpulse-indicator__notice').count()).toBe(0);

    // The proxy breaks WebSocket and SSE: polling, with the notice, and the numbers still move.
    gateway.block();
    await page.waitForSelector('.taskpulse-indicator[data-mode="polling"]', { timeout: 30_000 });
    expect(await indicator.locator('.taskpulse-indicator__label').textContent()).toMatch(/^Polling \(every \d+ s\)$/);
    expect(await page.locator('.taskpulse-indicator__notice-text').textContent()).toMatch(/switched to polling/);
    expect(gateway.hub.stats().by_transport.websocket ?? 0).toBe(0);
    seen = await advancesBeyond(page, seen);
    seen = await advancesBeyond(page, seen);
    const progressWhilePolling = Number(await page.locator('.task progress').getAttribute('value'));
    await page.waitForFunction(
      (p) => Number(document.querySelector('.task progress')?.getAttribute('value')) > p,
      progressWhilePolling,
      { timeout: 20_000 },
    );

    // "Don't show again" is remembered in localStorage.
    await page.click('.taskpulse-indicator__notice-never');
    expect(await page.locator('.taskpulse-indicator__notice').count()).toBe(0);
    expect(await page.evaluate((key) => localStorage.getItem(key), DEFAULT_NOTICE_STORAGE_KEY)).toBe('1');

    // Unblocked: "retry WebSocket" brings it back to realtime, numbers still moving.
    gateway.unblock();
    await page.click('.taskpulse-indicator__retry');
    await page.waitForSelector('.taskpulse-indicator[data-mode="realtime"][data-transport="websocket"]', {
      timeout: 30_000,
    });
    seen = await advancesBeyond(page, seen);
    seen = await advancesBeyond(page, seen);

    // The browser goes offline and comes back: offline, then realtime again without a reload.
    await page.context().setOffline(true);
    await page.waitForSelector('.taskpulse-indicator[data-mode="offline"]', { timeout: 30_000 });
    expect(await indicator.locator('.taskpulse-indicator__label').textContent()).toBe('Offline');
    await page.context().setOffline(false);
    await page.waitForSelector('.taskpulse-indicator[data-mode="realtime"]', { timeout: 30_000 });
    await advancesBeyond(page, seen);
    await page.waitForFunction(() => document.querySelectorAll('.notices li').length === 20, undefined, {
      timeout: 30_000,
    });

    const values = await page.evaluate(() => globalThis.__processed);
    expect(values.length).toBeGreaterThan(3);
    for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1] as number);
    const notices = await page.locator('.notices li').allTextContents();
    const ticks = notices.map((text) => Number(/A-(\d+)/.exec(text)?.[1]));
    expect(ticks).toEqual([...ticks].sort((a, b) => b - a)); // newest first
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 180_000);
});
