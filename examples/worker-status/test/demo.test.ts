import { requireBinary } from '@taskpulse/testkit';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, startDemo } from '../src/server';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

describe('worker-status demo (smoke, real Chromium)', () => {
  let demo: Demo;
  let browser: Browser;

  beforeAll(async () => {
    const executablePath = requireBinary(CHROMIUM, 'apt-get update && apt-get install -y chromium');
    demo = await startDemo({ port: 0, taskIntervalMs: 50 });
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
  });

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('shows live worker status pushed over /ws/processor-status', async () => {
    const page = await browser.newPage();
    await page.goto(demo.url);
    await page.waitForFunction(() => Number(document.getElementById('updates')?.textContent) >= 3, undefined, {
      timeout: 15_000,
    });
    const first = Number(await page.textContent('#processed_total'));
    await page.waitForFunction((n) => Number(document.getElementById('processed_total')?.textContent) > n, first, {
      timeout: 15_000,
    });
    expect(await page.textContent('#conn')).toBe('live');
    expect(await page.textContent('#workers')).toBe('3');
    expect(Number(await page.textContent('#processed_total'))).toBeGreaterThan(1234);
    await page.close();
  });

  it('serves the initial status over HTTP', async () => {
    const res = await fetch(new URL('/api/processor/status', demo.url));
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ running: true, workers: 3 });
  });
});
