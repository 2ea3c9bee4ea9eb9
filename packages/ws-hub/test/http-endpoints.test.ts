import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SEED_NAMESPACES } from '@taskpulse/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpHandler, createHubCore, createMemoryBroker, type HttpHandler } from '../src/index';
import { call, SseStream, testAuthenticate } from './fixtures/http-client';
import { startHub, TEST_NAMESPACES, type TestHub } from './helpers/hub';
import { activeListeners } from './helpers/listeners';
import { waitUntil } from './helpers/wait';

const PUBLISH_KEY = 'pk-test-123';
const OPS_KEY = 'ops-test-456';

let t: TestHub;
let url: (path: string) => string;

beforeAll(async () => {
  t = await startHub({
    authenticate: testAuthenticate,
    namespaces: { ...SEED_NAMESPACES, secret: { access: 'none' } },
    allowUnknownNamespaces: false,
    allowedOrigins: ['https://app.example'],
    http: { publishApiKeys: [PUBLISH_KEY], opsApiKeys: [OPS_KEY], maxUrlBytes: 2048 },
  });
  url = (path) => `${t.httpUrl}/taskpulse${path}`;
});

afterAll(async () => {
  await t.close();
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('channel reads', () => {
  it('reads history: latest N, or after a position', async () => {
    for (let i = 1; i <= 5; i++) await t.hub.core.publish('task:h1', 'progress', { i });
    const latest = await call(url('/channels/task:h1/history?limit=2'));
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({ channel: 'task:h1', kind: 'events', offset: 5, recovered: true });
    expect(latest.body.publications.map((p: { offset: number }) => p.offset)).toEqual([4, 5]);
    const { epoch } = latest.body;
    const since = await call(
      url(`/channels/${encodeURIComponent('task:h1')}/history?since_epoch=${epoch}&since_offset=1&limit=2`),
    );
    expect(since.body.publications.map((p: { offset: number }) => p.offset)).toEqual([2, 3]);
    const stale = await call(url('/channels/task:h1/history?since_epoch=old&since_offset=1'));
    expect(stale.body.recovered).toBe(false);
  });

  it('reads state with an ETag; If-None-Match answers 304 until it changes', async () => {
    await t.hub.core.publish('processor:status', 'status', { running: true });
    const a = await call(url('/channels/processor:status/state'));
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ channel: 'processor:status', kind: 'state', latest: { data: { running: true } } });
    const etag = a.headers.get('etag') as string;
    expect((await call(url('/channels/processor:status/state'), { headers: { 'if-none-match': etag } })).status).toBe(
      304,
    );
    await t.hub.core.publish('processor:status', 'status', { running: false });
    const b = await call(url('/channels/processor:status/state'), { headers: { 'if-none-match': etag } });
    expect(b.status).toBe(200);
    expect(b.body.latest.data).toEqual({ running: false });
  });

  it('isolates users: 42 reads user:42 but never user:43', async () => {
    await t.hub.core.publish('user:43', 'note', { secret: true });
    for (const path of ['/channels/user:43/history', '/channels/user:43/state']) {
      const denied = await call(url(path), { headers: bearer('u42') });
      expect(denied.status).toBe(403);
      expect(denied.body.error.code).toBe('forbidden');
      expect(denied.text).not.toContain('secret');
      expect((await call(url(path))).status).toBe(403);
      expect((await call(url(path.replace('43', '42')), { headers: bearer('u42') })).status).toBe(200);
    }
    expect((await call(url('/channels/secret:1/state'), { headers: bearer('u42') })).status).toBe(403);
  });

  it('answers bad reads with a clear 4xx', async () => {
    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['/channels/Bad Name/state', {}, 400, 'bad_channel'],
      ['/channels/nope:1/state', {}, 404, 'unknown_channel'],
      ['/channels/task:1/history?limit=-1', {}, 400, 'bad_request'],
      ['/channels/task:1/history?limit=100000', {}, 400, 'bad_request'],
      ['/channels/task:1/history?since_epoch=e', {}, 400, 'bad_request'],
      ['/channels/task:1/history?since_epoch=e&since_offset=x', {}, 400, 'bad_request'],
      ['/channels/task:1/history?since_epoch=&since_offset=1', {}, 400, 'bad_request'],
      ['/channels/%E0%A4%A/state', {}, 400, 'bad_channel'],
      ['/channels/task:1/state', bearer('bad'), 401, 'unauthorized'],
      ['/channels/task:1/other', {}, 404, 'not_found'],
      [`/channels/task:1/history?pad=${'x'.repeat(3000)}`, {}, 414, 'bad_request'],
    ];
    for (const [path, headers, status, code] of cases) {
      const res = await call(url(path), { headers });
      expect({ path: path.slice(0, 60), status: res.status, code: res.body?.error?.code }).toEqual({
        path: path.slice(0, 60),
        status,
        code,
      });
    }
    const unauthorized = await call(url('/channels/task:1/state'), { headers: bearer('bad') });
    expect(unauthorized.headers.get('www-authenticate')).toBe('Bearer');
  });
});

describe('publish endpoint', () => {
  it('publishes with an API key (Bearer or X-API-Key), singly or in a batch', async () => {
    const a = await call(url('/publish'), {
      headers: bearer(PUBLISH_KEY),
      body: { channel: 'task:pub', event: 'progress', data: { p: 10 }, id: 'm1', priority: 3 },
    });
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ channel: 'task:pub', offset: 1 });
    const b = await call(url('/publish'), {
      headers: { 'x-api-key': PUBLISH_KEY },
      body: {
        publications: [
          { channel: 'task:pub', event: 'progress', data: { p: 20 } },
          { channel: 'user:9', event: 'n', data: null },
        ],
      },
    });
    expect(b.body.results.map((r: { offset: number }) => r.offset)).toEqual([2, 1]);
    const history = await t.hub.core.broker.history('task:pub');
    expect(history.publications.map((p) => p.data)).toEqual([{ p: 10 }, { p: 20 }]);
    expect(history.publications[0]).toMatchObject({ id: 'm1', priority: 3 });
  });

  it('refuses missing or wrong keys and bad bodies', async () => {
    const ok = bearer(PUBLISH_KEY);
    const cases: Array<[Record<string, string>, unknown, number, string]> = [
      [{}, { channel: 'task:1', event: 'e', data: 1 }, 401, 'unauthorized'],
      [bearer('wrong'), { channel: 'task:1', event: 'e', data: 1 }, 401, 'unauthorized'],
      [{ 'x-api-key': `${PUBLISH_KEY}x` }, { channel: 'task:1', event: 'e', data: 1 }, 401, 'unauthorized'],
      [ok, '{not json', 400, 'bad_request'],
      [ok, '', 400, 'bad_request'],
      [ok, { channel: 'bad name', event: 'e', data: 1 }, 400, 'bad_channel'],
      [ok, { channel: 'nope:1', event: 'e', data: 1 }, 404, 'unknown_channel'],
      [ok, { channel: 'task:1', event: '', data: 1 }, 400, 'bad_request'],
      [ok, { channel: 'task:1', event: 'e' }, 400, 'bad_request'],
      [ok, { channel: 'task:1', event: 'e', data: 1, priority: 9 }, 400, 'bad_request'],
      [ok, { publications: [] }, 400, 'bad_request'],
      [ok, { channel: 'task:1', event: 'e', data: 'x'.repeat(70_000) }, 413, 'payload_too_large'],
      [ok, { channel: 'task:1', event: 'e', data: 'x'.repeat(1_100_000) }, 413, 'frame_too_large'],
    ];
    for (const [headers, body, status, code] of cases) {
      const res = await call(url('/publish'), { method: 'POST', headers, body });
      expect({ body: JSON.stringify(body).slice(0, 50), status: res.status, code: res.body?.error?.code }).toEqual({
        body: JSON.stringify(body).slice(0, 50),
        status,
        code,
      });
    }
    expect((await call(url('/publish'), { headers: ok })).status).toBe(405);
  });

  it('is disabled (403) without configured keys', async () => {
    const other = await startHub({});
    const res = await call(`${other.httpUrl}/taskpulse/publish`, {
      headers: bearer('any'),
      body: { channel: 'task:1', event: 'e', data: 1 },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    await other.close();
  });
});

describe('operations endpoints', () => {
  it('serves stats (total, by user, project, channel, transport) behind the ops key', async () => {
    const s = await SseStream.open(url('/sse?channel=project:7&token=u42.p7'));
    await s.waitFor((x) => x.frames().some((f) => f.type === 'subscribed'), 'subscribed');
    expect((await call(url('/stats'))).status).toBe(401);
    const stats = await call(url('/stats'), { headers: { 'x-api-key': OPS_KEY } });
    expect(stats.body).toMatchObject({
      total_clients: 1,
      by_user: { '42': 1 },
      by_project: { '7': 1 },
      by_channel: { 'project:7': 1 },
      by_transport: { sse: 1 },
    });
    s.close();
    await waitUntil(() => t.hub.stats().total_clients === 0, 'stream closed');
  });

  it('serves healthz, readyz and Prometheus metrics', async () => {
    expect((await call(url('/healthz'))).body).toEqual({ status: 'ok' });
    expect((await call(url('/readyz'))).body).toEqual({ status: 'ready', broker: 'ready' });
    await call(url('/channels/nope:1/state'));
    // One publication delivered over SSE and one over polling, so both transports have counts.
    const s = await SseStream.open(url('/sse?channel=task:m'));
    await s.waitFor((x) => x.frames().some((f) => f.type === 'subscribed'), 'subscribed');
    const before = await call(url('/poll?channel=task:m'));
    await t.hub.core.publish('task:m', 'progress', { p: 1 });
    await s.waitFor((x) => x.publications().length === 1, 'publication');
    s.close();
    expect(
      (await call(url(`/poll?channel=task:m&since=${before.body.cursor}`))).body.channels['task:m'].publications,
    ).toHaveLength(1);
    const metrics = await fetch(url('/metrics'), { headers: bearer(OPS_KEY) });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    for (const name of [
      'taskpulse_connections',
      'taskpulse_subscriptions',
      'taskpulse_publications_in_total',
      'taskpulse_deliveries_total{transport="sse"}',
      'taskpulse_deliveries_total{transport="poll"}',
      'taskpulse_publishes_total{source="http"}',
      'taskpulse_slow_consumer_disconnects_total',
      'taskpulse_subscribe_outcomes_total',
      'taskpulse_errors_total{code="unknown_channel"}',
    ]) {
      expect(text, name).toContain(name);
    }
    // counted in a plain number and handed to prom-client at scrape time: once each
    expect(text).toMatch(/^taskpulse_publications_in_total 1$/m);
    await t.hub.core.publish('task:m', 'progress', { p: 2 });
    await waitUntil(async () => {
      const again = await (await fetch(url('/metrics'), { headers: bearer(OPS_KEY) })).text();
      return /^taskpulse_publications_in_total 2$/m.test(again);
    }, 'the second publication counted');
    const third = await (await fetch(url('/metrics'), { headers: bearer(OPS_KEY) })).text();
    expect(third).toMatch(/^taskpulse_publications_in_total 2$/m);
    expect((await call(url('/metrics'))).status).toBe(401);
  });

  it('answers 503 on readyz when the broker is down, with an error body', async () => {
    const broker = createMemoryBroker({ namespaces: TEST_NAMESPACES });
    const core = createHubCore({ broker });
    const handler = createHttpHandler(core);
    const server = createServer((req, res) => void handler.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/taskpulse`;
    expect((await call(`${base}/readyz`)).status).toBe(200);
    await broker.close();
    const down = await call(`${base}/readyz`);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'not_ready', broker: 'closed', error: { code: 'unavailable' } });
    expect(down.headers.get('retry-after')).toBe('1');
    // Reads fail with 503 `unavailable`, not 500.
    const read = await call(`${base}/channels/task:1/state`);
    expect(read.status).toBe(503);
    expect(read.body.error.code).toBe('unavailable');
    await handler.close();
    await core.close();
    await new Promise<void>((r) => server.close(() => r()));
  });
});

describe('CORS, routing and limits', () => {
  it('answers preflights and echoes allowed origins with credentials; refuses others', async () => {
    const pre = await fetch(url('/poll'), {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(pre.headers.get('access-control-allow-credentials')).toBe('true');
    expect(pre.headers.get('access-control-allow-headers')).toContain('Last-Event-ID');
    const get = await call(url('/channels/task:1/state'), { headers: { origin: 'https://app.example' } });
    expect(get.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(get.headers.get('access-control-expose-headers')).toContain('ETag');
    const evil = await call(url('/channels/task:1/state'), { headers: { origin: 'https://evil.example' } });
    expect(evil.status).toBe(403);
    expect(evil.body.error.code).toBe('forbidden');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const evilPre = await fetch(url('/poll'), { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
    expect(evilPre.status).toBe(403);
  });

  it('allows any origin without credentials when no allowlist is configured', async () => {
    const open = await startHub({});
    const res = await call(`${open.httpUrl}/taskpulse/healthz`, { headers: { origin: 'https://x.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    await open.close();
  });

  it('answers unknown paths under the base with 404 and leaves other paths to the server', async () => {
    const missing = await call(url('/nothing'));
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const core = createHubCore({ namespaces: TEST_NAMESPACES });
    const handler: HttpHandler = createHttpHandler(core, { basePath: '/rt/' });
    let fallthrough = 0;
    const server: Server = createServer(async (req, res) => {
      if (!(await handler.handle(req, res))) {
        fallthrough++;
        res.writeHead(418).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await call(`${base}/rt/healthz`)).status).toBe(200);
    expect((await call(`${base}/taskpulse/healthz`)).status).toBe(418);
    expect((await call(`${base}/rtx/healthz`)).status).toBe(418);
    expect(fallthrough).toBe(2);
    await handler.close();
    await core.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('ends SSE streams and long polls on close', async () => {
    const hub = await startHub({});
    const s = await SseStream.open(`${hub.httpUrl}/taskpulse/sse?channel=task:c`);
    await s.waitFor((x) => x.frames().some((f) => f.type === 'subscribed'), 'subscribed');
    const first = await call(`${hub.httpUrl}/taskpulse/poll?channel=task:c`);
    const pending = call(`${hub.httpUrl}/taskpulse/poll?channel=task:c&wait=30000&since=${first.body.cursor}`);
    await waitUntil(() => activeListeners(hub.hub.core, 'task:c') === 2, 'long poll waiting');
    await hub.close();
    await s.ended;
    const answered = await pending;
    expect(answered.status).toBe(200);
    expect(answered.body.channels['task:c'].publications).toEqual([]);
  });
});
