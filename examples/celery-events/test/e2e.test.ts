/**
 * The whole example against a private redis-server: a real Celery worker, the Celery bridge, the
 * hub with seed 002's dialect, the Vue page in Chromium, and seed 002's own WebSocket code.
 */
import { celeryServerMessageSchema, queueStatusResponseSchema } from '@taskpulse/protocol/payloads';
import { type RedisServer, requirePythonModules, startRedis } from '@taskpulse/testkit';
import type { Browser, ConsoleMessage, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CeleryDemo, startCeleryEventsDemo } from '../src/server';
import { launchChromium } from './helpers/browser';
import { buildPage } from './helpers/page-build';

let server: RedisServer;
let demo: CeleryDemo;
let browser: Browser;
let page: Page;
let seedPage: Page;
const seedLog: string[] = [];

beforeAll(async () => {
  requirePythonModules(['celery', 'redis']);
  await buildPage();
  server = await startRedis();
  browser = await launchChromium();
  demo = await startCeleryEventsDemo({ redisUrl: server.url, port: 0, stepSeconds: 0.4 });
  seedPage = await browser.newPage();
  seedPage.on('console', (m: ConsoleMessage) => seedLog.push(m.text()));
  await seedPage.goto(`${demo.url}seed-002.html`);
  page = await browser.newPage();
  await page.goto(demo.url);
  await page.getByTestId('indicator').waitFor();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await demo?.close();
  await server?.stop();
}, 60_000);

const notifications = () => page.getByTestId('notifications').locator('li').allTextContents();

describe('examples/celery-events', () => {
  it('the page shows a download going started → progress → completed', async () => {
    await page.getByTestId('avid').fill('SSIS-950');
    await page.getByTestId('start-download').click();
    const seen: number[] = [];
    const deadline = Date.now() + 30_000;
    while (!(await notifications()).includes('Task completed: SSIS-950')) {
      if (Date.now() > deadline)
        throw new Error(`not completed; notifications: ${(await notifications()).join(' | ')}`);
      for (const text of await page.getByTestId('progress').allTextContents()) seen.push(Number.parseInt(text, 10));
      await new Promise((r) => setTimeout(r, 40));
    }
    const list = await notifications();
    expect(list.indexOf('Task completed: SSIS-950')).toBeLessThan(list.indexOf('Task started: SSIS-950')); // newest first
    const moving = seen.filter((v) => v > 0);
    expect(moving.some((v) => v > 0 && v < 100)).toBe(true);
    expect([...moving].sort((a, b) => a - b)).toEqual(moving); // never backwards
    await page.getByTestId('active').locator('li').first().waitFor({ state: 'detached' });
  }, 45_000);

  it('a failure shows the exception; a retried task is not a failure', async () => {
    await page.getByTestId('avid').fill('BROKEN-1');
    await page.getByTestId('start-broken').click();
    await page.getByTestId('avid').fill('FLAKY-1');
    await page.getByTestId('start-flaky').click();
    await page
      .getByText("Task failed: BROKEN-1 - ConnectionError('BROKEN-1: source unreachable')")
      .waitFor({ timeout: 30_000 });
    await page.getByText('Task completed: FLAKY-1').waitFor({ timeout: 30_000 });
    expect((await notifications()).filter((n) => n.startsWith('Task failed: FLAKY-1'))).toEqual([]);
    await page.getByTestId('avid').fill('bad avid!');
    await page.getByTestId('start-download').click();
    await page.getByTestId('start-error').getByText('avid must match').waitFor();
  }, 45_000);

  it("seed 002's own WebSocket code got the seed's messages; the REST route answers the seed's shape", async () => {
    expect(seedLog).toContain('WebSocket 连接已建立');
    // The page mirrors the seed's console.log lines (objects as JSON) into #log.
    const mirrored = await seedPage.locator('#log').textContent();
    const lines = (mirrored ?? '').split('\n').filter((l) => l.startsWith('收到消息: '));
    const parsed = lines.map((l) => celeryServerMessageSchema.parse(JSON.parse(l.slice('收到消息: '.length))));
    expect(parsed[0]?.type).toBe('queue_status'); // answer to its get_queue_status
    const byType = (type: string, avid: string) => parsed.filter((m) => m.type === type && m.data.avid === avid);
    expect(byType('task_started', 'SSIS-950')).toHaveLength(1);
    expect(byType('task_completed', 'SSIS-950')[0]?.data).toMatchObject({ status: 'success', message: '下载完成' });
    expect(byType('task_failed', 'BROKEN-1')[0]?.data).toMatchObject({
      status: 'failed',
      message: "ConnectionError('BROKEN-1: source unreachable')",
    });
    expect(byType('task_failed', 'FLAKY-1')).toEqual([]);
    expect(parsed.filter((m) => m.type === 'queue_status').length).toBeGreaterThan(2); // pushed on change
    const rest = await fetch(`${demo.url}api/tasks/queue/status`);
    expect(queueStatusResponseSchema.parse(await rest.json())).toEqual({
      code: 200,
      message: 'success',
      data: { active_tasks: [], scheduled_tasks: [], reserved_tasks: [] },
    });
  });
});
