import { SEED_NAMESPACES, TaskpulseError } from '@taskpulse/protocol';
import {
  MessagePriority,
  type TestQueueEnvelope,
  TestQueueEvents,
  testQueueEnvelopeSchema,
} from '@taskpulse/protocol/payloads';
import { createPublisher, createRedisBroker, type Publisher, type RedisBroker } from '@taskpulse/redis-bridge';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import {
  attachSocketIo,
  type ConnectionRequest,
  extractToken,
  type RoomReply,
  type SocketIoEndpoint,
  type SocketIoLimits,
} from '@taskpulse/ws-hub';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';
import { TestClient } from './helpers/ws-client';

/** Tokens are `user:<id>`; anything else is refused. */
function authenticate(request: ConnectionRequest) {
  const token = extractToken(request);
  if (token === null || token === undefined) return null;
  if (!token.startsWith('user:')) throw new TaskpulseError('unauthorized', 'bad token');
  return { userId: token.slice(5) };
}

let redis: RedisServer;
const closers: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await redis?.stop();
});

interface Node {
  hub: TestHub;
  sio: SocketIoEndpoint;
}

async function startNode(prefix: string, limits: Partial<SocketIoLimits> = {}): Promise<Node> {
  const broker: RedisBroker = createRedisBroker({ redis: redis.url, prefix, namespaces: SEED_NAMESPACES });
  const hub = await startHub({ broker, authenticate });
  await waitUntil(() => hub.hub.ready(), 'broker ready');
  const sio = await attachSocketIo(hub.hub, { Server, limits });
  closers.push(async () => {
    await sio.close();
    await hub.close();
    await broker.close();
  });
  return { hub, sio };
}

function client(node: Node, options: { token?: string; transports?: string[] } = {}): Socket {
  const socket = connect(node.hub.httpUrl, {
    reconnection: false,
    forceNew: true,
    ...(options.transports ? { transports: options.transports as never } : {}),
    ...(options.token ? { auth: { token: options.token } } : {}),
  });
  closers.push(() => socket.disconnect());
  return socket;
}

function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
}

function refused(socket: Socket): Promise<{ message: string; data?: { code: string; status?: number } }> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error('connected, expected a refusal')));
    socket.once('connect_error', (error) => resolve(error as never));
  });
}

function join(socket: Socket, room: unknown): Promise<RoomReply> {
  return socket.timeout(5000).emitWithAck('room:join', room) as Promise<RoomReply>;
}

/** One publication per catalogue event, each in its room (as the seed's TestQueueService sends them). */
const CATALOGUE: Array<{ room: string; event: string; data: Record<string, unknown>; priority: number }> = [
  {
    room: 'test-progress-stress_123',
    event: TestQueueEvents.TEST_STARTED,
    data: { testId: 'stress_123', testType: 'stress', url: 'https://a.test', startedAt: 1 },
    priority: 3,
  },
  {
    room: 'test-progress-stress_123',
    event: TestQueueEvents.TEST_PROGRESS,
    data: { testId: 'stress_123', progress: 50, metrics: { rps: 10 } },
    priority: 3,
  },
  {
    room: 'test-progress-stress_123',
    event: TestQueueEvents.TEST_COMPLETED,
    data: { testId: 'stress_123', status: 'completed', results: {}, completedAt: 2 },
    priority: 2,
  },
  {
    room: 'test-progress-stress_123',
    event: TestQueueEvents.TEST_FAILED,
    data: { testId: 'stress_123', error: 'x', attempts: 1 },
    priority: 2,
  },
  {
    room: 'test-progress-stress_123',
    event: TestQueueEvents.TEST_CANCELLED,
    data: { testId: 'stress_123', status: 'cancelled' },
    priority: 2,
  },
  {
    room: 'queue-updates',
    event: TestQueueEvents.QUEUE_JOB_ADDED,
    data: { jobId: '1', testId: 'stress_123' },
    priority: 3,
  },
  {
    room: 'queue-updates',
    event: TestQueueEvents.QUEUE_JOB_STARTED,
    data: { jobId: '1', testId: 'stress_123' },
    priority: 3,
  },
  { room: 'queue-updates', event: TestQueueEvents.QUEUE_JOB_PROGRESS, data: { jobId: '1', progress: 50 }, priority: 4 },
  { room: 'queue-updates', event: TestQueueEvents.QUEUE_JOB_COMPLETED, data: { jobId: '1' }, priority: 2 },
  { room: 'queue-updates', event: TestQueueEvents.QUEUE_JOB_FAILED, data: { jobId: '1', error: 'x' }, priority: 2 },
  { room: 'test-history-updates', event: TestQueueEvents.TEST_COMPLETED, data: { testId: 'stress_123' }, priority: 2 },
  {
    room: 'system-alerts',
    event: TestQueueEvents.SYSTEM_ALERT,
    data: { level: 'critical', message: 'disk full' },
    priority: MessagePriority.CRITICAL,
  },
  { room: 'system-alerts', event: TestQueueEvents.SYSTEM_MAINTENANCE_START, data: { at: 1 }, priority: 1 },
  { room: 'system-alerts', event: TestQueueEvents.SYSTEM_MAINTENANCE_END, data: { at: 2 }, priority: 1 },
  {
    room: 'user-notifications-u1',
    event: TestQueueEvents.USER_NOTIFICATION,
    data: { userId: 'u1', message: 'done' },
    priority: 2,
  },
  { room: 'user-notifications-u1', event: TestQueueEvents.USER_ONLINE, data: { userId: 'u1' }, priority: 4 },
  { room: 'user-notifications-u1', event: TestQueueEvents.USER_OFFLINE, data: { userId: 'u1' }, priority: 4 },
];
const ROOMS = [...new Set(CATALOGUE.map((c) => c.room))];

function record(socket: Socket): TestQueueEnvelope[] {
  const received: TestQueueEnvelope[] = [];
  socket.onAny((event: string, envelope: TestQueueEnvelope) => {
    if (event.startsWith('room:') || event.startsWith('connection:')) return;
    received.push({ ...envelope, event: event as TestQueueEnvelope['event'] });
  });
  return received;
}

describe('Socket.IO endpoint', () => {
  it('delivers every catalogue event in its room in the standard envelope: websocket-only, polling-then-upgrade, native, two nodes', async () => {
    const prefix = `${uniqueId('sio')}:`;
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    const publisher: Publisher = createPublisher({ redis: redis.url, prefix, namespaces: SEED_NAMESPACES });
    closers.push(() => publisher.close());

    const wsOnly = client(a, { token: 'user:u1', transports: ['websocket'] });
    const upgrading = client(b, { token: 'user:u1' });
    const transports: string[] = [];
    // Socket.IO's default: HTTP long-polling first, then the upgrade to WebSocket.
    expect(upgrading.io.engine.transport.name).toBe('polling');
    expect(wsOnly.io.engine.transport.name).toBe('websocket');
    upgrading.io.engine.on('upgrade', (t: { name: string }) => transports.push(t.name));
    await Promise.all([connected(wsOnly), connected(upgrading)]);
    const gotWs = record(wsOnly);
    const gotUp = record(upgrading);
    for (const room of ROOMS) {
      expect(await join(wsOnly, room)).toMatchObject({ ok: true, room });
      expect(await join(upgrading, room)).toMatchObject({ ok: true, room });
    }
    const native = await TestClient.connect(`${a.hub.wsUrl}?token=user:u1`);
    closers.push(() => native.close());
    for (const room of ROOMS) await native.subscribe(room.replace(/^(test-progress|user-notifications)-/, '$1:'));

    const sent: Array<{ id: string; ts: number }> = [];
    for (const [i, c] of CATALOGUE.entries()) {
      const channel = c.room.replace(/^(test-progress|user-notifications)-/, '$1:');
      const id = `msg_${i}`;
      await publisher.publish(channel, c.event, c.data, { id, priority: c.priority, ts: 1_700_000_000_000 + i });
      sent.push({ id, ts: 1_700_000_000_000 + i });
    }
    await waitUntil(
      () => gotWs.length === CATALOGUE.length && gotUp.length === CATALOGUE.length,
      'every envelope on both sockets',
    );
    await waitUntil(() => native.publications.length === CATALOGUE.length, 'every publication natively');
    for (const received of [gotWs, gotUp]) {
      const byId = new Map(received.map((e) => [e.id, e]));
      for (const [i, c] of CATALOGUE.entries()) {
        const envelope = byId.get(`msg_${i}`) as TestQueueEnvelope;
        expect(testQueueEnvelopeSchema.parse(envelope)).toEqual(envelope);
        expect(envelope).toEqual({
          id: `msg_${i}`,
          event: c.event,
          data: c.data,
          channel: c.room,
          priority: c.priority,
          timestamp: sent[i]?.ts,
          ...(c.room === 'user-notifications-u1' ? { userId: 'u1' } : {}),
        });
      }
      // Order within a room is the publish order.
      for (const room of ROOMS) {
        expect(received.filter((e) => e.channel === room).map((e) => e.id)).toEqual(
          CATALOGUE.flatMap((c, i) => (c.room === room ? [`msg_${i}`] : [])),
        );
      }
    }
    // Natively too, each channel in publish order (across channels there is no order to keep).
    for (const room of ROOMS) {
      const channel = room.replace(/^(test-progress|user-notifications)-/, '$1:');
      expect(native.publicationsOf(channel).map((p) => p.id)).toEqual(
        CATALOGUE.flatMap((c, i) => (c.room === room ? [`msg_${i}`] : [])),
      );
    }
    await waitUntil(() => upgrading.io.engine.transport.name === 'websocket', 'the default client upgraded');
    expect(transports).toContain('websocket');
    expect(a.hub.hub.stats().by_transport['socket.io']).toBe(1);

    // Leaving stops the room.
    expect(await (wsOnly.timeout(5000).emitWithAck('room:leave', 'queue-updates') as Promise<RoomReply>)).toMatchObject(
      {
        ok: true,
        room: 'queue-updates',
      },
    );
    await publisher.publish('queue-updates', TestQueueEvents.QUEUE_JOB_ADDED, { jobId: '2' }, { id: 'after-leave' });
    await publisher.publish('system-alerts', TestQueueEvents.SYSTEM_ALERT, { message: 'x' }, { id: 'marker' });
    await waitUntil(() => gotWs.some((e) => e.id === 'marker'), 'marker');
    expect(gotWs.some((e) => e.id === 'after-leave')).toBe(false);
  });

  it('enforces rooms per user, connections per user and in all, with documented errors', async () => {
    const prefix = `${uniqueId('sio')}:`;
    const node = await startNode(prefix, { maxRoomsPerUser: 3, maxConnectionsPerUser: 2, maxConnections: 3 });
    const first = client(node, { token: 'user:u1', transports: ['websocket'] });
    const second = client(node, { token: 'user:u1' });
    await Promise.all([connected(first), connected(second)]);
    // Other refusals, each with its code.
    expect((await join(first, 'user-notifications-u2')).error?.code).toBe('forbidden');
    expect((await join(first, 'Bad Room')).error?.code).toBe('bad_channel');
    expect((await join(first, 'nowhere-1')).error?.code).toBe('unknown_channel');
    expect((await join(first, 42)).error?.code).toBe('bad_request');
    expect((await first.timeout(5000).emitWithAck('room:leave', 'queue-updates')).error?.code).toBe('not_subscribed');
    expect(await join(first, 'test-progress-a')).toMatchObject({ ok: true, channel: 'test-progress:a' });
    expect(await join(second, 'test-progress-b')).toMatchObject({ ok: true });
    expect(await join(second, 'test-progress-a')).toMatchObject({ ok: true }); // same room: counted once
    expect(await join(first, 'queue-updates')).toMatchObject({ ok: true });
    expect(await join(second, 'system-alerts')).toEqual({
      ok: false,
      room: 'system-alerts',
      error: { code: 'too_many_channels', message: 'too many rooms for this user' },
    });
    // Without an ack callback the answer is a `room:error` event.
    const roomError = new Promise<RoomReply>((resolve) => first.once('room:error', resolve));
    first.emit('room:join', 'system-alerts');
    expect((await roomError).error?.code).toBe('too_many_channels');
    // Leaving frees a slot.
    await first.timeout(5000).emitWithAck('room:leave', 'queue-updates');
    expect(await join(second, 'system-alerts')).toMatchObject({ ok: true });

    const third = await refused(client(node, { token: 'user:u1' }));
    expect(third.data).toMatchObject({ code: 'too_many_connections', status: 429 });
    const bad = await refused(client(node, { token: 'nope' }));
    expect(bad.data).toMatchObject({ code: 'unauthorized' });
    const other = client(node, { token: 'user:u2' });
    await connected(other);
    const full = await refused(client(node, { token: 'user:u3' }));
    expect(full.data).toMatchObject({ code: 'too_many_connections', status: 503 });
    expect(node.sio.connectionCount()).toBe(3);
    // A disconnect frees the user's slot.
    second.disconnect();
    await waitUntil(() => node.sio.connectionCount() === 2, 'disconnect seen');
    await connected(client(node, { token: 'user:u1' }));
  });

  it('tells Socket.IO clients when the hub shuts down, and detaches cleanly', async () => {
    const node = await startNode(`${uniqueId('sio')}:`);
    const socket = client(node, { transports: ['websocket'] });
    await connected(socket);
    expect(await join(socket, 'queue-updates')).toMatchObject({ ok: true });
    const notices: Array<{ code: string }> = [];
    socket.on('connection:error', (e) => notices.push(e));
    const reason = new Promise<string>((resolve) => socket.once('disconnect', resolve));
    await node.hub.close();
    expect(await reason).toBe('io server disconnect');
    expect(notices[0]).toMatchObject({ code: 'shutting_down', closeCode: 1001 });
    await node.sio.close();
    expect(node.sio.connectionCount()).toBe(0);
  });

  it('disconnects idle connections with idle_timeout; activity keeps them', async () => {
    const node = await startNode(`${uniqueId('sio')}:`, { idleTimeoutMs: 400 });
    const idle = client(node, { transports: ['websocket'] });
    const busy = client(node, { transports: ['websocket'] });
    await Promise.all([connected(idle), connected(busy)]);
    const errors: Array<{ code: string }> = [];
    idle.on('connection:error', (e) => errors.push(e));
    const reason = new Promise<string>((resolve) => idle.once('disconnect', resolve));
    const keepAlive = setInterval(() => busy.emit('heartbeat:ping'), 100);
    closers.push(() => clearInterval(keepAlive));
    expect(await reason).toBe('io server disconnect');
    expect(errors).toEqual([{ code: 'idle_timeout', message: 'no event for 400 ms' }]);
    expect(busy.connected).toBe(true);
    clearInterval(keepAlive);
  });

  it('a client gone while its authentication is pending leaks no session, no user slot', async () => {
    // The hook answers only when released: the client disconnects meanwhile.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let asked = 0;
    const broker = createRedisBroker({ redis: redis.url, prefix: `${uniqueId('sio')}:`, namespaces: SEED_NAMESPACES });
    const hub = await startHub({
      broker,
      authenticate: async (request) => {
        asked++;
        if (asked === 1) await gate;
        return authenticate(request);
      },
    });
    await waitUntil(() => hub.hub.ready(), 'broker ready');
    const sio = await attachSocketIo(hub.hub, { Server, limits: { maxConnectionsPerUser: 1 } });
    const node: Node = { hub, sio };
    closers.push(async () => {
      await sio.close();
      await hub.close();
      await broker.close();
    });
    const early = client(node, { token: 'user:u1', transports: ['websocket'] });
    await waitUntil(() => asked === 1, 'authentication asked');
    early.disconnect();
    const engine = (sio.io as unknown as { engine: { clientsCount: number } }).engine;
    await waitUntil(() => engine.clientsCount === 0, 'the server saw the client go');
    release();
    // With a leaked slot this user's next connection would be refused (limit 1 per user).
    const later = client(node, { token: 'user:u1', transports: ['websocket'] });
    await connected(later);
    expect(sio.connectionCount()).toBe(1);
    expect(hub.hub.stats().total_clients).toBe(1);
  });

  it('disconnects a client that stops reading (a polling client that stopped polling) as a slow consumer', async () => {
    const prefix = `${uniqueId('sio')}:`;
    const node = await startNode(prefix, { maxBufferedPackets: 20 });
    const publisher = createPublisher({ redis: redis.url, prefix, namespaces: SEED_NAMESPACES });
    closers.push(() => publisher.close());
    // A raw Engine.IO polling client: handshake, connect, join a room, then never poll again.
    const base = `${node.hub.httpUrl}/socket.io/?EIO=4&transport=polling`;
    const open = await (await fetch(base)).text();
    const sid = (JSON.parse(open.slice(1)) as { sid: string }).sid;
    const url = `${base}&sid=${sid}`;
    const post = async (body: string) => expect((await fetch(url, { method: 'POST', body })).status).toBe(200);
    const poll = async () => (await fetch(url)).text();
    await post('40{"token":"user:slow"}');
    expect(await poll()).toMatch(/^40/);
    await post('42["room:join","queue-updates"]');
    let answers = '';
    while (!answers.includes('"room:joined"')) answers += await poll(); // other news may come first
    expect(answers).not.toContain('"room:error"');
    expect(node.sio.connectionCount()).toBe(1);
    for (let i = 0; i < 30; i++) {
      await publisher.publish('queue-updates', TestQueueEvents.QUEUE_JOB_ADDED, { jobId: String(i) });
    }
    await waitUntil(() => node.sio.connectionCount() === 0, 'slow consumer cut');
    expect(node.hub.hub.stats().total_clients).toBe(0);
  });

  it('runs the Engine.IO heartbeat with the seed numbers and cuts a peer that stops answering', async () => {
    const defaults = await startNode(`${uniqueId('sio')}:`);
    const quick = await startNode(`${uniqueId('sio')}:`, { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 200 });
    // A raw Engine.IO client: reads the open packet, connects the namespace, never answers pings.
    const raw = (node: Node) => {
      const ws = new WebSocket(`${node.hub.httpUrl.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
      closers.push(() => ws.terminate());
      const packets: string[] = [];
      ws.on('message', (m) => packets.push(m.toString()));
      const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
      return { ws, packets, closed };
    };
    const d = raw(defaults);
    await waitUntil(() => d.packets.length > 0, 'open packet');
    expect(JSON.parse((d.packets[0] as string).slice(1))).toMatchObject({ pingInterval: 30_000, pingTimeout: 10_000 });
    const q = raw(quick);
    await waitUntil(() => q.packets.length > 0, 'open packet');
    q.ws.send('40');
    await waitUntil(() => quick.sio.connectionCount() === 1, 'connected');
    await q.closed;
    expect(q.packets.filter((p) => p === '2').length).toBeGreaterThanOrEqual(1); // pinged, never answered
    await waitUntil(() => quick.sio.connectionCount() === 0, 'connection released');
    expect(quick.hub.hub.stats().total_clients).toBe(0);
  });
});
