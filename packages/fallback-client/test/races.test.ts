/**
 * Races and resource handling found in review, against a real hub on port 0: a channel
 * unsubscribed and subscribed again in one tick, concurrent `getToken()` calls, a hub restart
 * (must not push the client down to polling), and `close()` leaving no timer, listener or socket.
 */
import { createRedisBroker } from '@taskpulse/redis-bridge';
import { startRedis, uniqueId } from '@taskpulse/testkit';
import { createMemoryBroker } from '@taskpulse/ws-hub';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientEnvironment, TaskpulseClient, TransportName } from '../src/index';
import { createClient } from '../src/node';
import { Collector, waitFor } from './helpers/collector';
import { CLIENT_TEST_NAMESPACES, startTestHub, type TestHub } from './helpers/hub';

const TRANSPORTS: TransportName[] = ['websocket', 'sse', 'polling'];
const memory = () => createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES });

describe('races and resources', () => {
  let t: TestHub | undefined;
  let client: TaskpulseClient | undefined;
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await t?.close();
    t = undefined;
  });

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('gives a channel unsubscribed and subscribed again in one tick its state (a remounted component)', async () => {
      const hub = await startTestHub(memory());
      t = hub;
      await hub.broker.publish('status:remount', 'status', { v: 1 });
      client = createClient({ url: hub.url, token: 'user-u1', transports: transport, polling: { intervalMs: 100 } });
      const first = new Collector();
      const sub = client.subscribe('status:remount', first.options());
      await waitFor(() => first.states.length === 1, 'the first state');
      sub.unsubscribe();
      const second = new Collector();
      client.subscribe('status:remount', second.options());
      await waitFor(() => second.states.length > 0, 'the state for the new subscription');
      expect(second.states[0]?.latest?.data).toEqual({ v: 1 });
      await hub.broker.publish('status:remount', 'status', { v: 2 });
      await waitFor(() => second.publications.length === 1, 'the next publication');
      expect(second.publications[0]?.data).toEqual({ v: 2 });
      expect(first.publications).toEqual([]);
      expect(second.errors).toEqual([]);
    });

    it('delivers the current state when a state channel resumes from a saved position (since)', async () => {
      const hub = await startTestHub(memory());
      t = hub;
      await hub.broker.publish('status:saved', 'status', { v: 1 });
      await hub.broker.publish('status:saved', 'status', { v: 2 });
      const saved = (await hub.broker.state('status:saved')) as { epoch: string; offset: number };
      client = createClient({ url: hub.url, token: 'user-u1', transports: transport, polling: { intervalMs: 100 } });
      const got = new Collector();
      client.subscribe('status:saved', got.options({ since: { epoch: saved.epoch, offset: saved.offset } }));
      await waitFor(() => got.states.length === 1, 'the state');
      expect(got.states[0]).toMatchObject({ latest: { data: { v: 2 }, offset: 2 }, recovered: true });
      expect(got.subscribed[0]?.recovered).toBe(true);
      await hub.broker.publish('status:saved', 'status', { v: 3 });
      await waitFor(() => got.publications.length === 1, 'the next publication');
      expect(got.publications[0]?.offset).toBe(3);
    });

    it('close() leaves no timer, environment listener or connection behind', async () => {
      const hub = await startTestHub(memory());
      t = hub;
      // Timers created by the client's code that neither fired nor were cleared.
      const pending = new Map<unknown, string>();
      const realSet = globalThis.setTimeout;
      const realClear = globalThis.clearTimeout;
      globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
        const stack = new Error().stack ?? '';
        const id: unknown = realSet(() => {
          pending.delete(id);
          fn(...args);
        }, ms);
        // The caller (the line after this wrapper) is the client's own code, not a library's.
        if (stack.split('\n')[2]?.includes('fallback-client/src')) pending.set(id, stack);
        return id;
      }) as typeof setTimeout;
      globalThis.clearTimeout = ((id: Parameters<typeof clearTimeout>[0]) => {
        pending.delete(id);
        realClear(id);
      }) as typeof clearTimeout;
      let listening = 0;
      const environment: ClientEnvironment = {
        isHidden: () => false,
        isOnline: () => true,
        listen: () => {
          listening++;
          return () => {
            listening--;
          };
        },
      };
      try {
        const c = createClient({
          url: hub.url,
          token: 'user-u1',
          transports: transport,
          polling: { intervalMs: 50 },
          probeIntervalMs: 50,
          platform: { environment },
        });
        client = c;
        const got = new Collector();
        c.subscribe('task:leak', got.options());
        c.subscribe('status:leak', new Collector().options());
        await waitFor(() => got.subscribed.length > 0, 'subscribed');
        await hub.broker.publish('task:leak', 'e', 1);
        await waitFor(() => got.publications.length === 1, 'a publication');
        expect(listening).toBe(1);
        expect(pending.size).toBeGreaterThan(0); // the client does have timers to release
        await c.close();
        expect(listening).toBe(0);
        expect([...pending.values()]).toEqual([]);
        await waitFor(() => hub.hub.stats().total_clients === 0, 'the hub to see the connection closed');
      } finally {
        globalThis.setTimeout = realSet;
        globalThis.clearTimeout = realClear;
      }
    });
  });

  it('waits out a 429 rate_limited poll (Retry-After) without reconnecting, losing or repeating', async () => {
    const hub = await startTestHub(memory(), { http: { readRateLimit: { perSecond: 1, burst: 2 } } });
    t = hub;
    const errors: string[] = [];
    const statuses: string[] = [];
    client = createClient({
      url: hub.url,
      token: 'user-u1',
      transports: 'polling',
      polling: { intervalMs: 10, maxIntervalMs: 10 },
      // Seen either way: reported by a poller that waits, or logged as the failure of one that reconnects.
      logger: {
        debug: () => {},
        info: () => {},
        error: () => {},
        warn: (_message, fields) => errors.push(String(fields?.code)),
      },
    });
    const c = client;
    c.onStateChange((s) => {
      if (statuses.at(-1) !== s.status) statuses.push(s.status);
    });
    const got = new Collector();
    c.subscribe('task:limited', got.options());
    await waitFor(() => got.subscribed.length === 1, 'the first poll');
    for (let i = 1; i <= 3; i++) await hub.broker.publish('task:limited', 'e', i);
    await waitFor(() => errors.includes('rate_limited'), 'a 429 from the hub');
    await waitFor(() => got.publications.length === 3, 'every publication', 20_000);
    expect(got.offsets()).toEqual([1, 2, 3]);
    expect(got.subscribed.length).toBe(1);
    expect(statuses.slice(statuses.indexOf('connected'))).toEqual(['connected']); // never reconnected
  });

  it('does not keep a new channel waiting for a long poll of the old channel set', async () => {
    const hub = await startTestHub(memory());
    t = hub;
    await hub.broker.publish('status:late', 'status', { v: 1 });
    client = createClient({ url: hub.url, token: 'user-u1', transports: 'polling', polling: { waitMs: 20_000 } });
    const c = client;
    const first = new Collector();
    c.subscribe('task:waiting', first.options());
    await waitFor(() => first.subscribed.length === 1, 'the first poll');
    await new Promise((r) => setTimeout(r, 200)); // the long poll is now waiting at the hub
    const late = new Collector();
    c.subscribe('status:late', late.options());
    await waitFor(() => late.states.length === 1, 'the new channel, well before the long poll ends', 5000);
    expect(late.states[0]?.latest?.data).toEqual({ v: 1 });
    await hub.broker.publish('task:waiting', 'e', 1);
    await waitFor(() => first.publications.length === 1, 'the first channel still polled');
    expect(first.subscribed.length).toBe(1);
  });

  it('keeps polling through a Redis outage (503): live data off and on, no reconnect, nothing lost', async () => {
    const redis = await startRedis({ persistence: true });
    try {
      const namespaces = CLIENT_TEST_NAMESPACES;
      const prefix = `${uniqueId('poll503')}:`;
      const hub = await startTestHub(createRedisBroker({ redis: redis.url, prefix, namespaces }));
      t = hub;
      const worker = createRedisBroker({ redis: redis.url, prefix, namespaces });
      const statuses: string[] = [];
      const live: boolean[] = [];
      client = createClient({
        url: hub.url,
        token: 'user-u1',
        transports: 'polling',
        polling: { intervalMs: 50, maxIntervalMs: 50 },
        backoff: { initialDelayMs: 50, maxDelayMs: 200 },
      });
      const c = client;
      c.onStateChange((s) => {
        if (statuses.at(-1) !== s.status) statuses.push(s.status);
        if (live.at(-1) !== s.liveDataAvailable) live.push(s.liveDataAvailable);
      });
      const got = new Collector();
      c.subscribe('task:outage', got.options());
      await waitFor(() => got.subscribed.length === 1, 'the first poll');
      await worker.publish('task:outage', 'e', 1);
      await waitFor(() => got.publications.length === 1, 'the first publication');
      await redis.kill();
      await waitFor(() => !c.state.liveDataAvailable, 'liveDataAvailable: false (503 polls)', 45_000);
      await redis.restart();
      await waitFor(
        async () => {
          try {
            await worker.publish('task:outage', 'e', 2);
            return true;
          } catch {
            return false;
          }
        },
        'a publish after the restart',
        45_000,
      );
      await worker.publish('task:outage', 'e', 3);
      await waitFor(
        () => c.state.liveDataAvailable && got.publications.length === 3,
        'live again, every publication',
        45_000,
      );
      expect(got.offsets()).toEqual([1, 2, 3]);
      expect(got.subscribed.length).toBe(1);
      expect(statuses.slice(statuses.indexOf('connected'))).toEqual(['connected']);
      expect(live).toEqual([true, false, true]);
      await worker.close();
    } finally {
      await client?.close();
      client = undefined;
      await t?.close();
      t = undefined;
      await redis.stop();
    }
  }, 120_000);

  it('gives up on a poll nobody answers after connectTimeoutMs and polls again', async () => {
    const hub = await startTestHub(memory());
    t = hub;
    hub.gate.pollHang = true;
    client = createClient({
      url: hub.url,
      token: 'user-u1',
      transports: 'polling',
      connectTimeoutMs: 300,
      polling: { intervalMs: 50 },
      backoff: { initialDelayMs: 20, maxDelayMs: 50 },
    });
    const c = client;
    const got = new Collector();
    c.subscribe('task:hang', got.options());
    await waitFor(() => c.state.error?.code === 'timeout' && hub.hits.poll >= 2, 'a timed-out poll and a new one');
    hub.gate.pollHang = false;
    await waitFor(() => got.subscribed.length === 1, 'the first answered poll');
    await hub.broker.publish('task:hang', 'e', 1);
    await waitFor(() => got.publications.length === 1, 'the publication');
    expect(c.state.status).toBe('connected');
  });

  it('shares one getToken() call between concurrent reads (no refresh storm)', async () => {
    const hub = await startTestHub(memory());
    t = hub;
    let calls = 0;
    client = createClient({
      url: hub.url,
      transports: 'websocket',
      getToken: async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 30));
        return 'user-u1';
      },
    });
    const c = client;
    const subs = Array.from({ length: 20 }, (_, i) => c.subscribe(`status:storm${i}`, new Collector().options()));
    await waitFor(() => c.state.status === 'connected', 'connected');
    const before = calls;
    const results = await Promise.all(subs.map((s) => s.refresh()));
    expect(results).toEqual(subs.map(() => null));
    expect(calls - before).toBeLessThanOrEqual(2);
  });

  it('stays on WebSocket while the hub is down and restarts (no fallback when HTTP fails too)', async () => {
    const first = await startTestHub(memory());
    t = first;
    const port = first.port;
    let wsFailures = 0;
    const seen = new Set<string>();
    const noop = () => {};
    client = createClient({
      url: first.url,
      token: 'user-u1',
      backoff: { initialDelayMs: 20, maxDelayMs: 100 },
      logger: {
        debug: noop,
        info: noop,
        error: noop,
        warn: (message) => {
          if (message.includes('websocket failed')) wsFailures++;
        },
      },
    });
    const c = client;
    c.onStateChange((s) => {
      if (s.transport) seen.add(s.transport);
    });
    const got = new Collector();
    c.subscribe('task:restart', got.options());
    await waitFor(() => c.state.status === 'connected' && got.subscribed.length === 1, 'connected');
    await first.close();
    t = undefined;
    await waitFor(() => wsFailures >= 5, 'five failed WebSocket attempts while the hub is down');
    expect(c.state.transport).toBe('websocket');
    t = await startTestHub(memory(), { listenPort: port });
    await waitFor(() => c.state.status === 'connected' && got.subscribed.length === 2, 'back on WebSocket');
    expect([...seen]).toEqual(['websocket']);
  });
});
