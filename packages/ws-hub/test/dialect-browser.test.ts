/**
 * The seeds' own browser snippets, unchanged, in a real Chromium against the dialect paths.
 * Seed 001's snippets hard-code `ws://localhost:8080`; Chromium's host resolver maps that address
 * to the test server, so not a character of them changes.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SEED_NAMESPACES } from '@taskpulse/protocol';
import { requireBinary } from '@taskpulse/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_RECORD_NAMESPACES, processorStatusDialect, taskProgressDialect } from '../src/dialects/index';
import { createHub, type Hub } from '../src/index';
import { liveSubscribers } from './fixtures/http-client';
import { waitUntil } from './helpers/wait';

/** A message as the seed pages record it. */
interface Message {
  type: string;
  task_id?: string;
  payload: Record<string, unknown> & { client_id?: string; completed_steps?: number };
}

// What the fixture pages expose for the test to read (their glue, not the seed code).
declare global {
  var __status: Record<string, unknown> & { processed_total?: number; last_error?: string | null };
  var __loads: number;
  var __unmount: () => void;
  var __received: Message[];
  var __progress: Record<string, unknown>[];
  var __statusUpdates: Record<string, unknown>[];
  var subscribeTask: (taskId: string) => void;
  var unsubscribeTask: (taskId: string) => void;
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const pages = join(import.meta.dirname, 'fixtures', 'seeds');

let server: Server;
let hub: Hub;
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  const executablePath = requireBinary(CHROMIUM, 'apt-get update && apt-get install -y chromium');
  server = createServer((request, response) => {
    const name = /^\/seed\/([a-z0-9-]+\.html)$/.exec(request.url ?? '')?.[1];
    if (!name) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(readFileSync(join(pages, name)));
  });
  const taskProgress = taskProgressDialect();
  hub = createHub({
    server,
    namespaces: { ...SEED_NAMESPACES, ...CLIENT_RECORD_NAMESPACES },
    dialects: [processorStatusDialect(), taskProgress],
    // The seed's pages identify users by the query string only: the legacy opt-in.
    authenticate: taskProgress.trustQueryIdentity(),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-gpu',
      `--host-resolver-rules=MAP localhost:8080 127.0.0.1:${port}`,
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await hub?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

async function open(name: string): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
  await page.goto(`http://localhost:8080/seed/${name}`);
  return page;
}

/** Closes the dialect's connections from the server side (a restart, a network cut). */
function dropConnections(transport: string): void {
  for (const session of [...hub.core.sessions()]) {
    if (session.transport.name === transport) session.transport.close(1012, 'service restart');
  }
}

const connections = (transport: string) => hub.stats().by_transport[transport] ?? 0;

const workerStatus = (n: number) => ({
  running: true,
  workers: 3,
  queue_pending: 156 - n,
  queue_retry: 2,
  queue_dead: 0,
  processed_total: 1234 + n,
  processed_today: 89 + n,
  speed: 2.5,
  last_error: n === 2 ? 'boom' : null,
});

const progress = (taskId: string, steps: number) => ({
  task_id: taskId,
  progress: steps * 25,
  current_step: `step ${steps}`,
  total_steps: 4,
  completed_steps: steps,
  message: `正在处理 ${steps}`,
  status: 'running',
  timestamp: '2026-02-21T10:30:00Z',
});

describe('seed snippets in Chromium', () => {
  it("seed 000's reconnecting status panel: initial load, live updates, reconnect after a drop, unmount", async () => {
    await hub.core.publish('processor:status', 'status', workerStatus(1));
    const page = await open('seed-000-processor-status.html');
    await page.waitForFunction(() => globalThis.__status.processed_total === 1235 && globalThis.__loads === 1);
    await hub.core.publish('processor:status', 'status', workerStatus(2));
    await page.waitForFunction(() => globalThis.__status.last_error === 'boom');
    expect(await page.evaluate(() => globalThis.__status)).toEqual(workerStatus(2));

    dropConnections('processor-status');
    // The snippet reconnects after 1 s and reloads the status over HTTP.
    await page.waitForFunction(() => globalThis.__loads === 2, undefined, { timeout: 15_000 });
    await hub.core.publish('processor:status', 'status', workerStatus(3));
    await page.waitForFunction(() => globalThis.__status.processed_total === 1237);
    expect(await page.evaluate(() => globalThis.__status)).toEqual(workerStatus(3));

    await page.evaluate(() => globalThis.__unmount());
    await waitUntil(() => connections('processor-status') === 0, 'the page to close its socket');
    await page.close();
  });

  it("seed 001's connect + subscribe snippet: progress, status, user and project broadcasts", async () => {
    const page = await open('seed-001-connect.html');
    await page.waitForFunction(() => globalThis.__received[0]?.type === 'connected');
    await page.evaluate(() => globalThis.subscribeTask('task-123'));
    await waitUntil(() => liveSubscribers(hub.core, 'task:task-123') === 1, 'the subscription');
    await hub.core.publish('task:task-123', 'progress', progress('task-123', 2));
    await hub.core.publish('task:task-123', 'status', {
      task_id: 'task-123',
      status: 'completed',
      result: { video_url: 'https://example.com/video.mp4' },
      timestamp: '2026-02-21T10:35:00Z',
    });
    await hub.core.publish('user:user-123', 'progress', progress('task-456', 2));
    await hub.core.publish('project:project-456', 'progress', progress('task-789', 3));
    await page.waitForFunction(() => globalThis.__progress.length === 3 && globalThis.__statusUpdates.length === 1);
    const seen = await page.evaluate(() => ({
      progress: globalThis.__progress,
      status: globalThis.__statusUpdates,
    }));
    expect(seen.progress).toEqual([progress('task-123', 2), progress('task-456', 2), progress('task-789', 3)]);
    expect(seen.status[0]).toMatchObject({ task_id: 'task-123', status: 'completed' });

    await page.evaluate(() => globalThis.unsubscribeTask('task-123'));
    await waitUntil(() => hub.core.router.listenerCount('task:task-123') === 0, 'the unsubscription');
    await page.close();
    await waitUntil(() => connections('task-progress') === 0, 'the page to go');
  });

  it("seed 001's reconnect snippet: old_client_id restores subscriptions and identity, nothing missed", async () => {
    const page = await open('seed-001-reconnect.html');
    await page.waitForFunction(() => globalThis.__received[0]?.type === 'connected');
    const clientId = await page.evaluate(() => globalThis.__received[0]?.payload.client_id as string);
    await page.evaluate(() => globalThis.subscribeTask('task-r'));
    await waitUntil(() => liveSubscribers(hub.core, 'task:task-r') === 1, 'the subscription');
    await hub.core.publish('task:task-r', 'progress', progress('task-r', 1));
    await page.waitForFunction(() => globalThis.__received.some((m: Message) => m.type === 'progress'));

    dropConnections('task-progress');
    await waitUntil(() => hub.core.router.listenerCount('task:task-r') === 0, 'the server to drop the session');
    await hub.core.publish('task:task-r', 'progress', progress('task-r', 2)); // while the page is away
    // The snippet reconnects after 2 s with ?old_client_id=… (no user_id) and re-sends its subscribe.
    await page.waitForFunction(
      () => globalThis.__received.filter((m: Message) => m.type === 'connected').length === 2,
      undefined,
      { timeout: 15_000 },
    );
    await page.waitForFunction(() => globalThis.__received.filter((m: Message) => m.type === 'progress').length === 2);
    await hub.core.publish('task:task-r', 'progress', progress('task-r', 3));
    await hub.core.publish('user:user-123', 'progress', progress('for-the-user', 1));
    await page.waitForFunction(() => globalThis.__received.filter((m: Message) => m.type === 'progress').length === 4);

    const received = await page.evaluate(() => globalThis.__received as Message[]);
    const connectedIds = received.filter((m) => m.type === 'connected').map((m) => m.payload.client_id);
    expect(connectedIds).toEqual([clientId, clientId]);
    expect(received.filter((m) => m.type === 'progress').map((m) => [m.task_id, m.payload.completed_steps])).toEqual([
      ['task-r', 1],
      ['task-r', 2],
      ['task-r', 3],
      ['for-the-user', 1],
    ]);
    expect(received.filter((m) => m.type === 'error')).toEqual([]);
    expect([...hub.core.sessions()].find((s) => s.transport.name === 'task-progress')?.principal.userId).toBe(
      'user-123',
    );
    await page.close();
  });

  it('ran every page without a script error', () => {
    expect(pageErrors).toEqual([]);
  });
});
