/**
 * Forced fallback under continuous publishing: the hub's WebSocket upgrades are refused → SSE;
 * SSE blocked too → polling; blocks lifted → back to WebSocket. Every offset arrives exactly once,
 * in order, across every switch. Also: 503 upgrades (broker down) back off without falling back.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionState, TaskpulseClient } from '../src/index';
import { createClient } from '../src/node';
import { Collector, range, waitFor } from './helpers/collector';
import { type BrokerKit, brokerKit, startTestHub, type TestHub } from './helpers/hub';

describe.each(['memory', 'redis'] as const)('forced fallback with the %s broker', (brokerName) => {
  let kit: BrokerKit;
  let t: TestHub | undefined;
  let c: TaskpulseClient | undefined;
  beforeAll(async () => {
    kit = await brokerKit(brokerName);
  });
  afterAll(async () => {
    await kit.stop();
  });
  afterEach(async () => {
    await c?.close();
    await t?.close();
  });

  it('moves WebSocket → SSE → polling and back to WebSocket, delivering every offset exactly once', async () => {
    t = await startTestHub(kit.create());
    const hub = t;
    const transports: string[] = [];
    c = createClient({
      url: hub.url,
      token: 'user-u1',
      connectTimeoutMs: 3000,
      probeIntervalMs: 300,
      backoff: { initialDelayMs: 20, maxDelayMs: 100, healthyAfterMs: 60_000 },
      polling: { intervalMs: 50, maxIntervalMs: 100 },
    });
    const client = c;
    client.onStateChange((s: ConnectionState) => {
      if (s.transport && transports.at(-1) !== s.transport && (s.status === 'connected' || s.status === 'degraded')) {
        transports.push(s.transport);
      }
    });
    const a = new Collector();
    const b = new Collector();
    client.subscribe('task:f1', a.options());
    client.subscribe('task:f2', b.options());
    await waitFor(() => a.subscribed.length > 0 && b.subscribed.length > 0, 'subscribed over WebSocket');

    let published = 0;
    let running = true;
    const publisher = (async () => {
      while (running) {
        published++;
        await hub.broker.publish('task:f1', 'progress', { n: published });
        await hub.broker.publish('task:f2', 'progress', { n: published });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();

    await waitFor(() => a.publications.length > 3, 'publications over WebSocket');
    hub.gate.websocket = true; // the proxy stops passing WebSocket
    hub.dropAll();
    await waitFor(() => client.state.transport === 'sse' && client.state.status === 'degraded', 'SSE');
    const onSse = published;
    await waitFor(() => a.publications.length > onSse, 'publications over SSE');

    hub.gate.sse = true;
    hub.dropAll(); // cuts the SSE stream; new streams are refused
    await waitFor(() => client.state.transport === 'polling' && client.state.status === 'degraded', 'polling', 20_000);
    expect(client.state.switchedToPolling).toBe(true);
    const onPolling = published;
    await waitFor(() => a.publications.length > onPolling, 'publications over polling');

    hub.gate.sse = false;
    hub.gate.websocket = false;
    await waitFor(
      () => client.state.transport === 'websocket' && client.state.status === 'connected',
      'back to WebSocket',
      20_000,
    );
    const onWs = published;
    await waitFor(() => a.publications.length > onWs, 'publications over WebSocket');

    running = false;
    await publisher;
    await waitFor(() => a.publications.length >= published && b.publications.length >= published, 'every publication');
    expect(a.offsets()).toEqual(range(1, published));
    expect(b.offsets()).toEqual(range(1, published));
    expect(a.publications.map((p) => (p.data as { n: number }).n)).toEqual(range(1, published));
    expect(transports).toEqual(['websocket', 'sse', 'polling', 'websocket']);
    expect(a.recoveryFailed).toEqual([]);
  });

  it('treats 503 upgrades (broker down) as retryable with backoff, without falling back', async () => {
    t = await startTestHub(kit.create());
    const hub = t;
    hub.gate.websocket503 = true;
    c = createClient({
      url: hub.url,
      token: 'user-u1',
      backoff: { initialDelayMs: 5, maxDelayMs: 20, healthyAfterMs: 60_000 },
    });
    const client = c;
    const a = new Collector();
    client.subscribe('task:u', a.options());
    await waitFor(() => hub.hits.refused503 >= 6, 'six refused upgrades');
    expect(client.state.transport).toBe('websocket');
    expect(client.state.status).toBe('connecting');
    expect(client.state.liveDataAvailable).toBe(false);
    expect(client.state.error?.code).toBe('unavailable');
    expect(hub.hits.sse + hub.hits.poll).toBe(0);
    hub.gate.websocket503 = false;
    await waitFor(() => client.state.status === 'connected', 'connected once the hub accepts');
    await waitFor(() => a.subscribed.length > 0, 'subscribed');
    expect(client.state.liveDataAvailable).toBe(true);
    await hub.broker.publish('task:u', 'progress', {});
    await waitFor(() => a.publications.length === 1, 'a publication');
  });
});
