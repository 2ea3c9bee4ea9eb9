import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Demo, startDemo } from '../src/server';
import { launchChromium } from './helpers/browser';
import { buildPage } from './helpers/page-build';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));

describe('embedded mode (npm run demo): in-memory broker, simulated worker, the built Vue page', () => {
  let demo: Demo;
  let browser: Browser;

  beforeAll(async () => {
    const pageDir = await buildPage();
    demo = await startDemo({ port: 0, taskIntervalMs: 50, pageDir });
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('the Vue page shows the nine fields live, with the connection indicator', async () => {
    const page = await browser.newPage();
    await page.goto(demo.url);
    const total = () => page.textContent('[data-field="processed_total"]').then(Number);
    await page.waitForFunction(() => Number(document.querySelector('[data-field="processed_total"]')?.textContent) > 0);
    const first = await total();
    await page.waitForFunction(
      (n) => Number(document.querySelector('[data-field="processed_total"]')?.textContent) > n,
      first,
    );
    expect(await page.getAttribute('[data-testid="indicator"]', 'data-mode')).toBe('realtime');
    expect(await page.textContent('[data-field="workers"]')).toBe('3');
    expect(await page.textContent('[data-field="running"]')).toBe('true');
    for (const field of ['speed', 'queue_pending', 'queue_retry', 'queue_dead', 'processed_today']) {
      expect(await page.textContent(`[data-field="${field}"]`)).toMatch(/^\d+(\.\d+)?$/);
    }
    // Every 7th simulated task fails: last_error shows it.
    await page.waitForFunction(() =>
      /failed/.test(document.querySelector('[data-field="last_error"]')?.textContent ?? ''),
    );
    await page.close();
  });

  it("seed 000's own page logic works against the same server", async () => {
    const page = await browser.newPage();
    await page.goto(new URL('/seed-000.html', demo.url).href);
    await page.waitForFunction(() => Number(document.getElementById('processed_total')?.textContent) > 1234);
    expect(await page.textContent('#workers')).toBe('3');
    await page.close();
  });

  it('serves the initial status over HTTP', async () => {
    const res = await fetch(new URL('/api/processor/status', demo.url));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ running: true, workers: 3 });
  });

  it('a port in use gives one line naming PORT and exit code 1', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, ['--conditions=@taskpulse/source', '--import', 'tsx', 'src/main.ts'], {
        cwd: exampleDir,
        env: { ...process.env, PORT: String(port), REDIS_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(1);
      expect(stderr.trim().split('\n')).toEqual([
        `worker-status demo: port ${port} is already in use: stop what runs there or choose another port, e.g. PORT=${port + 1} npm run demo`,
      ]);
    } finally {
      blocker.close();
    }
  });
});
