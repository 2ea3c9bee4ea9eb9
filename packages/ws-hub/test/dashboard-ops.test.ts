/**
 * The operations dashboard, server side: figures on the system channel, the operations credential
 * on every transport, nobody else reading a system channel, the page's login and files.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type NodeFigures,
  nodeFiguresSchema,
  OPS_SESSION_TOKEN,
  type Publication,
  SYSTEM_NODES_CHANNEL,
  SystemEvents,
} from '@taskpulse/protocol';
import { Server as SocketIoServer } from 'socket.io';
import { io as ioClient, type Socket as SocketIoClient } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { attachSocketIo, createHub, type RoomReply } from '../src/index';
import { createOpsCredential, OPS_COOKIE } from '../src/ops/ops-credential';
import { readStaticFile } from '../src/ops/static-files';
import { call, SseStream, testAuthenticate } from './fixtures/http-client';
import { startHub, TEST_NAMESPACES, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';
import { TestClient } from './helpers/ws-client';

const OPS_KEY = 'ops-key-0123456789abcdef';
const enc = encodeURIComponent(SYSTEM_NODES_CHANNEL);

let assetsDir: string;
const hubs: TestHub[] = [];
const clients: TestClient[] = [];

beforeAll(() => {
  assetsDir = mkdtempSync(join(tmpdir(), 'taskpulse-dash-'));
  mkdirSync(join(assetsDir, 'assets'));
  writeFileSync(
    join(assetsDir, 'index.html'),
    '<!doctype html><html><head><title>dash</title></head><body></body></html>',
  );
  writeFileSync(join(assetsDir, 'assets', 'app-1234.js'), 'console.log(1)');
  writeFileSync(join(tmpdir(), 'taskpulse-dash-secret.txt'), 'secret');
});
afterAll(() => {
  rmSync(assetsDir, { recursive: true, force: true });
  rmSync(join(tmpdir(), 'taskpulse-dash-secret.txt'), { force: true });
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const h of hubs.splice(0)) await h.close();
});

/** A hub with the dashboard on, the test identity scheme, and an authorize hook that allows everything. */
async function dashboardHub(
  extra: { intervalMs?: number; nodeId?: string; topChannels?: number } = {},
): Promise<TestHub> {
  const t = await startHub({
    authenticate: testAuthenticate,
    // Even a hook that allows everything must not open the system channels.
    authorize: () => true,
    http: { opsApiKeys: [OPS_KEY], publishApiKeys: ['pub-key'] },
    dashboard: {
      assetsDir,
      intervalMs: extra.intervalMs ?? 250,
      nodeId: extra.nodeId ?? 'node-a',
      ...(extra.topChannels !== undefined ? { topChannels: extra.topChannels } : {}),
    },
  });
  hubs.push(t);
  return t;
}

async function connect(url: string, options: Parameters<typeof TestClient.connect>[1] = {}) {
  const c = await TestClient.connect(url, options);
  clients.push(c);
  return c;
}

async function login(httpUrl: string): Promise<string> {
  const res = await fetch(`${httpUrl}/taskpulse/dashboard/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `key=${encodeURIComponent(OPS_KEY)}`,
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  const setCookie = res.headers.get('set-cookie') ?? '';
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  expect(setCookie).not.toContain(OPS_KEY);
  return (setCookie.split(';')[0] as string).trim();
}

describe('dashboard option', () => {
  it('refuses to start without ops API keys, and checks its fields', () => {
    expect(() => createHub({ namespaces: TEST_NAMESPACES, dashboard: true })).toThrow(/opsApiKeys/);
    expect(() =>
      createHub({ namespaces: TEST_NAMESPACES, http: { opsApiKeys: ['k'] }, dashboard: { intervalMs: 5 } }),
    ).toThrow(/dashboard\.intervalMs/);
  });
});

describe('figures on the system channel', () => {
  it('publishes this node’s figures to the operations credential, matching /stats', async () => {
    const t = await dashboardHub();
    const users = [await connect(`${t.wsUrl}?token=u1`), await connect(`${t.wsUrl}?token=u2`)];
    for (const u of users) await u.subscribe('task:busy');
    const ops = await connect(t.wsUrl, { headers: { 'x-api-key': OPS_KEY } });
    await ops.subscribe(SYSTEM_NODES_CHANNEL);
    for (let i = 0; i < 20; i++) await t.hub.core.publish('task:busy', 'progress', { i });

    let figures: NodeFigures | undefined;
    await waitUntil(
      () => {
        const last = ops.publications.filter((p) => p.event === SystemEvents.NODE_FIGURES).at(-1);
        if (!last) return false;
        figures = nodeFiguresSchema.parse(last.data);
        return figures.totals.publicationsIn >= 20 && figures.connections.total === 3;
      },
      'figures counting the publications',
      10_000,
    );
    const f = figures as NodeFigures;
    const stats = (await call(`${t.httpUrl}/taskpulse/stats`, { headers: { 'x-api-key': OPS_KEY } })).body;
    expect(f.nodeId).toBe('node-a');
    expect(f.connections.total).toBe(stats.total_clients);
    expect(f.connections.byTransport).toEqual(stats.by_transport);
    expect(f.users).toBe(Object.keys(stats.by_user).length);
    expect(f.channels.subscribed).toBe(Object.keys(stats.by_channel).length);
    expect(f.totals.deliveriesByTransport.websocket).toBeGreaterThanOrEqual(40);
    expect(f.broker.status).toBe('ready');
    expect(f.broker.epoch).not.toBeNull();
    expect(f.channels.top.map((c) => c.channel)).toContain('task:busy');
    expect(f.channels.top.every((c) => !c.channel.startsWith('taskpulse-system'))).toBe(true);
    expect(f.memory.rssBytes).toBeGreaterThan(0);
  });

  it('lists the busiest channels: traffic first, then idle ones by subscribers, never a system channel', async () => {
    const t = await dashboardHub({ topChannels: 2 });
    for (const [channel, users] of [
      ['task:loud', 1],
      ['task:quiet-many', 3],
      ['task:quiet-few', 1],
    ] as const) {
      for (let i = 0; i < users; i++)
        await (await connect(`${t.wsUrl}?token=u${channel.length}${i}`)).subscribe(channel);
    }
    const ops = await connect(t.wsUrl, { headers: { 'x-api-key': OPS_KEY } });
    await ops.subscribe(SYSTEM_NODES_CHANNEL);
    let top: string[] = [];
    await waitUntil(
      async () => {
        await t.hub.core.publish('task:loud', 'progress', {});
        const last = ops.publications.filter((p) => p.event === SystemEvents.NODE_FIGURES).at(-1);
        top = last ? nodeFiguresSchema.parse(last.data).channels.top.map((c) => c.channel) : [];
        return top[0] === 'task:loud';
      },
      'figures with task:loud on top',
      10_000,
    );
    expect(top).toEqual(['task:loud', 'task:quiet-many']);
  });

  it('announces node.stopped when the hub closes', async () => {
    const a = await dashboardHub({ nodeId: 'node-a' });
    const ops = await connect(a.wsUrl, { headers: { 'x-api-key': OPS_KEY } });
    await ops.subscribe(SYSTEM_NODES_CHANNEL);
    const stopped: Publication[] = [];
    // The announcement is written before the hub closes the connections.
    const closing = a.hub.close();
    hubs.splice(hubs.indexOf(a), 1);
    await closing;
    await ops.closed;
    stopped.push(...ops.publications.filter((p) => p.event === SystemEvents.NODE_STOPPED));
    expect(stopped.map((p) => (p.data as { nodeId: string }).nodeId)).toEqual(['node-a']);
  });
});

describe('nobody else reads a system channel', () => {
  it('refuses WebSocket subscribes, SSE, polls and reads without the credential; the credential reads', async () => {
    const t = await dashboardHub();
    const user = await connect(`${t.wsUrl}?token=u1`);
    const refused = await user.request({ type: 'subscribe', id: 1, channel: SYSTEM_NODES_CHANNEL });
    expect(refused).toMatchObject({ type: 'error', code: 'forbidden' });
    const anonymous = await connect(t.wsUrl);
    expect(await anonymous.request({ type: 'subscribe', id: 1, channel: SYSTEM_NODES_CHANNEL })).toMatchObject({
      type: 'error',
      code: 'forbidden',
    });
    // A wrong key is no credential.
    const wrongKey = await connect(t.wsUrl, { headers: { 'x-api-key': 'nope' } });
    expect(await wrongKey.request({ type: 'subscribe', id: 1, channel: SYSTEM_NODES_CHANNEL })).toMatchObject({
      code: 'forbidden',
    });

    for (const headers of [{}, { authorization: 'Bearer u1' }, { 'x-api-key': 'nope' }] as Record<string, string>[]) {
      const sse = await SseStream.open(`${t.httpUrl}/taskpulse/sse?channel=${enc}`, headers).catch((e) => e);
      expect(sse.status).toBe(403);
      for (const path of [`poll?channel=${enc}`, `channels/${enc}/history`, `channels/${enc}/state`]) {
        const res = await call(`${t.httpUrl}/taskpulse/${path}`, { headers });
        expect([res.status, res.body?.error?.code]).toEqual([403, 'forbidden']);
      }
    }
    // A bad token is a 401 before any channel is looked at.
    expect(
      (await call(`${t.httpUrl}/taskpulse/channels/${enc}/state`, { headers: { authorization: 'Bearer bad' } })).status,
    ).toBe(401);
    // A publish key cannot write into it either.
    const pub = await call(`${t.httpUrl}/taskpulse/publish`, {
      headers: { 'x-api-key': 'pub-key', 'content-type': 'application/json' },
      body: { channel: SYSTEM_NODES_CHANNEL, event: SystemEvents.NODE_FIGURES, data: {} },
    });
    expect(pub.status).toBe(403);

    // The credential: key header or session cookie (with the dashboard's session token), over every transport.
    const cookie = await login(t.httpUrl);
    const session = { cookie, authorization: `Bearer ${OPS_SESSION_TOKEN}` };
    for (const headers of [{ 'x-api-key': OPS_KEY }, session] as Record<string, string>[]) {
      const history = await call(`${t.httpUrl}/taskpulse/channels/${enc}/history`, { headers });
      expect(history.status).toBe(200);
      await waitUntil(async () => {
        const poll = await call(`${t.httpUrl}/taskpulse/poll?channel=${enc}`, { headers });
        return poll.status === 200 && JSON.stringify(poll.body).includes(SystemEvents.NODE_FIGURES);
      }, 'a poll to return figures');
      const sse = await SseStream.open(`${t.httpUrl}/taskpulse/sse?channel=${enc}`, headers);
      await waitUntil(() => sse.frames().some((f) => f.type === 'subscribed'), 'SSE subscribed');
      sse.close();
    }
    const viaCookie = await connect(`${t.wsUrl}?token=${OPS_SESSION_TOKEN}`, { headers: { cookie } });
    await viaCookie.subscribe(SYSTEM_NODES_CHANNEL);
    // The credential is for system channels only.
    expect(await viaCookie.request({ type: 'subscribe', id: 9, channel: 'task:1' })).toMatchObject({
      code: 'forbidden',
    });
    // A cookie sent by a page of another origin does not count.
    // (the session token alone is then no credential either: the app's authentication refuses it).
    const foreign = await connect(`${t.wsUrl}?token=${OPS_SESSION_TOKEN}`, {
      headers: { cookie },
      origin: 'http://evil.example',
    }).catch((error: { rejection?: { status: number } }) => error);
    expect((foreign as { rejection?: { status: number } }).rejection?.status).toBe(401);
    const foreignNoToken = await connect(t.wsUrl, { headers: { cookie }, origin: 'http://evil.example' });
    expect(await foreignNoToken.request({ type: 'subscribe', id: 1, channel: SYSTEM_NODES_CHANNEL })).toMatchObject({
      code: 'forbidden',
    });
  });
});

describe('Socket.IO rooms', () => {
  it('a system channel is no room for anyone but the operations credential', async () => {
    const t = await dashboardHub();
    const sio = await attachSocketIo(t.hub, { Server: SocketIoServer });
    const sockets: SocketIoClient[] = [];
    const open = async (extraHeaders: Record<string, string>, token?: string) => {
      const socket = ioClient(t.httpUrl, {
        reconnection: false,
        forceNew: true,
        transports: ['websocket'],
        extraHeaders,
        ...(token ? { auth: { token } } : {}),
      });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      return socket;
    };
    const join = (socket: SocketIoClient) =>
      socket.timeout(5000).emitWithAck('room:join', SYSTEM_NODES_CHANNEL) as Promise<RoomReply>;
    try {
      expect(await join(await open({}))).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect(await join(await open({}, 'u1'))).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      expect(await join(await open({ 'x-api-key': OPS_KEY }))).toMatchObject({ ok: true });
    } finally {
      for (const socket of sockets) socket.disconnect();
      await sio.close();
    }
  });
});

describe('the session cookie on the hub’s own endpoints', () => {
  it('does not take over the app’s connections on the same origin: only with the dashboard’s session token', async () => {
    const t = await dashboardHub();
    const cookie = await login(t.httpUrl);
    const sameOrigin = t.httpUrl; // the browser's Origin for a page served by the hub's host
    // An operator who logged in to the dashboard uses the app on the same origin: their cookie
    // rides along, but the connection is the app's, with the app's own user.
    const app = await connect(`${t.wsUrl}?token=u1`, { headers: { cookie }, origin: sameOrigin });
    expect(await app.request({ type: 'subscribe', id: 1, channel: 'task:1' })).toMatchObject({ type: 'subscribed' });
    expect(await app.request({ type: 'subscribe', id: 2, channel: SYSTEM_NODES_CHANNEL })).toMatchObject({
      code: 'forbidden',
    });
    const anonymous = await connect(t.wsUrl, { headers: { cookie }, origin: sameOrigin });
    expect(await anonymous.request({ type: 'subscribe', id: 1, channel: 'task:1' })).toMatchObject({
      type: 'subscribed',
    });
    const read = await call(`${t.httpUrl}/taskpulse/channels/task%3A1/state`, {
      headers: { cookie, authorization: 'Bearer u1' },
    });
    expect(read.status).toBe(200);

    // The dashboard page presents its session token with the cookie: system channels only.
    const dashboard = await connect(`${t.wsUrl}?token=${OPS_SESSION_TOKEN}`, {
      headers: { cookie },
      origin: sameOrigin,
    });
    await dashboard.subscribe(SYSTEM_NODES_CHANNEL);
    const history = await call(`${t.httpUrl}/taskpulse/channels/${enc}/history`, {
      headers: { cookie, authorization: `Bearer ${OPS_SESSION_TOKEN}` },
    });
    expect(history.status).toBe(200);
    // The session token without a valid cookie is no credential: the app's authentication refuses it.
    const expired = await call(`${t.httpUrl}/taskpulse/channels/${enc}/history`, {
      headers: { authorization: `Bearer ${OPS_SESSION_TOKEN}` },
    });
    expect(expired.status).toBe(401);
  });
});

describe('the page', () => {
  it('answers 401 with a login form, logs in with the key, serves only its own files', async () => {
    const t = await dashboardHub();
    const page = await fetch(`${t.httpUrl}/taskpulse/dashboard`);
    expect(page.status).toBe(401);
    expect(await page.text()).toContain('<form method="post"');
    expect((await call(`${t.httpUrl}/taskpulse/dashboard/api/figures`)).status).toBe(401);
    expect((await fetch(`${t.httpUrl}/taskpulse/dashboard/assets/app-1234.js`)).status).toBe(401);

    const bad = await fetch(`${t.httpUrl}/taskpulse/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'key=wrong',
      redirect: 'manual',
    });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();
    const crossSite = await fetch(`${t.httpUrl}/taskpulse/dashboard/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' },
      body: `key=${OPS_KEY}`,
      redirect: 'manual',
    });
    expect([crossSite.status, crossSite.headers.get('set-cookie')]).toEqual([403, null]);
    // Behind a proxy that passes the browser's host on, the page's own origin logs in.
    const proxied = await fetch(`${t.httpUrl}/taskpulse/dashboard/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'https://ops.example.com',
        'x-forwarded-host': 'ops.example.com',
        'x-forwarded-proto': 'https',
      },
      body: `key=${OPS_KEY}`,
      redirect: 'manual',
    });
    expect(proxied.status).toBe(303);
    expect(proxied.headers.get('set-cookie')).toMatch(/; Secure$/);

    const cookie = await login(t.httpUrl);
    expect(cookie.startsWith(`${OPS_COOKIE}=v1.`)).toBe(true);
    const ok = await fetch(`${t.httpUrl}/taskpulse/dashboard`, { headers: { cookie } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await ok.text()).toContain('<base href="/taskpulse/dashboard/">');
    const asset = await fetch(`${t.httpUrl}/taskpulse/dashboard/assets/app-1234.js`, { headers: { cookie } });
    expect([asset.status, asset.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    for (const path of ['..%2F..%2Ftaskpulse-dash-secret.txt', '%2e%2e/%2e%2e/taskpulse-dash-secret.txt']) {
      const outside = await fetch(`${t.httpUrl}/taskpulse/dashboard/assets/${path}`, { headers: { cookie } });
      expect(outside.status).toBe(404);
    }
    // Below the URL parser too: no path leaves the directory.
    expect(await readStaticFile(join(assetsDir, 'assets'), '../../taskpulse-dash-secret.txt')).toBeNull();
    expect(await readStaticFile(assetsDir, '/etc/passwd')).toBeNull();
    expect((await readStaticFile(assetsDir, 'assets/app-1234.js'))?.body.toString()).toBe('console.log(1)');
    const figures = await call(`${t.httpUrl}/taskpulse/dashboard/api/figures`, { headers: { cookie } });
    expect(nodeFiguresSchema.parse(figures.body).nodeId).toBe('node-a');
    const config = await call(`${t.httpUrl}/taskpulse/dashboard/api/config`, { headers: { 'x-api-key': OPS_KEY } });
    expect(config.body).toMatchObject({ basePath: '/taskpulse', channel: SYSTEM_NODES_CHANNEL, nodeId: 'node-a' });
    // A forged or expired cookie is no credential.
    const forged = `${cookie.slice(0, -4)}AAAA`;
    expect((await fetch(`${t.httpUrl}/taskpulse/dashboard`, { headers: { cookie: forged } })).status).toBe(401);
  });
});

/** Posts the login form from a given local address (127.0.0.x are all this machine). */
function postLogin(httpUrl: string, key: string, localAddress: string): Promise<number> {
  const body = `key=${encodeURIComponent(key)}`;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${httpUrl}/taskpulse/dashboard/login`,
      {
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('failed logins', () => {
  it('throttle the address that guesses, not the operators logging in from elsewhere', async () => {
    const t = await dashboardHub();
    for (let i = 0; i < 20; i++) expect(await postLogin(t.httpUrl, 'wrong', '127.0.0.1')).toBe(401);
    expect(await postLogin(t.httpUrl, 'wrong', '127.0.0.1')).toBe(429);
    expect(await postLogin(t.httpUrl, OPS_KEY, '127.0.0.1')).toBe(429);
    expect(await postLogin(t.httpUrl, OPS_KEY, '127.0.0.2')).toBe(303);
  });
});

describe('session tokens', () => {
  it('expire, never contain the key, and die with their key', () => {
    let now = 1_700_000_000_000;
    const credential = createOpsCredential({ apiKeys: ['key-one', 'key-two'], sessionTtlMs: 60_000, now: () => now });
    const token = credential.issueToken();
    expect(token).not.toContain('key-one');
    expect(credential.verifyToken(token)).toBe(true);
    // Another deployment's keys do not accept it; a rotated-out key revokes it.
    expect(createOpsCredential({ apiKeys: ['key-two'], sessionTtlMs: 60_000 }).verifyToken(token, now)).toBe(false);
    expect(credential.verifyToken(token.replace(/\.(\d+)\./, (_m, exp) => `.${Number(exp) + 1}.`))).toBe(false);
    expect(credential.verifyToken('v1.x.y')).toBe(false);
    now += 60_001;
    expect(credential.verifyToken(token)).toBe(false);
    expect(credential.verifyKey('key-two')).toBe(true);
    expect(credential.verifyKey('key-three')).toBe(false);
  });
});
