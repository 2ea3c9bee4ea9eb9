import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { createHub, type Hub } from '../src/index';
import { TEST_NAMESPACES } from './helpers/hub';
import { TestClient } from './helpers/ws-client';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function text(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

/** What every embedding must show: the app's routes untouched, the hub's HTTP and WS paths served. */
async function checkEmbedding(hub: Hub, port: number): Promise<void> {
  const base = `http://127.0.0.1:${port}`;
  expect(await text(`${base}/hello`)).toEqual({ status: 200, body: 'app' });
  const health = await text(`${base}/taskpulse/healthz`);
  expect(health.status).toBe(200);
  const client = await TestClient.connect(`ws://127.0.0.1:${port}/taskpulse/ws`);
  await client.subscribe('task:embedded');
  await hub.core.publish('task:embedded', 'e', { ok: true });
  const [p] = await client.waitForPublications('task:embedded', 1);
  expect(p?.data).toEqual({ ok: true });
  await client.close();
}

describe('embedding', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('attaches to a plain http server beside its handler and another ws server, and detaches on close', async () => {
    const server = createServer((req, res) => {
      res.end(req.url === '/hello' ? 'app' : `app:${req.url}`);
    });
    // The application's own WebSocket endpoint on another path.
    const appWss = new WebSocketServer({ noServer: true });
    server.on('upgrade', (req, socket, head) => {
      if (req.url === '/app-ws') appWss.handleUpgrade(req, socket, head, (ws) => ws.send('app-ws says hi'));
    });
    cleanups.push(async () => {
      await new Promise<void>((r) => appWss.close(() => r()));
      await closeServer(server);
    });
    const hub = createHub({ namespaces: TEST_NAMESPACES, server });
    cleanups.push(() => hub.close());
    const port = await listen(server);
    expect(hub.address()?.port).toBe(port);
    await checkEmbedding(hub, port);

    const { default: WebSocket } = await import('ws');
    const own = new WebSocket(`ws://127.0.0.1:${port}/app-ws`);
    const greeting = await new Promise<string>((resolve, reject) => {
      own.once('message', (data) => resolve(data.toString()));
      own.once('error', reject);
    });
    expect(greeting).toBe('app-ws says hi');
    own.close();

    await hub.close();
    // The app keeps working and gets the requests the hub used to answer.
    expect(await text(`http://127.0.0.1:${port}/taskpulse/healthz`)).toEqual({
      status: 200,
      body: 'app:/taskpulse/healthz',
    });
    expect(server.listenerCount('upgrade')).toBe(1);
  });

  it('works with Express 5 (http.createServer(app))', async () => {
    const app = express();
    app.get('/hello', (_req, res) => {
      res.send('app');
    });
    const server = createServer(app);
    const hub = createHub({ namespaces: TEST_NAMESPACES, server });
    cleanups.push(async () => {
      await hub.close();
      await closeServer(server);
    });
    const port = await listen(server);
    await checkEmbedding(hub, port);
    // Express still answers its own 404s.
    expect((await text(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
  });

  it('works with Express 5 app.listen()', async () => {
    const app = express();
    app.get('/hello', (_req, res) => {
      res.send('app');
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const hub = createHub({ namespaces: TEST_NAMESPACES, server });
    cleanups.push(async () => {
      await hub.close();
      await closeServer(server);
    });
    await checkEmbedding(hub, (server.address() as AddressInfo).port);
  });

  it('works with Fastify 5 (its server, closed from an onClose hook)', async () => {
    const app = Fastify();
    app.get('/hello', async () => 'app');
    const hub = createHub({ namespaces: TEST_NAMESPACES, server: app.server });
    app.addHook('onClose', async () => {
      await hub.close();
    });
    cleanups.push(() => app.close());
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    await checkEmbedding(hub, port);
    expect((await text(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
  });

  it('refuses upgrades on unknown paths with 404 when nobody else listens for upgrades', async () => {
    const server = createServer((_req, res) => res.end('app'));
    const hub = createHub({ namespaces: TEST_NAMESPACES, server });
    cleanups.push(async () => {
      await hub.close();
      await closeServer(server);
    });
    const port = await listen(server);
    const refused = await TestClient.expectRejected(`ws://127.0.0.1:${port}/elsewhere`);
    expect(refused.status).toBe(404);
    expect(refused.body?.error?.code).toBe('not_found');
  });

  it('serves standalone with 404 JSON for unknown paths, and on a custom WebSocket path', async () => {
    const hub = createHub({ namespaces: TEST_NAMESPACES, port: 0, host: '127.0.0.1', path: '/live' });
    cleanups.push(() => hub.close());
    await hub.listening;
    const port = hub.address()?.port;
    const notFound = await fetch(`http://127.0.0.1:${port}/nope`);
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await TestClient.expectRejected(`ws://127.0.0.1:${port}/taskpulse/ws`)).status).toBe(404);
    const c = await TestClient.connect(`ws://127.0.0.1:${port}/live`);
    expect(c.welcome.type).toBe('welcome');
    await c.close();
  });

  it('runs without a server: the application dispatches requests and upgrades itself', async () => {
    const hub = createHub({ namespaces: TEST_NAMESPACES });
    expect(hub.server).toBeUndefined();
    const server = createServer(async (req, res) => {
      if (!(await hub.handleRequest(req, res))) res.end(req.url === '/hello' ? 'app' : 'other');
    });
    server.on('upgrade', (req, socket, head) => {
      if (!hub.handleUpgrade(req, socket, head)) socket.destroy();
    });
    cleanups.push(async () => {
      await hub.close();
      await closeServer(server);
    });
    const port = await listen(server);
    await checkEmbedding(hub, port);
  });

  it('rejects a listen failure through `listening` without an unhandled rejection', async () => {
    const blocker = createServer();
    const port = await listen(blocker);
    cleanups.push(() => closeServer(blocker));
    const hub = createHub({ namespaces: TEST_NAMESPACES, port, host: '127.0.0.1' });
    cleanups.push(() => hub.close());
    await expect(hub.listening).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
