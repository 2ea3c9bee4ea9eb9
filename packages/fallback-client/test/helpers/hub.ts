/**
 * A real hub for client tests, on its own `http.Server` on 127.0.0.1:0 so a test can drop every
 * connection (`dropAll`) and block transports the way a proxy or firewall would (`gate`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type Broker, type NamespaceOptions, TaskpulseError } from '@taskpulse/protocol';
import { createRedisBroker } from '@taskpulse/redis-bridge';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import {
  type ConnectionRequest,
  createHub,
  createMemoryBroker,
  extractToken,
  type Hub,
  type HubOptions,
} from '@taskpulse/ws-hub';

/** Namespaces of the client tests. */
export const CLIENT_TEST_NAMESPACES: Record<string, Partial<NamespaceOptions>> = {
  task: { historySize: 5000 },
  short: { historySize: 2 },
  status: { kind: 'state', historySize: 1 },
  user: { access: 'user' },
};

/** Tokens: `user-<id>` authenticates as that user; anything else is refused (401). */
export function testAuthenticate(request: ConnectionRequest) {
  const token = extractToken(request);
  if (token === undefined) throw new TaskpulseError('unauthorized', 'no token');
  if (!token.startsWith('user-')) throw new TaskpulseError('unauthorized', 'invalid token');
  return { userId: token.slice('user-'.length) };
}

/** What the test lets through. */
export interface Gate {
  /** Destroy every new connection (network down). */
  all: boolean;
  /** Destroy WebSocket upgrades (a proxy without WebSocket support). */
  websocket: boolean;
  /** Destroy SSE requests. */
  sse: boolean;
  /** Answer WebSocket upgrades with 503 `unavailable`, as a hub whose broker is down. */
  websocket503: boolean;
  /** Accept the TCP connection of an upgrade and never answer (a black-holing proxy). */
  websocketHang: boolean;
  /** Accept poll requests and never answer them. */
  pollHang: boolean;
}

/** A hub on a test server. */
export interface TestHub {
  hub: Hub;
  broker: Broker;
  url: string;
  port: number;
  gate: Gate;
  /** Destroys every open connection (WebSocket, SSE, keep-alive polls). */
  dropAll(): void;
  /** Counts of requests/upgrades that reached the hub, by transport. */
  hits: {
    websocket: number;
    sse: number;
    poll: number;
    refused503: number;
    hung: number;
    notModified: number;
    pollPost: number;
  };
  close(): Promise<void>;
}

/** Starts a hub with the given broker on a fresh server (optionally on a fixed port). */
export async function startTestHub(
  broker: Broker,
  options: Partial<HubOptions> & {
    listenPort?: number;
    /** Serves a request that is not the hub's (pages, scripts); returns true when it did. */
    serve?: (request: IncomingMessage, response: ServerResponse) => boolean;
  } = {},
): Promise<TestHub> {
  const { listenPort, serve, ...hubOptions } = options;
  const hub = createHub({ broker, authenticate: testAuthenticate, interceptRequests: false, ...hubOptions });
  const server: Server = createServer();
  const sockets = new Set<Socket>();
  const gate: Gate = {
    all: false,
    websocket: false,
    sse: false,
    websocket503: false,
    websocketHang: false,
    pollHang: false,
  };
  const hits = { websocket: 0, sse: 0, poll: 0, refused503: 0, hung: 0, notModified: 0, pollPost: 0 };
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('request', (request, response) => {
    const path = request.url ?? '';
    if (gate.all || (gate.sse && path.startsWith('/taskpulse/sse'))) {
      request.socket.destroy();
      return;
    }
    if (serve?.(request, response)) return;
    if (path.startsWith('/taskpulse/sse')) hits.sse++;
    if (path.startsWith('/taskpulse/poll')) {
      hits.poll++;
      if (gate.pollHang) return; // destroyed by dropAll/close
      if (request.method === 'POST') hits.pollPost++;
      response.on('finish', () => {
        if (response.statusCode === 304) hits.notModified++;
      });
    }
    void hub.handleRequest(request, response).then((handled) => {
      if (!handled) response.writeHead(404).end();
    });
  });
  server.on('upgrade', (request, socket, head) => {
    if (gate.all || gate.websocket) {
      socket.destroy();
      return;
    }
    if (gate.websocketHang) {
      hits.hung++;
      return; // destroyed by dropAll/close
    }
    if (gate.websocket503) {
      hits.refused503++;
      const body = JSON.stringify({ error: { code: 'unavailable', message: 'broker down' } });
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\nRetry-After: 1\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      return;
    }
    hits.websocket++;
    if (!hub.handleUpgrade(request, socket as Socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    hub,
    broker,
    url: `http://127.0.0.1:${port}`,
    port,
    gate,
    hits,
    dropAll: () => {
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await hub.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await broker.close().catch(() => {});
    },
  };
}

/** A broker factory: the in-memory broker, or a Redis broker on a private redis-server. */
export interface BrokerKit {
  name: 'memory' | 'redis';
  create(): Broker;
  stop(): Promise<void>;
  redis?: RedisServer;
}

/** Starts the broker kit for a suite. */
export async function brokerKit(name: 'memory' | 'redis'): Promise<BrokerKit> {
  if (name === 'memory') {
    return { name, create: () => createMemoryBroker({ namespaces: CLIENT_TEST_NAMESPACES }), stop: async () => {} };
  }
  const redis = await startRedis();
  const brokers: Broker[] = [];
  return {
    name,
    redis,
    create: () => {
      const b = createRedisBroker({
        redis: redis.url,
        prefix: `tp-${uniqueId()}:`,
        namespaces: CLIENT_TEST_NAMESPACES,
      });
      brokers.push(b);
      return b;
    },
    async stop() {
      await Promise.allSettled(brokers.map((b) => b.close()));
      await redis.stop();
    },
  };
}
