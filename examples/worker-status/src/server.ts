/**
 * Embedded mode (`npm run demo`): the built page, a hub with the seed 000 dialect and the
 * in-memory broker, and a simulated worker publishing in-process. No Redis, no Python.
 */
import { createServer, type Server } from 'node:http';
import { channels, SEED_NAMESPACES, type TaskpulseLogger } from '@taskpulse/protocol';
import { createHub, type Hub } from '@taskpulse/ws-hub';
import { processorStatusDialect } from '@taskpulse/ws-hub/dialects';
import { listen, urlOf } from './listen';
import { startSimulatedWorker } from './simulated-worker';
import { assertPageBuilt, createStaticHandler, PAGE_DIR } from './static-files';

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
  /** Directory of the built page. @default dist/page */
  pageDir?: string;
  /** Logger. @default silent */
  logger?: TaskpulseLogger;
}

/** Starts the demo with the in-memory broker. @throws {@link PortInUseError} when the port is taken */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const pageDir = options.pageDir ?? PAGE_DIR;
  const server: Server = createServer(createStaticHandler(pageDir));
  const hub = createHub({
    server,
    namespaces: SEED_NAMESPACES,
    dialects: [processorStatusDialect()],
    ...(options.logger ? { logger: options.logger } : {}),
  });
  let address: Awaited<ReturnType<typeof listen>>;
  try {
    // The port first: a port in use is the likelier mistake, and the one to report.
    address = await listen(server, options.port ?? 3000, options.host ?? '127.0.0.1');
    await assertPageBuilt(pageDir);
  } catch (error) {
    await hub.close();
    server.close();
    throw error;
  }
  const stopWorker = startSimulatedWorker({
    publish: (status) => hub.core.publish(channels.processorStatus(), 'status', status, { source: 'worker' }),
    ...(options.taskIntervalMs !== undefined ? { taskIntervalMs: options.taskIntervalMs } : {}),
  });
  return {
    url: urlOf(address),
    hub,
    async close() {
      stopWorker();
      await hub.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
