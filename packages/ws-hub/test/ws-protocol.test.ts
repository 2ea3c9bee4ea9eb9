import { PROTOCOL_VERSION, type Publication, type SubscribedFrame } from '@taskpulse/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireCodec } from '../src/dialects/index';
import { startHub, type TestHub } from './helpers/hub';
import { nextTurn, waitUntil } from './helpers/wait';
import { TestClient } from './helpers/ws-client';

describe('native WebSocket protocol', () => {
  let t: TestHub;
  const clients: TestClient[] = [];
  const connect = async () => {
    const c = await TestClient.connect(t.wsUrl);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startHub({
      heartbeatIntervalMs: 15_000,
      namespaces: {
        task: { kind: 'events' },
        processor: { kind: 'state' },
        chat: { clientPublish: true },
      },
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await t.close();
  });

  it('greets with a welcome frame carrying the client id, protocol version and heartbeat interval', async () => {
    const a = await connect();
    const b = await connect();
    expect(a.welcome).toMatchObject({
      type: 'welcome',
      protocolVersion: PROTOCOL_VERSION,
      heartbeatIntervalMs: 15_000,
    });
    expect(a.welcome.clientId).toMatch(/.+/);
    expect(b.welcome.clientId).not.toBe(a.welcome.clientId);
    expect(t.hub.stats().by_transport.websocket).toBeGreaterThanOrEqual(2);
  });

  it('subscribes, delivers live publications in order, unsubscribes', async () => {
    const c = await connect();
    const sub = await c.subscribe('task:p1');
    // The channel does not exist yet: the empty position, which the first publication continues.
    expect(sub).toMatchObject({ type: 'subscribed', channel: 'task:p1', kind: 'events', epoch: '0', offset: 0 });
    expect(sub).not.toHaveProperty('recovered');
    for (let i = 1; i <= 5; i++) await t.hub.core.publish('task:p1', 'progress', { i });
    const pubs = await c.waitForPublications('task:p1', 5);
    expect(pubs.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(pubs.map((p) => (p.data as { i: number }).i)).toEqual([1, 2, 3, 4, 5]);
    const epoch = pubs[0]?.epoch;
    expect(pubs.every((p) => p.epoch === epoch && p.event === 'progress')).toBe(true);

    const answer = await c.request({ type: 'unsubscribe', channel: 'task:p1' });
    expect(answer).toMatchObject({ type: 'unsubscribed', channel: 'task:p1' });
    await t.hub.core.publish('task:p1', 'progress', { i: 6 });
    // A ping round trip after the publish proves the publication would have arrived by now.
    await c.request({ type: 'ping' });
    expect(c.publicationsOf('task:p1')).toHaveLength(5);
    expect(t.hub.core.router.listenerCount('task:p1')).toBe(0);
  });

  it('answers app-level pings with a correlated pong', async () => {
    const c = await connect();
    expect(await c.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    c.send({ type: 'ping' });
    await c.waitForFrame((f) => f.type === 'pong' && !('id' in f), 'uncorrelated pong');
  });

  it('sends the current value of a state channel with the subscribed frame', async () => {
    await t.hub.core.publish('processor:status', 'status', { running: true, workers: 3 });
    const c = await connect();
    const sub = await c.subscribe('processor:status');
    expect(sub.kind).toBe('state');
    expect((sub.state as Publication).data).toEqual({ running: true, workers: 3 });
  });

  it('lets clients publish where the namespace allows it, and refuses elsewhere', async () => {
    const a = await connect();
    const b = await connect();
    await b.subscribe('chat:room1');
    const published = await a.request({ type: 'publish', channel: 'chat:room1', event: 'msg', data: { text: 'hi' } });
    expect(published).toMatchObject({ type: 'published', channel: 'chat:room1', offset: 1 });
    const [p] = await b.waitForPublications('chat:room1', 1);
    expect(p?.data).toEqual({ text: 'hi' });
    const refused = await a.request({ type: 'publish', channel: 'task:x', event: 'e', data: 1 });
    expect(refused).toMatchObject({ type: 'error', code: 'forbidden', channel: 'task:x' });
  });

  it('coalesces publications made in one event-loop turn into one batch frame, in order', async () => {
    const c = await connect();
    await c.subscribe('task:burst');
    const before = c.frames.length;
    // 50 publications without yielding to the event loop: one flush for all of them.
    await Promise.all(Array.from({ length: 50 }, (_, i) => t.hub.core.publish('task:burst', 'e', { i })));
    const pubs = await c.waitForPublications('task:burst', 50);
    expect(pubs.map((p) => p.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const frames = c.frames.slice(before);
    expect(frames.some((f) => f.type === 'batch')).toBe(true);
    expect(frames.length).toBeLessThan(50);
    expect(c.violations).toEqual([]);
  });

  it('sends the same batch to every subscriber of a channel', async () => {
    const subscribers = await Promise.all([connect(), connect(), connect()]);
    for (const s of subscribers) await s.subscribe('task:fan');
    await Promise.all(Array.from({ length: 20 }, (_, i) => t.hub.core.publish('task:fan', 'e', i)));
    for (const s of subscribers) {
      const pubs = await s.waitForPublications('task:fan', 20);
      expect(pubs.map((p) => p.data)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    }
    const batches = subscribers.map((s) => JSON.stringify(s.frames.filter((f) => f.type === 'batch')));
    expect(new Set(batches).size).toBe(1);
    // One broker subscription for the channel, whatever the number of local subscribers.
    expect(t.hub.core.router.channelCount).toBeGreaterThan(0);
    expect(t.hub.core.router.listenerCount('task:fan')).toBe(3);
  });

  it('keeps control frames in order with publications: subscribed precedes the recovered ones', async () => {
    const first = await t.hub.core.publish('task:order', 'e', 0);
    for (let i = 1; i < 30; i++) await t.hub.core.publish('task:order', 'e', i);
    const c = await connect();
    const since = { epoch: first.epoch, offset: 10 };
    const start = c.frames.length;
    const pending = c.subscribe('task:order', since);
    // Publish while the subscription is being set up.
    for (let i = 30; i < 40; i++) {
      await t.hub.core.publish('task:order', 'e', i);
      await nextTurn();
    }
    const sub: SubscribedFrame = await pending;
    expect(sub.recovered).toBe(true);
    await c.waitForPublications('task:order', 30);
    const frames = c.frames.slice(start);
    const subscribedAt = frames.findIndex((f) => f.type === 'subscribed');
    const firstPubAt = frames.findIndex((f) => f.type === 'publication' || f.type === 'batch');
    expect(subscribedAt).toBeGreaterThanOrEqual(0);
    expect(subscribedAt).toBeLessThan(firstPubAt);
    expect(c.publicationsOf('task:order').map((p) => p.offset)).toEqual(Array.from({ length: 30 }, (_, i) => i + 11));
    expect(c.violations).toEqual([]);
  });

  it('counts deliveries in the metrics', async () => {
    const c = await connect();
    await c.subscribe('task:metrics');
    for (let i = 0; i < 3; i++) await t.hub.core.publish('task:metrics', 'e', i);
    await c.waitForPublications('task:metrics', 3);
    let delivered = 0;
    await waitUntil(async () => {
      const text = await t.hub.metrics.registry.metrics();
      delivered = Number(/taskpulse_deliveries_total\{transport="websocket"\} (\d+)/.exec(text)?.[1] ?? 0);
      return delivered >= 3;
    }, 'deliveries metric');
    expect(delivered).toBeGreaterThanOrEqual(3);
  });
});

describe('other WebSocket settings', () => {
  it('works with per-message compression negotiated (the ws Sender path instead of pre-framed writes)', async () => {
    const t = await startHub({ perMessageDeflate: true });
    try {
      const { default: WebSocket } = await import('ws');
      const ws = new WebSocket(t.wsUrl, { perMessageDeflate: true });
      const frames: Array<{ type: string; publications?: unknown[]; offset?: number }> = [];
      ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      expect(ws.extensions).toMatch(/permessage-deflate/);
      ws.send(JSON.stringify({ type: 'subscribe', channel: 'task:z', id: 1 }));
      await waitUntil(() => frames.some((f) => f.type === 'subscribed'), 'subscribed');
      await Promise.all(Array.from({ length: 20 }, (_, i) => t.hub.core.publish('task:z', 'e', 'x'.repeat(500) + i)));
      const count = () =>
        frames.reduce(
          (n, f) => n + (f.type === 'batch' ? (f.publications?.length ?? 0) : f.type === 'publication' ? 1 : 0),
          0,
        );
      await waitUntil(() => count() === 20, '20 compressed publications');
      expect(frames.map((f) => f.type).slice(0, 2)).toEqual(['welcome', 'subscribed']);
      ws.close();
    } finally {
      await t.close();
    }
  });

  it('mounts a custom codec on its own path: its frames, its greeting, no batching', async () => {
    const bare: WireCodec = {
      name: 'bare',
      open: (_context, session) => ({
        batchable: false,
        greeting: () => '{"hello":"bare"}',
        onText: (text) => {
          // This dialect's clients just name the channel they want.
          void session.subscribe(text.trim());
        },
        encodePublication: (p) => JSON.stringify(p.pub.data),
        encodeControl: (frame) => (frame.type === 'error' ? JSON.stringify({ oops: frame.code }) : null),
      }),
    };
    const t = await startHub({ dialects: [{ path: '/bare', codec: bare }] });
    try {
      const { default: WebSocket } = await import('ws');
      const ws = new WebSocket(t.wsUrl.replace('/taskpulse/ws', '/bare'));
      const texts: string[] = [];
      ws.on('message', (data) => texts.push(data.toString()));
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      ws.send('task:bare');
      await waitUntil(() => t.hub.core.router.listenerCount('task:bare') === 1, 'the dialect subscription');
      await Promise.all([1, 2, 3].map((i) => t.hub.core.publish('task:bare', 'e', { i })));
      ws.send('not a channel!');
      await waitUntil(() => texts.length === 5, 'greeting, three publications and an error');
      expect(texts).toEqual(['{"hello":"bare"}', '{"i":1}', '{"i":2}', '{"i":3}', '{"oops":"bad_channel"}']);
      expect(t.hub.stats().by_transport).toEqual({ bare: 1 });
      ws.close();
    } finally {
      await t.close();
    }
  });
});
