/**
 * The connection manager's clock-driven rules with fake timers (the only mock): backoff growth,
 * reset only after a healthy period, reconnect at once on `online`, and polling that slows down
 * or pauses on hidden pages. Sockets and the hub are real.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMemoryBroker } from '@taskpulse/ws-hub';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import type { ClientEnvironment, ClientLogger, EnvironmentListener, TaskpulseClient } from '../src/index';
import { createClient } from '../src/node';
import { CLIENT_TEST_NAMESPACES, startTestHub, type TestHub } from './helpers/hub';

/** Lets real I/O run while timers are fake. */
async function io(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20_000; i++) {
    if (condition()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}

function recordingLogger(delays: number[]): ClientLogger {
  const noop = () => {};
  return {
    debug: (_m, fields) => {
      if (typeof fields?.delayMs === 'number') delays.push(fields.delayMs);
    },
    info: noop,
    warn: noop,
    error: noop,
  };
}

class TestEnvironment implements ClientEnvironment {
  hidden = false;
  online = true;
  listener: EnvironmentListener | undefined;
  isHidden = () => this.hidden;
  isOnline = () => this.online;
  listen(listener: EnvironmentListener) {
    this.listener = listener;
    return () => {
      this.listener = undefined;
    };
  }
  setHidden(hidden: boolean) {
    this.hidden = hidden;
    this.listener?.visibility(hidden);
  }
  setOnline(online: boolean) {
    this.online = online;
    this.listener?.connectivity(online);
  }
}

describe('reconnect timing (fake timers)', () => {
  let server: Server;
  let wss: WebSocketServer;
  const sockets: WsSocket[] = [];
  const received: string[] = [];
  let heartbeatIntervalMs = 0;
  /** Close codes the server sends right after `welcome`, one per connection. */
  const closeAfterWelcome: number[] = [];
  let url: string;
  let client: TaskpulseClient | undefined;

  beforeEach(async () => {
    server = createServer();
    wss = new WebSocketServer({ server, path: '/taskpulse/ws' });
    heartbeatIntervalMs = 0;
    received.length = 0;
    closeAfterWelcome.length = 0;
    wss.on('connection', (socket) => {
      sockets.push(socket);
      socket.on('message', (data) => received.push(String(data)));
      socket.send(
        JSON.stringify({ type: 'welcome', clientId: `c${sockets.length}`, protocolVersion: 1, heartbeatIntervalMs }),
      );
      const code = closeAfterWelcome.shift();
      if (code !== undefined) socket.close(code, 'token expired');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await client?.close();
    for (const s of sockets.splice(0)) s.terminate();
    wss.close();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('grows the delay while connections die young and resets it after a healthy period', async () => {
    const delays: number[] = [];
    client = createClient({
      url,
      transports: 'websocket',
      backoff: { initialDelayMs: 1000, maxDelayMs: 30_000, jitter: 'none', healthyAfterMs: 10_000 },
      logger: recordingLogger(delays),
    });
    const c = client;
    await io(() => c.state.status === 'connected' && sockets.length === 1, 'first connection');
    sockets[0]?.close(1000, 'bye'); // a server that accepts, then closes
    await io(() => delays.length === 1, 'first retry');
    expect(c.state.status).toBe('connecting');
    vi.advanceTimersByTime(999);
    await io(() => true, 'nothing');
    expect(sockets.length).toBe(1);
    vi.advanceTimersByTime(1);
    await io(() => sockets.length === 2 && c.state.status === 'connected', 'second connection');
    sockets[1]?.close(1000, 'bye');
    await io(() => delays.length === 2, 'second retry');
    vi.advanceTimersByTime(2000);
    await io(() => sockets.length === 3 && c.state.status === 'connected', 'third connection');
    vi.advanceTimersByTime(10_000); // healthy now
    sockets[2]?.close(1000, 'bye');
    await io(() => delays.length === 3, 'third retry');
    expect(delays).toEqual([1000, 2000, 1000]);
  });

  it('pings a quiet line after one heartbeat interval and drops a connection that does not answer', async () => {
    heartbeatIntervalMs = 5000;
    const delays: number[] = [];
    client = createClient({
      url,
      transports: 'websocket',
      backoff: { initialDelayMs: 1000, jitter: 'none' },
      logger: recordingLogger(delays),
    });
    const c = client;
    await io(() => c.state.status === 'connected', 'connected');
    vi.advanceTimersByTime(4999);
    await io(() => true, 'nothing');
    expect(received).toEqual([]);
    vi.advanceTimersByTime(1);
    await io(() => received.length === 1, 'a ping');
    expect(JSON.parse(received[0] ?? '{}')).toEqual({ type: 'ping' });
    vi.advanceTimersByTime(5000); // this server never answers
    await io(() => delays.length === 1, 'the dead connection to be dropped');
    expect(c.state.status).toBe('connecting');
    expect(c.state.error?.code).toBe('timeout');
  });

  it('refreshes the token at once when a working connection is closed with 4401', async () => {
    closeAfterWelcome.push(4401);
    const tokens: string[] = [];
    client = createClient({
      url,
      transports: 'websocket',
      getToken: () => {
        tokens.push(`t${tokens.length + 1}`);
        return tokens.at(-1);
      },
    });
    const c = client;
    await io(() => sockets.length === 2 && c.state.status === 'connected', 'reconnected with a new token');
    expect(tokens).toEqual(['t1', 't2']);
  });

  it('reports unauthorized when the refreshed token is refused too', async () => {
    closeAfterWelcome.push(4401, 4401);
    client = createClient({ url, transports: 'websocket', getToken: () => 'stale' });
    const c = client;
    await io(() => c.state.status === 'unauthorized', 'unauthorized');
    expect(sockets.length).toBe(2);
    expect(c.state.error?.code).toBe('unauthorized');
    vi.advanceTimersByTime(120_000);
    await io(() => true, 'nothing');
    expect(sockets.length).toBe(2); // no retry loop
  });

  it('reconnects at once on the online event and shows offline while the browser is offline', async () => {
    const delays: number[] = [];
    const env = new TestEnvironment();
    client = createClient({
      url,
      transports: 'websocket',
      backoff: { initialDelayMs: 20_000, jitter: 'none' },
      logger: recordingLogger(delays),
      platform: { environment: env },
    });
    const c = client;
    await io(() => c.state.status === 'connected', 'connected');
    env.setOnline(false);
    expect(c.state.status).toBe('offline');
    sockets[0]?.close(1000, 'bye');
    await io(() => delays.length === 1, 'a retry scheduled');
    expect(delays).toEqual([20_000]);
    env.setOnline(true); // no timer advanced
    await io(() => sockets.length === 2 && c.state.status === 'connected', 'reconnected at once');
  });
});

describe('polling and page visibility (fake timers)', () => {
  let t: TestHub;
  let client: TaskpulseClient | undefined;
  beforeEach(async () => {
    t = await startTestHub(createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(async () => {
    vi.useRealTimers();
    await client?.close();
    await t.close();
  });

  it('polls half as often while hidden (slow) and at once when visible again', async () => {
    const env = new TestEnvironment();
    client = createClient({
      url: t.url,
      token: 'user-u1',
      transports: 'polling',
      polling: { intervalMs: 5000, idleBackoffFactor: 1 },
      platform: { environment: env },
    });
    const c = client;
    c.subscribe('task:v', {});
    await io(() => c.state.status === 'connected' && c.state.pollingIntervalMs === 5000, 'polling');
    const before = t.hits.poll;
    env.setHidden(true);
    expect(c.state.pollingIntervalMs).toBe(10_000);
    vi.advanceTimersByTime(9_000);
    await io(() => true, 'nothing');
    // The poll in flight finished before the change; the next one waits for the hidden interval.
    expect(t.hits.poll).toBeLessThanOrEqual(before + 1);
    const hiddenHits = t.hits.poll;
    env.setHidden(false);
    await io(() => t.hits.poll > hiddenHits, 'a poll at once when visible');
    expect(c.state.pollingIntervalMs).toBe(5000);
  });

  it('pauses polling while hidden with whenHidden: pause', async () => {
    const env = new TestEnvironment();
    client = createClient({
      url: t.url,
      token: 'user-u1',
      transports: 'polling',
      polling: { intervalMs: 3000, whenHidden: 'pause' },
      platform: { environment: env },
    });
    const c = client;
    c.subscribe('task:p', {});
    await io(() => c.state.status === 'connected', 'polling');
    await io(() => c.state.pollingIntervalMs !== null, 'an interval');
    env.setHidden(true);
    expect(c.state.pollingIntervalMs).toBeNull();
    await io(() => true, 'settle');
    const paused = t.hits.poll;
    vi.advanceTimersByTime(120_000);
    await io(() => true, 'nothing');
    expect(t.hits.poll).toBe(paused);
    await t.broker.publish('task:p', 'progress', { n: 1 });
    const got: number[] = [];
    c.subscribe('task:p', { onPublication: (p) => got.push(p.offset) });
    env.setHidden(false);
    await io(() => got.length === 1, 'the publication made while paused, at once');
    expect(t.hits.poll).toBeGreaterThan(paused);
  });
});
