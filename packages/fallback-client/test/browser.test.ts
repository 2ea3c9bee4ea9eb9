/**
 * The same client code in a real Chromium (Debian's, through playwright-core): the browser
 * bundle built with esbuild, native WebSocket, EventSource and fetch; fallback exercised by
 * blocking WebSocket at the server; auth refusal diagnosed over HTTP; the page's visibility;
 * the support-staff `?taskpulse-transport=polling` override.
 */
import { join } from 'node:path';
import { requireBinary } from '@taskpulse/testkit';
import { createMemoryBroker } from '@taskpulse/ws-hub';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { range, waitFor } from './helpers/collector';
import { CLIENT_TEST_NAMESPACES, startTestHub, type TestHub } from './helpers/hub';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

interface PageState {
  status: string;
  transport: string | null;
  pollingIntervalMs: number | null;
  error: { code: string } | null;
}

declare global {
  var __start: (options: Record<string, unknown>, channels: string[]) => void;
  var __offsets: Record<string, number[]>;
  var __subscribed: Record<string, boolean>;
  var __state: PageState;
  var __retry: () => void;
}

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>client</title></head><body>
<script type="module">
import { createClient } from '/client.js';
window.__offsets = {};
window.__subscribed = {};
window.__start = (options, channels) => {
  const client = createClient({ url: location.origin, ...options });
  window.__state = client.state;
  client.onStateChange((s) => { window.__state = s; });
  for (const ch of channels) {
    window.__offsets[ch] = [];
    client.subscribe(ch, {
      onPublication: (p) => window.__offsets[ch].push(p.offset),
      onSubscribed: () => { window.__subscribed[ch] = true; },
    });
  }
  window.__retry = () => client.retryWebSocket();
};
window.__ready = true;
</script></body></html>`;

let t: TestHub;
let browser: Browser;
let bundle = '';

beforeAll(async () => {
  const executablePath = requireBinary(CHROMIUM, 'apt-get update && apt-get install -y chromium');
  const result = await build({
    entryPoints: [join(import.meta.dirname, '../src/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    conditions: ['@taskpulse/source'],
  });
  bundle = result.outputFiles[0]?.text ?? '';
  t = await startTestHub(createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }), {
    serve: (request, response) => {
      const path = (request.url ?? '').split('?')[0];
      if (path === '/page.html') {
        response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
        return true;
      }
      if (path === '/client.js') {
        response.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(bundle);
        return true;
      }
      return false;
    },
  });
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
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function open(query = ''): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${t.url}/page.html${query}`);
  await page.waitForFunction(() => (globalThis as unknown as { __ready?: boolean }).__ready === true);
  return page;
}

const state = (page: Page) => page.evaluate(() => globalThis.__state);
const subscribed = (page: Page, channel: string) =>
  waitFor(() => page.evaluate((ch) => globalThis.__subscribed[ch] === true, channel), `${channel} subscribed`);
const offsets = (page: Page, channel: string) => page.evaluate((ch) => globalThis.__offsets[ch] ?? [], channel);

/** Runs in the page: makes `document.visibilityState` report `value` and fires `visibilitychange`. */
function setVisibility(value: string): void {
  const doc = (globalThis as unknown as { document: { dispatchEvent(event: Event): boolean } }).document;
  Object.defineProperty(doc, 'visibilityState', { configurable: true, get: () => value });
  doc.dispatchEvent(new Event('visibilitychange'));
}

async function publish(channel: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await t.broker.publish(channel, 'progress', { i });
}

describe('in Chromium', () => {
  it('bundles without Node built-ins or server libraries', () => {
    expect(bundle.length).toBeGreaterThan(1000);
    expect(bundle).not.toMatch(/from ["'](node:|ws["']|eventsource["'])/);
    expect(bundle).not.toMatch(/require\(["'](node:|ws|eventsource)/);
  });

  it('uses the native WebSocket and delivers in order', async () => {
    const page = await open();
    await page.evaluate(() => globalThis.__start({ token: 'user-u1' }, ['task:b1']));
    await waitFor(async () => (await state(page))?.status === 'connected', 'connected');
    expect((await state(page)).transport).toBe('websocket');
    await subscribed(page, 'task:b1');
    await publish('task:b1', 3);
    await waitFor(async () => (await offsets(page, 'task:b1')).length >= 3, 'publications');
    expect(await offsets(page, 'task:b1')).toEqual([1, 2, 3]);
    await page.close();
  });

  it('falls back to the native EventSource when WebSocket is blocked, and returns on retryWebSocket()', async () => {
    t.gate.websocket = true;
    const page = await open();
    await page.evaluate(() =>
      globalThis.__start({ token: 'user-u1', backoff: { initialDelayMs: 20, maxDelayMs: 100 }, probeIntervalMs: 0 }, [
        'task:b2',
      ]),
    );
    await waitFor(async () => (await state(page))?.transport === 'sse', 'SSE', 20_000);
    await waitFor(async () => (await state(page))?.status === 'degraded', 'degraded');
    await subscribed(page, 'task:b2');
    await publish('task:b2', 3);
    await waitFor(async () => (await offsets(page, 'task:b2')).length >= 3, 'publications over SSE');
    t.gate.websocket = false;
    await page.evaluate(() => globalThis.__retry());
    await waitFor(async () => (await state(page))?.transport === 'websocket', 'back to WebSocket');
    expect((await state(page)).status).toBe('connected');
    await publish('task:b2', 2);
    await waitFor(async () => (await offsets(page, 'task:b2')).length >= 5, 'publications over WebSocket');
    expect(await offsets(page, 'task:b2')).toEqual(range(1, 5));
    await page.close();
  });

  it('diagnoses a refused token over HTTP: unauthorized, no fallback', async () => {
    const page = await open();
    await page.evaluate(() => globalThis.__start({ token: 'garbage' }, ['task:b3']));
    await waitFor(async () => (await state(page))?.status === 'unauthorized', 'unauthorized');
    const s = await state(page);
    expect(s.transport).toBe('websocket');
    expect(s.error?.code).toBe('unauthorized');
    await page.close();
  });

  it('honours ?taskpulse-transport=polling and slows polling while the page is hidden', async () => {
    const page = await open('?taskpulse-transport=polling');
    await page.evaluate(() =>
      globalThis.__start({ token: 'user-u1', polling: { intervalMs: 200, idleBackoffFactor: 1 } }, ['task:b4']),
    );
    await waitFor(async () => (await state(page))?.pollingIntervalMs === 200, 'polling every 200 ms');
    expect((await state(page)).transport).toBe('polling');
    await page.evaluate(setVisibility, 'hidden');
    await waitFor(async () => (await state(page))?.pollingIntervalMs === 400, 'twice the interval while hidden');
    await page.evaluate(setVisibility, 'visible');
    await waitFor(async () => (await state(page))?.pollingIntervalMs === 200, 'back to normal');
    await subscribed(page, 'task:b4');
    await publish('task:b4', 2);
    await waitFor(async () => (await offsets(page, 'task:b4')).length >= 2, 'publications over polling');
    expect(await offsets(page, 'task:b4')).toEqual([1, 2]);
    await page.close();
  });
});
