/**
 * The floor: a bare `ws` server. One Redis subscriber connection; for each Redis message the
 * WebSocket frame is built once and written as-is to every socket of the channel — one
 * `socket.write` per delivery and nothing else (no envelope, no per-socket serialization).
 *
 * Clients pick their channel with `?channel=bench:…` (repeatable).
 *
 * `ws-scripted` is the same server fed by taskpulse's publisher: it subscribes to the pub/sub
 * channel redis-bridge's publish script publishes on (`taskpulse:{bench:…}`) and forwards each
 * message's bytes as they come (the publication with its channel, offset, epoch and MAC). Beside
 * `ws` it shows what the publish path (offset, history, MAC in the script) adds to latency; beside
 * `taskpulse` what the hub adds, with the same messages from Redis.
 */
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import * as wsModule from 'ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { loadBridge, taskpulseVariant } from './taskpulse-server';
import type { BenchPublisher, PublisherOptions, RunningServer, ServerStartOptions, Variant } from './types';

// `Sender.frame` is public in ws (documented in its source, used by ws-based servers) but absent
// from @types/ws, hence the local type.
const { Sender } = wsModule as unknown as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] };
};
const FRAME_OPTIONS = { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: true };

async function startServer(
  options: ServerStartOptions,
  redisChannel: (channel: string) => string = (channel) => channel,
): Promise<RunningServer> {
  const sub = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await sub.connect();
  const byChannel = new Map<string, Set<WebSocket>>();
  let connections = 0;

  sub.on('messageBuffer', (channelBuf: Buffer, message: Buffer) => {
    const sockets = byChannel.get(channelBuf.toString());
    if (!sockets || sockets.size === 0) return;
    const frame = Buffer.concat(Sender.frame(message, FRAME_OPTIONS));
    for (const ws of sockets) {
      // the raw TCP socket ws writes to; ws queues nothing of its own without permessage-deflate
      const socket = (ws as unknown as { _socket: Socket })._socket;
      if (socket.writable) socket.write(frame);
    }
  });

  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    backlog: 4096,
    perMessageDeflate: false,
    clientTracking: false,
    maxPayload: 64 * 1024,
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });

  wss.on('connection', (ws, req) => {
    connections++;
    const url = new URL(req.url ?? '/', 'http://localhost');
    const keys = url.searchParams.getAll('channel').map(redisChannel);
    for (const key of keys) {
      let set = byChannel.get(key);
      if (!set) {
        set = new Set();
        byChannel.set(key, set);
        // subscribe before the client counts as ready: the client is told by the 'open' event,
        // and the first publication only comes after every client is ready
        sub.subscribe(key).catch(() => {});
      }
      set.add(ws);
    }
    ws.on('error', () => {});
    ws.on('close', () => {
      connections--;
      for (const key of keys) byChannel.get(key)?.delete(ws);
    });
  });

  const address = wss.address();
  if (typeof address !== 'object' || address === null) throw new Error('ws server has no address');
  return {
    port: address.port,
    path: '/',
    connections: () => connections,
    async close() {
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      sub.disconnect();
    },
  };
}

async function createPublisher(options: PublisherOptions): Promise<BenchPublisher> {
  const pub = new Redis(options.redisUrl, { lazyConnect: true });
  await pub.connect();
  return {
    publish: (channel, payload) => pub.publish(channel, JSON.stringify(payload)),
    async close() {
      await pub.quit();
    },
  };
}

/** The bare `ws` variant. */
export const wsVariant: Variant = { name: 'ws', startServer, createPublisher };

/**
 * A second bare `ws` server, the same code under another name: beside `ws` in the same run, the
 * ratio of two equal servers, i.e. how finely this machine's figures can tell two servers apart.
 */
export const wsTwinVariant: Variant = { ...wsVariant, name: 'ws-twin' };

/** Bare `ws` fed by taskpulse's publisher (see the module comment); needs the taskpulse packages. */
export const wsScriptedVariant: Variant = {
  name: 'ws-scripted',
  async startServer(options) {
    // redis-bridge only (for the channel's pub/sub name): the process stays a bare ws server
    const bridge = await loadBridge();
    return startServer(options, (channel) => bridge.channelKeys(bridge.DEFAULT_PREFIX, channel).pubsub);
  },
  createPublisher: (options) => taskpulseVariant.createPublisher(options),
};
