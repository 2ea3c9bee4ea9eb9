import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type RedisServer, requirePythonModules, startRedis } from '@taskpulse/testkit';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PythonProcess, runPython } from '../src/python';
import { launchChromium } from './helpers/browser';
import { buildPage } from './helpers/page-build';
import { readVuePage, shown, WorkerMonitor } from './helpers/status';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
const cli = fileURLToPath(new URL('../../../packages/cli/src/cli.ts', import.meta.url));

describe("taskpulse-hub with the example's configuration file: seed 000's own page, unchanged", () => {
  let redis: RedisServer;
  let browser: Browser;
  let hub: ChildProcess;
  let hubOutput = '';
  let url: string;
  let worker: PythonProcess;
  let producer: PythonProcess;
  let monitor: WorkerMonitor;

  beforeAll(async () => {
    requirePythonModules(['redis']);
    const pageDir = await buildPage();
    redis = await startRedis();
    monitor = await WorkerMonitor.start(redis.url);
    // The README's command, with a free port, the test's Redis (REDIS_URL overrides the file's URL) and
    // the tests' build of the page.
    hub = spawn(
      process.execPath,
      [
        '--conditions=@taskpulse/source',
        '--import',
        'tsx',
        cli,
        '--config',
        'taskpulse-hub.json',
        '--port',
        '0',
        '--static',
        pageDir,
      ],
      { cwd: exampleDir, env: { ...process.env, REDIS_URL: redis.url }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    hub.stdout?.on('data', (c: Buffer) => {
      hubOutput += c.toString();
    });
    hub.stderr?.on('data', (c: Buffer) => {
      hubOutput += c.toString();
    });
    const deadline = Date.now() + 30_000;
    while (!/listening on http:\/\/127\.0\.0\.1:\d+/.test(hubOutput)) {
      if (hub.exitCode !== null || Date.now() > deadline) throw new Error(`taskpulse-hub did not start: ${hubOutput}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(hubOutput)?.[1] as string;
    worker = runPython('worker', ['--task-ms', '100', '--idle-publish', '1'], { redisUrl: redis.url });
    producer = runPython('producer', ['--rate', '5', '--fail-every', '4'], { redisUrl: redis.url });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all([producer?.stop(), worker?.stop()]);
    if (hub && hub.exitCode === null) {
      hub.kill('SIGTERM');
      await new Promise((r) => hub.once('exit', r));
    }
    monitor?.close();
    await redis?.stop();
  });

  it('serves seed 000 from the configuration: dialect, bridge and the static pages', () => {
    expect(hubOutput).toMatch(
      /broker: redis, auth: anonymous, ops: open, dialects: processor-status, bridges: 1, static: .*dist\/test-page\)/,
    );
  });

  it("seed 000's page: its WebSocket on /ws/processor-status and its HTTP initial load show what the worker published", async () => {
    const page = await browser.newPage();
    await page.goto(`${url}/seed-000.html`);
    await page.waitForFunction(() => Number(document.getElementById('processed_total')?.textContent) > 0);
    const readSeedPage = () =>
      page.evaluate(() => {
        const out: Record<string, string> = {};
        for (const f of [
          'running',
          'workers',
          'queue_pending',
          'queue_retry',
          'queue_dead',
          'processed_total',
          'processed_today',
          'speed',
          'last_error',
        ]) {
          out[f] = document.getElementById(f)?.textContent ?? '';
        }
        return out;
      });
    // The seed's page shows `last_error` null as an empty text; the Vue page as "none".
    const published = (s: Record<string, string>) =>
      monitor.published({ ...s, last_error: s.last_error || 'none' } as never);
    await expect.poll(async () => published(await readSeedPage()), { timeout: 15_000 }).toBe(true);
    await page.waitForFunction(() => /failed/.test(document.getElementById('last_error')?.textContent ?? ''));
    // The manual refresh button reloads over HTTP: the value is the current one.
    await page.click('#refresh');
    await expect.poll(async () => published(await readSeedPage()), { timeout: 15_000 }).toBe(true);
    const latest = monitor.latest() as Record<string, unknown>;
    expect(Object.keys(shown(latest))).toHaveLength(9);
    await page.close();
  });

  it('the Vue page served by the same command is live', async () => {
    const page = await browser.newPage();
    await page.goto(`${url}/`);
    await page.waitForFunction(() => Number(document.querySelector('[data-field="processed_total"]')?.textContent) > 0);
    await expect.poll(async () => monitor.published(await readVuePage(page)), { timeout: 15_000 }).toBe(true);
    expect(await page.getAttribute('[data-testid="indicator"]', 'data-mode')).toBe('realtime');
    await page.close();
  });

  it('stops gracefully on SIGTERM', async () => {
    hub.kill('SIGTERM');
    const code = await new Promise((r) => hub.once('exit', r));
    expect(code).toBe(0);
  });
});
