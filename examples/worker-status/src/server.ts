/**
 * The demo server: a page, a hub with the seed 000 dialect, and a worker publishing status.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { channels, SEED_NAMESPACES } from '@taskpulse/protocol';
import { createHub, type Hub, processorStatusDialect } from '@taskpulse/ws-hub';
import { startSimulatedWorker } from './simulated-worker';

/** A running demo. */
export interface Demo {
  /** The page's URL. */
  url: string;
  /** The hub. */
  hub: Hub;
  /** Stops everything. */
  close(): Promise<void>;
}

/** Options of {@link startDemo}. */
export interface DemoOptions {
  /** Port (0 for a free one). @default 3000 */
  port?: number;
  /** Interface. @default '127.0.0.1' */
  host?: string;
  /** Time between simulated tasks, in ms. @default 700 */
  taskIntervalMs?: number;
}

const pageUrl = new URL('../public/index.html', import.meta.url);

/** Starts the demo: in-memory broker, no Redis needed. */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const page = await readFile(pageUrl);
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/' || req.url === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  const hub = createHub({
    server,
    namespaces: { namespaces: { ...SEED_NAMESPACES } },
    dialects: [processorStatusDialect()],
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => resolve());
  });
  const stopWorker = startSimulatedWorker({
    publish: (status) => hub.core.publish(channels.processorStatus(), 'status', status, { source: 'worker' }),
    ...(options.taskIntervalMs !== undefined ? { taskIntervalMs: options.taskIntervalMs } : {}),
  });
  const { port, address } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}/`,
    hub,
    async close() {
      stopWorker();
      await hub.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
