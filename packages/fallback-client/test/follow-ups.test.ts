/**
 * Follow-ups of the review: a subscribe the hub answers `unavailable` is retried per channel with
 * backoff (never a storm) and at once when the hub says live data is back; `refresh()` never
 * goes back to an older state; the subprotocol, 4426 and JWT expiry; the small API rules.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type Broker, TaskpulseError, WS_SUBPROTOCOL } from '@taskpulse/protocol';
import { createJwtAuthenticator, createMemoryBroker } from '@taskpulse/ws-hub';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket } from 'ws';
import type { ClientEnvironment, EnvironmentListener, TaskpulseClient } from '../src/index';
import { createClient } from '../src/node';
import { resolveOptions } from '../src/options';
import { CLIENT_SUBPROTOCOL } from '../src/transports/websocket';
import type { WebSocketConstructor } from '../src/types';
import { Collector, waitFor } from './helpers/collector';
import { CLIENT_TEST_NAMESPACES, startTestHub, type TestHub } from './helpers/hub';

/** A memory broker that can be switched "down": not ready, and every read/subscribe refused. */
function switchableBroker(): { broker: Broker; down: { value: boolean }; calls: { value: number } } {
  const inner = createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES });
  const down = { value: false };
  const calls = { value: 0 };
  const refuse = () => Promise.reject(new TaskpulseError('unavailable', 'broker down (test)'));
  const broker: Broker = {
    publish: (...a) => inner.publish(...a),
    subscribe: (...a) => {
      calls.value++;
      return down.value ? refuse() : inner.subscribe(...a);
    },
    history: (...a) => (down.value ? refuse() : inner.history(...a)),
    state: (...a) => (down.value ? refuse() : inner.state(...a)),
    namespaceOptions: (c) => inner.namespaceOptions(c),
    status: () => (down.value ? 'down' : inner.status()),
    close: () => inner.close(),
  };
  return { broker, down, calls };
}

const SECRET = 'client-expiry-test-secret-long-enough-for-hs256';
/** A real HS256 JWT for `sub`, expiring in `seconds`. */
const jwt = (sub: string, seconds: number) =>
  new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + seconds)
    .sign(new TextEncoder().encode(SECRET));

describe('review follow-ups', () => {
  let t: TestHub | undefined;
  const clients: TaskpulseClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await t?.close();
  });

  it('retries with backoff (no storm) and subscribes once live data is back', async () => {
    const { broker, down, calls } = switchableBroker();
    t = await startTestHub(broker, { brokerCheckIntervalMs: 50 });
    const c = createClient({
      url: t.url,
      token: 'user-u1',
      transports: 'websocket',
      backoff: { initialDelayMs: 300, maxDelayMs: 5000 },
    });
    clients.push(c);
    await waitFor(() => c.state.status === 'connected', 'connected');
    // The broker dies after the welcome, before the hub answers the subscribe.
    down.value = true;
    const a = new Collector();
    c.subscribe('task:storm', a.options());
    await waitFor(() => calls.value >= 2, 'a retried subscribe');
    await new Promise((r) => setTimeout(r, 1300));
    // Before the fix: ~75 subscribes in 1.3 s, then `rate_limited` and never again.
    expect(calls.value).toBeLessThanOrEqual(6);
    expect(a.subscribed).toEqual([]);
    const before = calls.value;
    down.value = false; // the hub sends {"type":"live","available":true}
    await waitFor(() => a.subscribed.length === 1, 'subscribed after live data resumed');
    expect(calls.value).toBeGreaterThan(before);
    await t.broker.publish('task:storm', 'progress', { i: 1 });
    await waitFor(() => a.publications.length === 1, 'the publication');
    expect(a.publications[0]?.data).toEqual({ i: 1 });
    expect(c.state.status).toBe('connected');
  });

  it('refresh() never hands onState a state older than a publication already delivered', async () => {
    t = await startTestHub(createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }));
    const hub = t;
    await hub.broker.publish('status:r', 'status', { v: 1 });
    let hold: Promise<void> | null = null;
    let release = () => {};
    let bodyRead = false;
    const c = createClient({
      url: hub.url,
      token: 'user-u1',
      transports: 'websocket',
      platform: {
        fetch: async (input, init) => {
          const response = await fetch(input, init);
          if (!String(input).endsWith('/state') || hold === null) return response;
          const body = await response.text(); // the state as it was when read: v1
          bodyRead = true;
          await hold;
          return new Response(body, { status: response.status, headers: response.headers });
        },
      },
    });
    clients.push(c);
    const got = new Collector();
    const sub = c.subscribe('status:r', got.options());
    await waitFor(() => got.states.length === 1, 'the state on subscribe');
    hold = new Promise<void>((r) => {
      release = r;
    });
    const refreshed = sub.refresh();
    await waitFor(() => bodyRead, 'the HTTP read');
    await hub.broker.publish('status:r', 'status', { v: 2 });
    await waitFor(() => got.publications.length === 1, 'the newer publication');
    release();
    const result = await refreshed;
    expect(result?.offset).toBe(2);
    expect(got.states.at(-1)?.latest?.offset).toBe(2);
    expect(got.states.map((s) => s.latest?.offset)).toEqual([1, 2]);
    expect(sub.latest?.data).toEqual({ v: 2 });
  });

  it('offers the taskpulse.v1 subprotocol, which the hub selects', async () => {
    expect(CLIENT_SUBPROTOCOL).toBe(WS_SUBPROTOCOL);
    t = await startTestHub(createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }));
    const offered: unknown[] = [];
    const sockets: NodeWebSocket[] = [];
    class Spy extends NodeWebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        offered.push(protocols);
        sockets.push(this);
      }
    }
    const c = createClient({
      url: t.url,
      token: 'user-u1',
      transports: 'websocket',
      platform: { WebSocket: Spy as unknown as WebSocketConstructor },
    });
    clients.push(c);
    await waitFor(() => c.state.status === 'connected', 'connected');
    expect(offered).toEqual([[WS_SUBPROTOCOL]]);
    expect(sockets[0]?.protocol).toBe(WS_SUBPROTOCOL);
  });

  it('close 4426 (unsupported version) is an error state, not a retry loop', async () => {
    t = await startTestHub(createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }));
    class Old extends NodeWebSocket {
      constructor(url: string) {
        super(url, ['taskpulse.v0']); // a client of a version the hub does not speak
      }
    }
    const errors: string[] = [];
    const c = createClient({
      url: t.url,
      token: 'user-u1',
      transports: 'auto',
      backoff: { initialDelayMs: 20, maxDelayMs: 50 },
      platform: { WebSocket: Old as unknown as WebSocketConstructor },
      onError: (e) => errors.push(e.code),
    });
    clients.push(c);
    await waitFor(() => c.state.error?.code === 'unsupported_version', 'the unsupported_version error');
    await new Promise((r) => setTimeout(r, 500));
    expect(t.hits.websocket).toBe(1);
    expect(t.hits.sse + t.hits.poll).toBe(0);
    expect(c.state.status).toBe('offline');
    expect(c.state.transport).toBeNull();
    expect(errors).toContain('unsupported_version');
  });

  it('JWT expiry: close 4401 → getToken() → reconnect, every time, resuming without loss', async () => {
    const auth = createJwtAuthenticator({ secret: SECRET, clockToleranceMs: 0 });
    t = await startTestHub(createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }), { authenticate: auth });
    const hub = t;
    let calls = 0;
    const statuses = new Set<string>();
    const c = createClient({
      url: hub.url,
      transports: 'websocket',
      backoff: { initialDelayMs: 20, maxDelayMs: 100 },
      getToken: () => {
        calls++;
        return jwt('u1', 2);
      },
    });
    clients.push(c);
    c.onStateChange((s) => statuses.add(s.status));
    const got = new Collector();
    c.subscribe('task:jwt', got.options());
    await waitFor(() => got.subscribed.length === 1, 'subscribed');
    let n = 0;
    // Publishes across two expiries (tokens live 1–2 s: shorter than healthyAfterMs).
    while (hub.hits.websocket < 3) {
      await hub.broker.publish('task:jwt', 'progress', { i: ++n });
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(() => c.state.status === 'connected', 'connected again');
    await hub.broker.publish('task:jwt', 'progress', { i: ++n });
    await waitFor(() => got.publications.length === n, `all ${n} publications`);
    expect(got.offsets()).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(statuses.has('unauthorized')).toBe(false);
  });

  it('refreshes a JWT in place before it expires when the hub supports it (no reconnect)', async () => {
    const auth = createJwtAuthenticator({ secret: SECRET, clockToleranceMs: 0 });
    t = await startTestHub(createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }), {
      authenticate: auth,
      verifyToken: auth.verifyToken,
    });
    let calls = 0;
    const c = createClient({
      url: t.url,
      transports: 'websocket',
      getToken: () => {
        calls++;
        return jwt('u1', 2);
      },
    });
    clients.push(c);
    const got = new Collector();
    c.subscribe('task:inplace', got.options());
    await waitFor(() => got.subscribed.length === 1, 'subscribed');
    await waitFor(() => calls >= 3, 'two refreshes in place', 10_000);
    await t.broker.publish('task:inplace', 'progress', { i: 1 });
    await waitFor(() => got.publications.length === 1, 'the publication');
    expect(t.hits.websocket).toBe(1);
    expect(got.subscribed).toHaveLength(1);
    expect(c.state.status).toBe('connected');
  });

  it('the @taskpulse/source condition gives Node code the Node entry (SSE without injection)', async () => {
    t = await startTestHub(createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }));
    await t.broker.publish('status:source', 'status', { up: true });
    const packageDir = join(import.meta.dirname, '..');
    const child = spawn(
      process.execPath,
      ['--conditions=@taskpulse/source', '--import', 'tsx', join(packageDir, 'test/fixtures/source-client.ts'), t.url],
      { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, out, err }).toMatchObject({ code: 0 });
    expect(out).toContain('entry node\n');
    expect(out).toContain('state {"up":true}\n');
  });

  it('clamps the user-chosen polling interval to 3–30 s', () => {
    const interval = (userIntervalMs: number) =>
      resolveOptions({ url: 'http://127.0.0.1:1', polling: { userIntervalMs } }).polling.intervalMs;
    expect(interval(500)).toBe(3000);
    expect(interval(12_000)).toBe(12_000);
    expect(interval(600_000)).toBe(30_000);
    expect(() => interval(Number.NaN)).toThrow(/polling.userIntervalMs/);
    // The developer's own intervalMs is not clamped (tests, dashboards on a LAN).
    expect(resolveOptions({ url: 'http://127.0.0.1:1', polling: { intervalMs: 40 } }).polling.intervalMs).toBe(40);
  });

  it('a long poll honours the hidden page: slowed (no held request) while hidden, at once when visible', async () => {
    t = await startTestHub(createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }));
    const hub = t;
    let listener: EnvironmentListener | undefined;
    let hidden = false;
    const environment: ClientEnvironment = {
      isHidden: () => hidden,
      isOnline: () => true,
      listen: (l) => {
        listener = l;
        return () => {
          listener = undefined;
        };
      },
    };
    const c = createClient({
      url: hub.url,
      token: 'user-u1',
      transports: 'polling',
      polling: { intervalMs: 3000, waitMs: 20_000, whenHidden: 'slow', hiddenMultiplier: 2 },
      platform: { environment },
    });
    clients.push(c);
    const got = new Collector();
    c.subscribe('task:lp', got.options());
    await waitFor(() => c.state.status === 'connected', 'polling');
    await hub.broker.publish('task:lp', 'progress', { i: 1 });
    await waitFor(() => got.publications.length === 1, 'the first publication (long poll)');
    expect(c.state.pollingIntervalMs).toBe(0); // long-polling
    hidden = true;
    listener?.visibility(true);
    expect(c.state.pollingIntervalMs).toBeGreaterThanOrEqual(6000);
    await hub.broker.publish('task:lp', 'progress', { i: 2 });
    await new Promise((r) => setTimeout(r, 800));
    // Before: the long poll held open kept a hidden page at full speed (delivered at once).
    expect(got.publications).toHaveLength(1);
    hidden = false;
    listener?.visibility(false);
    await waitFor(() => got.publications.length === 2, 'the publication at once when visible');
    expect(got.offsets()).toEqual([1, 2]);
  });

  it('subscribe() after close() returns an inert handle whose onError gets `closed`', async () => {
    t = await startTestHub(createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }));
    const c = createClient({ url: t.url, token: 'user-u1', transports: 'websocket' });
    await waitFor(() => c.state.status === 'connected', 'connected');
    await c.close();
    const got = new Collector();
    const sub = c.subscribe('task:late', got.options());
    await waitFor(() => got.errors.length === 1, 'the closed error');
    expect(got.errors[0]?.code).toBe('closed');
    expect(sub.kind).toBeNull();
    expect(await sub.refresh()).toBeNull();
    expect(got.errors.map((e) => e.code)).toEqual(['closed', 'closed']);
    sub.unsubscribe();
    expect(c.state.status).toBe('closed');
    expect(t.hub.stats().total_clients).toBe(0);
  });

  it('since on an already-subscribed channel is ignored: the shared position wins (documented)', async () => {
    t = await startTestHub(createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }));
    const c = createClient({ url: t.url, token: 'user-u1', transports: 'websocket' });
    clients.push(c);
    const first = new Collector();
    c.subscribe('task:shared', first.options());
    await waitFor(() => first.subscribed.length === 1, 'subscribed');
    await t.broker.publish('task:shared', 'progress', { i: 1 });
    await waitFor(() => first.publications.length === 1, 'the first publication');
    const second = new Collector();
    const sub = c.subscribe('task:shared', second.options({ since: { epoch: 'other', offset: 0 } }));
    await t.broker.publish('task:shared', 'progress', { i: 2 });
    await waitFor(() => second.publications.length === 1, 'the next publication');
    expect(second.offsets()).toEqual([2]);
    expect(sub.position?.offset).toBe(2);
    expect(first.offsets()).toEqual([1, 2]);
  });
});
