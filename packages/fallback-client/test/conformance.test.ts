/**
 * One conformance suite, run through this client for every transport (WebSocket, SSE, polling)
 * against a real hub on port 0, with the in-memory broker and with a real redis-server.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ClientOptions, TaskpulseClient, TransportName } from '../src/index';
import { createClient } from '../src/node';
import { Collector, range, waitFor } from './helpers/collector';
import { type BrokerKit, brokerKit, startTestHub, type TestHub } from './helpers/hub';

const TRANSPORTS: TransportName[] = ['websocket', 'sse', 'polling'];

describe.each(['memory', 'redis'] as const)('conformance with the %s broker', (brokerName) => {
  let kit: BrokerKit;
  let t: TestHub;
  const clients: TaskpulseClient[] = [];

  beforeAll(async () => {
    kit = await brokerKit(brokerName);
  });
  afterAll(async () => {
    await kit.stop();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await t?.close();
  });

  const client = (transport: TransportName, options: Partial<ClientOptions> = {}) => {
    const c = createClient({
      url: t.url,
      token: 'user-u1',
      transports: transport,
      connectTimeoutMs: 5000,
      backoff: { initialDelayMs: 20, maxDelayMs: 150, healthyAfterMs: 500 },
      polling: { intervalMs: 40, maxIntervalMs: 120 },
      ...options,
    });
    clients.push(c);
    return c;
  };
  const hub = async () => {
    t = await startTestHub(kit.create());
    return t;
  };
  const publish = (channel: string, n: number, event = 'progress') =>
    (async () => {
      for (let i = 0; i < n; i++) await t.broker.publish(channel, event, { i });
    })();

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('subscribes, receives every publication once in order, and unsubscribes', async () => {
      await hub();
      const c = client(transport);
      const a = new Collector();
      const marker = new Collector();
      const sub = c.subscribe('task:a', a.options());
      c.subscribe('task:marker', marker.options());
      await waitFor(() => a.subscribed.length > 0 && marker.subscribed.length > 0, 'subscribed');
      expect(c.state.status).toBe('connected');
      expect(c.state.transport).toBe(transport);
      expect(sub.kind).toBe('events');
      await publish('task:a', 5);
      await waitFor(() => a.publications.length >= 5, 'five publications');
      expect(a.offsets()).toEqual(range(1, 5));
      expect(a.publications[4]?.data).toEqual({ i: 4 });
      expect(sub.position?.offset).toBe(5);
      sub.unsubscribe();
      await publish('task:a', 2);
      await publish('task:marker', 1);
      await waitFor(() => marker.publications.length >= 1, 'the marker');
      // The marker went out after the two publications: an active subscription would have had them.
      expect(a.offsets()).toEqual(range(1, 5));
    });

    it('delivers the state of a state channel on subscribe, and the cached value to a later subscriber', async () => {
      await hub();
      await t.broker.publish('status:w', 'status', { running: true, n: 1 });
      await t.broker.publish('status:w', 'status', { running: true, n: 2 });
      const c = client(transport);
      const first = new Collector();
      c.subscribe('status:w', first.options());
      await waitFor(() => first.states.length > 0, 'the state');
      expect(first.states[0]?.latest?.data).toEqual({ running: true, n: 2 });
      expect(first.states[0]?.recovered).toBeUndefined();
      const second = new Collector();
      const sub2 = c.subscribe('status:w', second.options());
      await waitFor(() => second.states.length > 0, 'the cached state');
      expect(second.states[0]?.latest?.offset).toBe(2);
      expect(sub2.latest?.data).toEqual({ running: true, n: 2 });
      await t.broker.publish('status:w', 'status', { running: false, n: 3 });
      await waitFor(() => first.publications.length > 0 && second.publications.length > 0, 'the next value');
      expect(second.publications[0]?.data).toEqual({ running: false, n: 3 });
    });

    it('resumes after a dropped connection with every publication exactly once', async () => {
      await hub();
      const c = client(transport);
      const a = new Collector();
      c.subscribe('task:r', a.options());
      await waitFor(() => a.subscribed.length > 0, 'subscribed');
      await publish('task:r', 3);
      await waitFor(() => a.publications.length >= 3, 'three publications');
      t.gate.all = true;
      t.dropAll();
      await waitFor(() => c.state.status !== 'connected', 'the drop to be noticed');
      await publish('task:r', 4); // published while the client is away
      t.gate.all = false;
      await waitFor(() => a.publications.length >= 7, 'the missed publications');
      await publish('task:r', 2);
      await waitFor(() => a.publications.length >= 9, 'live publications after the resume');
      expect(a.offsets()).toEqual(range(1, 9));
      expect(a.recoveryFailed).toEqual([]);
      expect(a.subscribed.at(-1)?.recovered).toBe(true);
      expect(c.state.status).toBe('connected');
    });

    it('says recovered: false when the gap is older than the history, with the current state', async () => {
      await hub();
      const c = client(transport);
      const events = new Collector();
      const state = new Collector();
      c.subscribe('short:g', events.options());
      c.subscribe('status:g', state.options());
      await waitFor(() => events.subscribed.length > 0 && state.subscribed.length > 0, 'subscribed');
      await publish('short:g', 1);
      await t.broker.publish('status:g', 'status', { v: 1 });
      await waitFor(() => events.publications.length >= 1 && state.publications.length >= 1, 'first publications');
      t.gate.all = true;
      t.dropAll();
      await waitFor(() => c.state.status !== 'connected', 'the drop to be noticed');
      await publish('short:g', 5); // history keeps 2: offsets 2..4 are gone
      t.gate.all = false;
      await waitFor(() => events.recoveryFailed.length > 0, 'the recovery failure signal');
      expect(events.recoveryFailed[0]).toMatchObject({ channel: 'short:g', offset: 6, state: null });
      await publish('short:g', 1);
      await waitFor(() => events.publications.length >= 2, 'a live publication after the reset');
      expect(events.offsets()).toEqual([1, 7]);
      // The state channel resumed (nothing lost there).
      expect(state.recoveryFailed).toEqual([]);
    });

    it('refuses bad credentials with the unauthorized status, without falling back', async () => {
      await hub();
      const c = client(transport, { token: 'garbage' });
      const a = new Collector();
      c.subscribe('task:x', a.options());
      await waitFor(() => c.state.status === 'unauthorized', 'the unauthorized status');
      expect(c.state.error?.code).toBe('unauthorized');
      expect(c.state.transport).toBe(transport);
    });

    it('calls getToken() again after a refusal and connects with the new token', async () => {
      await hub();
      const tokens = ['expired', 'user-u1'];
      let calls = 0;
      const c = client(transport, { getToken: () => tokens[Math.min(calls++, 1)] ?? null });
      const a = new Collector();
      c.subscribe('user:u1', a.options());
      await waitFor(() => a.subscribed.length > 0, 'subscribed with the refreshed token');
      expect(calls).toBeGreaterThanOrEqual(2);
      await publish('user:u1', 2);
      await waitFor(() => a.publications.length >= 2, 'publications');
      expect(a.offsets()).toEqual([1, 2]);
      expect(c.state.status).toBe('connected');
    });

    it('sends data that fails the schema to onError, never to onPublication', async () => {
      await hub();
      const c = client(transport);
      const a = new Collector<{ progress: number }>();
      const errors: string[] = [];
      c.subscribe('task:s', a.options({ schema: z.object({ progress: z.number() }) }));
      await waitFor(() => a.subscribed.length > 0, 'subscribed');
      await t.broker.publish('task:s', 'progress', { progress: 'half' });
      await t.broker.publish('task:s', 'progress', { progress: 50 });
      await waitFor(() => a.publications.length >= 1, 'the valid publication');
      errors.push(...a.errors.map((e) => e.code));
      expect(errors).toEqual(['bad_data']);
      expect(a.publications.map((p) => p.data)).toEqual([{ progress: 50 }]);
      expect(a.publications[0]?.offset).toBe(2);
    });

    it('reports a channel the user may not read to its subscription and keeps the others', async () => {
      await hub();
      const c = client(transport);
      const mine = new Collector();
      const theirs = new Collector();
      c.subscribe('user:u1', mine.options());
      c.subscribe('user:u2', theirs.options());
      await waitFor(() => theirs.errors.length > 0, 'the forbidden error');
      expect(theirs.errors[0]?.code).toBe('forbidden');
      await waitFor(() => mine.subscribed.length > 0, 'the allowed channel');
      await publish('user:u1', 1);
      await publish('user:u2', 1);
      await waitFor(() => mine.publications.length >= 1, 'a publication on the allowed channel');
      expect(theirs.publications).toEqual([]);
      expect(c.state.status).toBe('connected');
    });
  });
});
