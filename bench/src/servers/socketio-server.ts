/**
 * The mainstream peer: Socket.IO 4.8 with `@socket.io/redis-adapter`, websocket transport only.
 * Each client joins the room(s) named by its `?channel=` query; the publisher is a Socket.IO
 * server with the same adapter (and no HTTP listener) calling `io.to(room).emit(…)`, so every
 * publication travels through Redis the way a multi-node Socket.IO deployment sends it.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import type { BenchPublisher, PublisherOptions, RunningServer, ServerStartOptions, Variant } from './types';

/** The event name every publication is emitted as. */
export const SOCKETIO_EVENT = 'm';

async function redisPair(url: string): Promise<[Redis, Redis]> {
  const pub = new Redis(url, { lazyConnect: true });
  const sub = new Redis(url, { lazyConnect: true });
  await Promise.all([pub.connect(), sub.connect()]);
  return [pub, sub];
}

async function startServer(options: ServerStartOptions): Promise<RunningServer> {
  const [pub, sub] = await redisPair(options.redisUrl);
  const http = createServer();
  const io = new Server(http, {
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: false,
    pingInterval: options.heartbeatIntervalMs,
    adapter: createAdapter(pub, sub),
  });
  io.on('connection', (socket) => {
    const channel = socket.handshake.query.channel;
    for (const room of Array.isArray(channel) ? channel : channel ? [channel] : []) socket.join(room);
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve);
  });
  const address = http.address();
  if (typeof address !== 'object' || address === null) throw new Error('socket.io server has no address');
  return {
    port: address.port,
    path: '/socket.io/',
    connections: () => io.engine.clientsCount,
    async close() {
      await io.close();
      pub.disconnect();
      sub.disconnect();
    },
  };
}

async function createPublisher(options: PublisherOptions): Promise<BenchPublisher> {
  const [pub, sub] = await redisPair(options.redisUrl);
  const io = new Server({ adapter: createAdapter(pub, sub) });
  return {
    publish(channel, payload) {
      io.to(channel).emit(SOCKETIO_EVENT, payload);
      return undefined;
    },
    async close() {
      // io.close() would also close an engine this listener-less server never created
      await io.of('/').adapter.close();
      pub.disconnect();
      sub.disconnect();
    },
  };
}

/** The Socket.IO variant. */
export const socketioVariant: Variant = { name: 'socketio', startServer, createPublisher };
