/**
 * Client behaviours beyond the conformance suite, against a real hub: shared wire subscriptions,
 * the connect timeout as a fallback reason, SSE streams reopened when the channel set changes,
 * `refresh()`, `close()`, invalid channel names and options.
 */
import { createMemoryBroker } from '@taskpulse/ws-hub';
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskpulseClient } from '../src/index';
import { createClient } from '../src/node';
import { transportOrder } from '../src/options';
import { Collector, range, waitFor } from './helpers/collector';
import { CLIENT_TEST_NAMESPACES, startTestHub, type TestHub } from './helpers/hub';

describe('client behaviours', () => {
  let t: TestHub;
  let client: TaskpulseClient | undefined;
  afterEach(async () => {
    await client?.close();
    await t?.close();
  });
  const hub = async () => {
    t = await startTestHub(createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }));
    return t;
  };

  it('shares one wire subscription between handles of a channel and releases it with the last', async () => {
    await hub();
    client = createClient({ url: t.url, token: 'user-u1', transports: 'websocket' });
    const one = new Collector();
    const two = new Collector();
    const s1 = client.subscribe('task:shared', one.options());
    const s2 = client.subscribe('task:shared', two.options());
    await waitFor(() => one.subscribed.length > 0, 'subscribed');
    expect(t.hub.stats().by_channel['task:shared']).toBe(1);
    await t.broker.publish('task:shared', 'e', 1);
    await waitFor(() => one.publications.length === 1 && two.publications.length === 1, 'both handles');
    s1.unsubscribe();
    s1.unsubscribe(); // idempotent
    await t.broker.publish('task:shared', 'e', 2);
    await waitFor(() => two.publications.length === 2, 'the remaining handle');
    expect(one.publications.length).toBe(1);
    expect(t.hub.stats().by_channel['task:shared']).toBe(1);
    s2.unsubscribe();
    await waitFor(() => (t.hub.stats().by_channel['task:shared'] ?? 0) === 0, 'the wire unsubscribe');
    expect(one.errors.concat(two.errors)).toEqual([]);
  });

  it('counts connect timeouts (no welcome) toward fallback', async () => {
    await hub();
    t.gate.websocketHang = true;
    client = createClient({
      url: t.url,
      token: 'user-u1',
      connectTimeoutMs: 150,
      backoff: { initialDelayMs: 10, maxDelayMs: 20 },
      probeIntervalMs: 0,
    });
    const c = client;
    const got = new Collector();
    c.subscribe('task:timeout', got.options());
    await waitFor(() => c.state.transport === 'sse' && c.state.status === 'degraded', 'SSE after three timeouts');
    expect(t.hits.hung).toBe(3);
    expect(c.state.error).toBeNull();
    await t.broker.publish('task:timeout', 'e', {});
    await waitFor(() => got.publications.length === 1, 'a publication over SSE');
  });

  it('falls back from an idle SSE transport once its first stream turns out to be blocked', async () => {
    await hub();
    t.gate.websocket = true;
    t.gate.sse = true;
    client = createClient({
      url: t.url,
      token: 'user-u1',
      backoff: { initialDelayMs: 10, maxDelayMs: 20 },
      probeIntervalMs: 0,
    });
    const c = client;
    // No channel yet: SSE has nothing to stream and counts as working.
    await waitFor(() => c.state.transport === 'sse' && c.state.status === 'degraded', 'idle SSE');
    const got = new Collector();
    c.subscribe('task:late', got.options());
    await waitFor(() => c.state.transport === 'polling', 'polling once SSE streams fail');
    await waitFor(() => got.subscribed.length > 0, 'the first poll of the channel');
    await t.broker.publish('task:late', 'e', {});
    await waitFor(() => got.publications.length === 1, 'a publication over polling');
    expect(c.state.switchedToPolling).toBe(true);
  });

  it('reopens the SSE stream from its positions when channels are added and removed', async () => {
    await hub();
    client = createClient({ url: t.url, token: 'user-u1', transports: 'sse' });
    const c = client;
    const a = new Collector();
    const b = new Collector();
    c.subscribe('task:sa', a.options());
    await waitFor(() => a.subscribed.length > 0, 'a subscribed');
    for (let i = 0; i < 3; i++) await t.broker.publish('task:sa', 'e', i);
    await waitFor(() => a.publications.length === 3, 'three on a');
    const streams = t.hits.sse;
    const sb = c.subscribe('task:sb', b.options());
    await waitFor(() => b.subscribed.length > 0, 'b subscribed');
    expect(t.hits.sse).toBe(streams + 1);
    for (let i = 0; i < 2; i++) await t.broker.publish('task:sa', 'e', i);
    await t.broker.publish('task:sb', 'e', 0);
    await waitFor(() => a.publications.length === 5 && b.publications.length === 1, 'both channels');
    sb.unsubscribe();
    await waitFor(() => t.hits.sse === streams + 2, 'a stream without b');
    await t.broker.publish('task:sa', 'e', 9);
    await waitFor(() => a.publications.length === 6, 'a after the reopen');
    expect(a.offsets()).toEqual(range(1, 6));
    expect(a.subscribed.slice(1).every((s) => s.recovered === true)).toBe(true);
  });

  it('polls with ETag: a quiet channel is answered 304, new data 200', async () => {
    await hub();
    client = createClient({
      url: t.url,
      token: 'user-u1',
      transports: 'polling',
      polling: { intervalMs: 30, maxIntervalMs: 60 },
    });
    const got = new Collector();
    client.subscribe('task:etag', got.options());
    await waitFor(() => got.subscribed.length > 0, 'the first poll');
    await waitFor(() => t.hits.notModified >= 3, 'three 304 answers');
    await t.broker.publish('task:etag', 'e', { n: 1 });
    await waitFor(() => got.publications.length === 1, 'the publication');
    const after = t.hits.notModified;
    await waitFor(() => t.hits.notModified > after, 'a 304 for the new position');
    await t.broker.publish('task:etag', 'e', { n: 2 });
    await waitFor(() => got.publications.length === 2, 'the next publication');
    expect(got.offsets()).toEqual([1, 2]);
  });

  it('sends a poll too long for a URL as a POST body', async () => {
    await hub();
    client = createClient({ url: t.url, token: 'user-u1', transports: 'polling', polling: { intervalMs: 30 } });
    const names = Array.from({ length: 40 }, (_, i) => `task:${'k'.repeat(100)}-${i}`);
    const collectors = names.map((name) => {
      const col = new Collector();
      client?.subscribe(name, col.options());
      return col;
    });
    await waitFor(() => collectors.every((col) => col.subscribed.length > 0), 'every channel polled');
    for (const name of [names[0], names[39]]) await t.broker.publish(name as string, 'e', { name });
    await waitFor(
      () => collectors[0]?.publications.length === 1 && collectors[39]?.publications.length === 1,
      'publications through POST polls',
    );
    expect(t.hits.pollPost).toBeGreaterThan(0);
    expect(collectors.flatMap((col) => col.errors)).toEqual([]);
  });

  it('long-polls all channels in one waiting request when waitMs is set', async () => {
    await hub();
    client = createClient({
      url: t.url,
      token: 'user-u1',
      transports: 'polling',
      polling: { intervalMs: 30_000, waitMs: 20_000 },
    });
    const c = client;
    const a = new Collector();
    const b = new Collector();
    c.subscribe('task:la', a.options());
    c.subscribe('task:lb', b.options());
    await waitFor(() => a.subscribed.length > 0 && b.subscribed.length > 0, 'the first poll');
    expect(c.state.pollingIntervalMs).toBe(0);
    const polls = t.hits.poll;
    // With 30 s intervals only a waiting request can bring these within the test's time.
    await t.broker.publish('task:lb', 'e', {});
    await waitFor(() => b.publications.length === 1, 'the publication through the waiting poll');
    await t.broker.publish('task:la', 'e', {});
    await waitFor(() => a.publications.length === 1, 'the next one');
    expect(t.hits.poll - polls).toBeLessThanOrEqual(3);
  });

  it('refresh() reads the current state over HTTP and delivers it via onState', async () => {
    await hub();
    await t.broker.publish('status:r', 'status', { v: 1 });
    client = createClient({ url: t.url, token: 'user-u1', transports: 'websocket' });
    const got = new Collector();
    const sub = client.subscribe('status:r', got.options());
    await waitFor(() => got.states.length === 1, 'the state');
    const latest = await sub.refresh();
    expect(latest?.data).toEqual({ v: 1 });
    expect(got.states.length).toBe(2);
    const denied = new Collector();
    const other = client.subscribe('user:someone-else', denied.options());
    expect(await other.refresh()).toBeNull();
    expect(denied.errors.map((e) => e.code)).toContain('forbidden');
  });

  it('reports an invalid channel name without sending it, and close() releases everything', async () => {
    await hub();
    client = createClient({ url: t.url, token: 'user-u1', transports: 'websocket' });
    const c = client;
    const bad = new Collector();
    const good = new Collector();
    c.subscribe('Not A Channel', bad.options());
    c.subscribe('task:ok', good.options());
    await waitFor(() => bad.errors.length > 0 && good.subscribed.length > 0, 'the error and the good channel');
    expect(bad.errors[0]?.code).toBe('bad_channel');
    expect(t.hub.stats().total_clients).toBe(1);
    const seen: string[] = [];
    c.onStateChange((s) => seen.push(s.status));
    await c.close();
    expect(c.state.status).toBe('closed');
    expect(seen).toEqual(['closed']);
    await waitFor(() => t.hub.stats().total_clients === 0, 'the connection to close');
  });

  it('forcePolling: true polls even when WebSocket is requested and works', async () => {
    await hub();
    client = createClient({
      url: t.url,
      token: 'user-u1',
      transports: 'websocket',
      forcePolling: true,
      polling: { intervalMs: 50 },
    });
    const c = client;
    const got = new Collector();
    c.subscribe('task:forced', got.options());
    await waitFor(() => got.subscribed.length === 1, 'the first poll');
    await t.broker.publish('task:forced', 'e', 1);
    await waitFor(() => got.publications.length === 1, 'the publication');
    expect(c.state.transport).toBe('polling');
    expect(t.hits.websocket).toBe(0);
    expect(t.hits.poll).toBeGreaterThan(0);
  });

  it('takes the transport from ?taskpulse-transport= unless allowUrlOverride is false; forcePolling wins', () => {
    const g = globalThis as { location?: unknown };
    const saved = g.location;
    try {
      g.location = { search: '?x=1&taskpulse-transport=polling' };
      expect(transportOrder({ url: 'http://x' })).toEqual({ order: ['polling'], auto: false });
      expect(transportOrder({ url: 'http://x', allowUrlOverride: false }).order).toEqual([
        'websocket',
        'sse',
        'polling',
      ]);
      g.location = { search: '?taskpulse-transport=websocket' };
      expect(transportOrder({ url: 'http://x', forcePolling: true }).order).toEqual(['polling']);
      g.location = { search: '?taskpulse-transport=carrier-pigeon' };
      expect(transportOrder({ url: 'http://x', transports: 'sse' }).order).toEqual(['sse']);
    } finally {
      g.location = saved;
    }
  });

  it('rejects bad options with a TypeError naming them', () => {
    expect(() => createClient({ url: 'not a url' })).toThrow(/url must be an absolute/);
    expect(() => createClient({ url: 'ftp://x' })).toThrow(/http or https/);
    expect(() => createClient({ url: 'http://x', transports: ['carrier-pigeon' as 'sse'] })).toThrow(/transports/);
    expect(() => createClient({ url: 'http://x', connectTimeoutMs: -1 })).toThrow(/connectTimeoutMs/);
    expect(() => createClient({ url: 'http://x', polling: { whenHidden: 'sleep' as 'pause' } })).toThrow(/whenHidden/);
    expect(() => createClient({ url: 'http://x', backoff: { multiplier: 0.5 } })).toThrow(/multiplier/);
  });
});
