/**
 * The dashboard in a real Chromium against two hub nodes on one real Redis: both nodes shown,
 * totals equal to each node's /stats, charts that move while a publisher runs, the broker status
 * red while Redis is stopped and green again after; and, without the credential, a 401 and no
 * system channel over any transport. Takes the screenshot in docs/images/dashboard.png.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYSTEM_NODES_CHANNEL } from '@taskpulse/protocol';
import { createRedisBroker, type RedisBroker } from '@taskpulse/redis-bridge';
import { type RedisServer, requireBinary } from '@taskpulse/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type NodeWebSocket from 'ws';
import {
  NAMESPACES,
  OPS_KEY,
  pollUser,
  sseUser,
  startNode,
  startRedis,
  statsOf,
  type TestNode,
  testPrefix,
  waitUntil,
  wsUser,
} from './helpers/cluster';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const packageDir = join(import.meta.dirname, '..');
const SCREENSHOT = join(packageDir, '..', '..', 'docs', 'images', 'dashboard.png');

let assetsDir: string;
let redis: RedisServer;
let nodes: TestNode[] = [];
let worker: RedisBroker;
let browser: Browser;
const users: NodeWebSocket[] = [];
const streams: AbortController[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  const executablePath = requireBinary(CHROMIUM, 'apt-get update && apt-get install -y chromium');
  // The page as CI ships it, built from the current sources.
  assetsDir = mkdtempSync(join(tmpdir(), 'taskpulse-dashboard-page-'));
  await build({ configFile: join(packageDir, 'vite.config.ts'), build: { outDir: assetsDir, emptyOutDir: true } });
  redis = await startRedis();
  const prefix = testPrefix();
  nodes = [await startNode(redis, prefix, 'node-a', assetsDir), await startNode(redis, prefix, 'node-b', assetsDir)];
  worker = createRedisBroker({ redis: redis.url, prefix, namespaces: NAMESPACES });
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
  await browser?.close();
  for (const u of users) u.terminate();
  for (const s of streams) s.abort();
  for (const n of nodes) await n.hub.close();
  for (const n of nodes) await n.broker.close();
  await worker?.close();
  await redis?.stop();
  rmSync(assetsDir, { recursive: true, force: true });
});

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return page;
}

const [a, b] = [() => nodes[0] as TestNode, () => nodes[1] as TestNode];
const field = async (page: Page, node: string, name: string) =>
  (await page.locator(`tr[data-node="${node}"] td[data-field="${name}"]`).first().textContent()) ?? '';
const toNumber = (text: string) => Number(text.replace(/[^0-9.]/g, ''));

describe('without the credential', () => {
  it('answers 401 and reads no system channel over WebSocket, SSE, polling or reads', async () => {
    const page = await newPage();
    const response = await page.goto(`${a().httpUrl}/taskpulse/dashboard`);
    expect(response?.status()).toBe(401);
    await expect(page.locator('input[name="key"]').count()).resolves.toBe(1);

    // From the page's own origin, where a session cookie would ride along if there were one.
    const results = await page.evaluate(async (channel) => {
      const enc = encodeURIComponent(channel);
      const status = async (path: string) => (await fetch(`/taskpulse/${path}`)).status;
      const ws = await new Promise<string>((resolve) => {
        const socket = new WebSocket(`ws://${location.host}/taskpulse/ws`);
        socket.onmessage = (event) => {
          const frame = JSON.parse(String(event.data));
          if (frame.type === 'welcome') socket.send(JSON.stringify({ type: 'subscribe', id: 1, channel }));
          else if (frame.type === 'error' || frame.type === 'subscribed') {
            socket.close();
            resolve(frame.type === 'error' ? frame.code : 'subscribed');
          }
        };
        socket.onerror = () => resolve('socket error');
      });
      return {
        ws,
        sse: await status(`sse?channel=${enc}`),
        poll: await status(`poll?channel=${enc}`),
        history: await status(`channels/${enc}/history`),
        state: await status(`channels/${enc}/state`),
        figures: await status('dashboard/api/figures'),
        config: await status('dashboard/api/config'),
      };
    }, SYSTEM_NODES_CHANNEL);
    expect(results).toEqual({
      ws: 'forbidden',
      sse: 403,
      poll: 403,
      history: 403,
      state: 403,
      figures: 401,
      config: 401,
    });

    // A wrong key gets the form again, and no cookie.
    await page.fill('input[name="key"]', 'not-the-key');
    const refused = await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    expect(refused[0]?.status()).toBe(401);
    expect(await page.context().cookies()).toEqual([]);
    await page.close();
  }, 60_000);
});

describe('with the credential', () => {
  it('shows both nodes live: totals match /stats, charts move, the broker goes red and back', async () => {
    // Users on both nodes: 3 WebSocket users on A; 2 WebSocket users, an SSE user and a long-polling user on B.
    for (const user of ['u1', 'u2', 'u3']) users.push(await wsUser(a(), user, 'task:load'));
    for (const user of ['u4', 'u5']) users.push(await wsUser(b(), user, 'task:load'));
    streams.push(await sseUser(b(), 'u6', 'task:load'));
    streams.push(pollUser(b(), 'u7', 'task:load'));

    const page = await newPage();
    // The page's reads of the system channel (its history) go through with the session.
    const refusedReads: string[] = [];
    page.on('response', (r) => {
      if (r.url().includes('/taskpulse/channels/') && r.status() >= 400) refusedReads.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`${a().httpUrl}/taskpulse/dashboard`);
    await page.fill('input[name="key"]', OPS_KEY);
    const historyRead = page.waitForResponse((r) => r.url().includes('/history'), { timeout: 30_000 });
    await Promise.all([page.waitForURL(/\/taskpulse\/dashboard\/$/), page.click('button[type="submit"]')]);
    const cookies = await page.context().cookies();
    expect(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])).toEqual([['taskpulse_ops', true, 'Strict']]);

    expect((await historyRead).status()).toBe(200);
    expect(refusedReads).toEqual([]);

    // Both nodes, live, each with the connection figures of its own /stats.
    for (const node of nodes) {
      await waitUntil(
        async () => (await page.locator(`tr[data-node="${node.id}"]`).getAttribute('data-state')) === 'live',
        `${node.id} to be shown live`,
      );
    }
    await waitUntil(async () => {
      let sum = 0;
      for (const node of nodes) {
        const stats = await statsOf(node);
        sum += stats.total_clients;
        if (toNumber(await field(page, node.id, 'connections')) !== stats.total_clients) return false;
        const transports = Object.entries(stats.by_transport).map(([k, v]) => `${k} ${v}`);
        const shown = await field(page, node.id, 'transports');
        if (!transports.every((t) => shown.includes(t))) return false;
      }
      return toNumber(await field(page, 'total', 'connections')) === sum;
    }, 'the dashboard to match /taskpulse/stats of each node');
    expect(toNumber(await field(page, 'node-b', 'users'))).toBe(3);
    expect(await field(page, 'node-b', 'transports')).toContain('sse 1');
    await waitUntil(
      async () => (await field(page, 'node-b', 'transports')).includes('polling 1'),
      'the poller on node-b',
    );

    // A publisher runs: the charts move.
    const points = async (name: string) =>
      Number(await page.locator(`[data-chart="${name}"]`).getAttribute('data-points'));
    const last = async (name: string) => Number(await page.locator(`[data-chart="${name}"]`).getAttribute('data-last'));
    const before = await points('deliveriesOut');
    let published = 0;
    const publisher = setInterval(() => {
      worker.publish('task:load', 'progress', { n: ++published }).catch(() => {});
    }, 20);
    try {
      await waitUntil(
        async () => (await last('deliveriesOut')) > 0 && (await last('publicationsIn')) > 0,
        'rates above zero',
      );
      await waitUntil(async () => (await points('deliveriesOut')) >= before + 6, 'the charts to gain points');
      await waitUntil(
        async () => (await page.locator('[data-details="node-a"] [data-channel="task:load"]').count()) === 1,
        'task:load among the busiest channels',
      );
      mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    } finally {
      clearInterval(publisher);
    }
    expect(await page.locator('canvas').count()).toBeGreaterThanOrEqual(4);

    // Redis stops: this node's broker turns red (its figures read over HTTP), the other goes stale.
    const broker = (node: string) => page.locator(`tr[data-node="${node}"] [data-broker]`);
    await expect(broker('node-a').getAttribute('data-broker')).resolves.toBe('ready');
    await redis.kill();
    await waitUntil(
      async () =>
        (await broker('node-a').getAttribute('data-broker')) !== 'ready' &&
        ((await broker('node-a').getAttribute('class')) ?? '').includes('bad'),
      'node-a’s broker to turn red',
      20_000,
    );
    await expect(page.locator('[data-broker-summary]').getAttribute('data-broker-summary')).resolves.toBe('bad');
    await waitUntil(
      async () => (await page.locator('tr[data-node="node-b"]').getAttribute('data-state')) === 'stale',
      'node-b to go stale',
    );

    // Redis is back: green again, both nodes live.
    await redis.restart();
    await waitUntil(
      async () =>
        (await broker('node-a').getAttribute('data-broker')) === 'ready' &&
        (await broker('node-b').getAttribute('data-broker')) === 'ready' &&
        (await page.locator('tr[data-node="node-b"]').getAttribute('data-state')) === 'live',
      'both brokers ready and both nodes live again',
      30_000,
    );
    // The summary also waits for this page's own connection to hear `live: true` again.
    await waitUntil(
      async () => (await page.locator('[data-broker-summary]').getAttribute('data-broker-summary')) === 'ok',
      'the broker summary to turn green again',
      30_000,
    );
    expect(await page.locator('tr[data-node="node-a"] td[data-field="broker"]').textContent()).toMatch(/1 outage/);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 180_000);
});
