/**
 * A hub behind a gateway we control, like a proxy in front of it: it can refuse WebSocket
 * upgrades and SSE streams (seed 004's broken nginx/FRP), cut open WebSockets, and counts what
 * reached it. Optionally serves static files (the built test page) on the same origin.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import type { Duplex } from 'node:stream';
import { type NamespaceOptions, SEED_NAMESPACES } from '@taskpulse/protocol';
import { createHub, type Hub, type HubOptions } from '@taskpulse/ws-hub';

/** Namespaces of these tests: the seeds' plus two of our own. */
export const TEST_NAMESPACES: Record<string, Partial<NamespaceOptions>> = {
  ...SEED_NAMESPACES,
  panel: { kind: 'state' },
  feed: { kind: 'events' },
};

export interface Gateway {
  hub: Hub;
  /** `http://127.0.0.1:{port}` */
  url: string;
  /** Requests and upgrades that reached the gateway (to prove that nothing connected). */
  counts: { requests: number; upgrades: number };
  /** Refuse WebSocket upgrades (502) and SSE streams (502), and cut the open WebSockets. */
  block(): void;
  unblock(): void;
  /** Cuts the open WebSockets (a network blip); reconnecting is allowed. */
  cut(): void;
  /**
   * Holds the answers of state reads (`GET …/channels/{c}/state`) once the hub has written them,
   * until `release()`: a slow HTTP read racing the pushed publications. `held()` counts them.
   */
  holdStateReads(): { held(): number; release(): void };
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

function refuse(socket: Duplex): void {
  socket.on('error', () => {});
  socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
}

export async function startGateway(options: { staticDir?: string; hub?: Partial<HubOptions> } = {}): Promise<Gateway> {
  const hub = createHub({ namespaces: TEST_NAMESPACES, heartbeatIntervalMs: 5_000, ...options.hub });
  const counts = { requests: 0, upgrades: 0 };
  const sockets = new Set<Duplex>();
  let blocked = false;
  let heldReads: (() => void)[] | null = null;

  const serveStatic = async (request: IncomingMessage, response: ServerResponse) => {
    const dir = options.staticDir;
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    if (!dir || path.includes('..')) return false;
    const file = join(dir, normalize(path === '/' ? '/index.html' : path));
    try {
      const body = await readFile(file);
      response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      response.end(body);
      return true;
    } catch {
      return false;
    }
  };

  const server: Server = createServer((request, response) => {
    counts.requests++;
    if (blocked && request.method === 'GET' && (request.url ?? '').includes('/sse')) {
      // CORS headers so that a DOM emulation reports the 502 itself, not a CORS failure.
      response.writeHead(502, { 'access-control-allow-origin': '*' }).end();
      return;
    }
    if (heldReads !== null && request.method === 'GET' && /\/channels\/[^/]+\/state(\?|$)/.test(request.url ?? '')) {
      const queue = heldReads;
      const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
      response.end = ((...args: unknown[]) => {
        queue.push(() => end(...args));
        return response;
      }) as ServerResponse['end'];
    }
    hub
      .handleRequest(request, response)
      .then(async (handled) => {
        if (!handled && !(await serveStatic(request, response))) response.writeHead(404).end();
      })
      .catch(() => {
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    counts.upgrades++;
    if (blocked || !hub.handleUpgrade(request, socket, head)) {
      refuse(socket);
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    hub,
    url: `http://127.0.0.1:${port}`,
    counts,
    block() {
      blocked = true;
      for (const socket of sockets) socket.destroy();
    },
    unblock() {
      blocked = false;
    },
    cut() {
      for (const socket of sockets) socket.destroy();
    },
    holdStateReads() {
      const queue: (() => void)[] = [];
      heldReads = queue;
      return {
        held: () => queue.length,
        release() {
          heldReads = null;
          for (const end of queue.splice(0)) end();
        },
      };
    },
    async close() {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
