/**
 * The whole example on one Redis: the `tests` queue with its workers, the BullMQ bridge with seed
 * 003's catalogue, a hub (Redis broker) with the native endpoints and the Socket.IO endpoint, the
 * two pages, and `GET /api/jobs` (the board's first picture, from BullMQ's own records).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { SEED_NAMESPACES, TaskpulseError, type TaskpulseLogger } from '@taskpulse/protocol';
import { createRedisBroker } from '@taskpulse/redis-bridge';
import { type BullmqBridge, createBullmqBridge, testQueueMapping } from '@taskpulse/redis-bridge/bullmq';
import {
  attachSocketIo,
  type ConnectionRequest,
  createHub,
  extractToken,
  type Hub,
  type SocketIoEndpoint,
} from '@taskpulse/ws-hub';
import { Server } from 'socket.io';
import { listen, urlOf } from './listen';
import { QUEUE_NAME, startTestQueue, type TestQueue } from './queue';
import { assertPageBuilt, createStaticHandler, PAGE_DIR } from './static-files';

/** The namespaces of the example: seed 003's, with room for a few runs in history. */
export const NAMESPACES = {
  ...SEED_NAMESPACES,
  'queue-updates': { historySize: 1000 },
  'test-history-updates': { historySize: 200 },
};

/**
 * A demo authenticator: the token `user:<id>` (query `?token=`, `Authorization: Bearer`, or
 * Socket.IO's `auth: {token}`) makes the connection that user; no token is anonymous. Use a real
 * one (`createJwtAuthenticator`) in production.
 */
export function demoAuthenticate(request: ConnectionRequest): { userId: string } | null {
  const token = extractToken(request);
  if (!token) return null;
  if (!token.startsWith('user:') || token.length <= 5)
    throw new TaskpulseError('unauthorized', 'demo tokens are user:<id>');
  return { userId: token.slice(5) };
}

/** Options of {@link startTestQueueRooms}. */
export interface RoomsOptions {
  /** The Redis everything runs on. */
  redisUrl: string;
  /** HTTP port (0 picks one). @default 3003 */
  port?: number;
  /** Interface. @default '127.0.0.1' */
  host?: string;
  /** Node workers. @default 2 */
  workers?: number;
  /** taskpulse key prefix (tests use a fresh one). @default 'taskpulse:' */
  prefix?: string;
  /** BullMQ key prefix. @default 'bull' */
  bullmqPrefix?: string;
  /** Logger. @default silent */
  logger?: TaskpulseLogger;
  /** Where the built pages are. @default `dist/page` of this example */
  pageDir?: string;
}

/** The running example. */
export interface Rooms {
  /** The board's URL (`/`); the Socket.IO page is `socketio.html`. */
  readonly url: string;
  readonly hub: Hub;
  readonly socketIo: SocketIoEndpoint;
  readonly bridge: BullmqBridge;
  readonly tests: TestQueue;
  close(): Promise<void>;
}

async function jobsBody(tests: TestQueue): Promise<string> {
  const states = ['waiting', 'active', 'completed', 'failed'] as const;
  const jobs = await tests.queue.getJobs([...states], 0, 199, false);
  const list = await Promise.all(
    jobs.map(async (job) => ({
      jobId: job.id,
      testId: job.data.testId,
      testType: job.data.testType,
      state: await job.getState(),
      progress:
        typeof job.progress === 'object' ? ((job.progress as { progress?: number }).progress ?? 0) : job.progress,
      failedReason: job.failedReason || undefined,
      timestamp: job.timestamp,
    })),
  );
  return JSON.stringify({ jobs: list.sort((a, b) => a.timestamp - b.timestamp) });
}

/** Starts the example. The pages must be built (`npm run build -w @taskpulse/example-test-queue-rooms`). */
export async function startTestQueueRooms(options: RoomsOptions): Promise<Rooms> {
  const pageDir = options.pageDir ?? PAGE_DIR;
  await assertPageBuilt(pageDir);
  const prefix = options.prefix ?? 'taskpulse:';
  const bullmqPrefix = options.bullmqPrefix ?? 'bull';
  const logger = options.logger;
  const tests = startTestQueue({ redisUrl: options.redisUrl, workers: options.workers ?? 2, prefix: bullmqPrefix });
  const bridge = createBullmqBridge({
    redis: options.redisUrl,
    prefix,
    namespaces: NAMESPACES,
    queue: QUEUE_NAME,
    bullmqPrefix,
    map: testQueueMapping(),
    startAt: 'end',
    ...(logger ? { logger } : {}),
  });
  const broker = createRedisBroker({ redis: options.redisUrl, prefix, namespaces: NAMESPACES });
  const statics = createStaticHandler(pageDir);
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.url?.startsWith('/api/jobs')) {
      jobsBody(tests).then(
        (body) => response.writeHead(200, { 'content-type': 'application/json' }).end(body),
        (error) =>
          response.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(error) })),
      );
      return;
    }
    statics(request, response);
  });
  const hub = createHub({ server, broker, authenticate: demoAuthenticate, ...(logger ? { logger } : {}) });
  const socketIo = await attachSocketIo(hub, { Server });
  const address = await listen(server, options.port ?? 3003, options.host ?? '127.0.0.1');
  return {
    url: urlOf(address),
    hub,
    socketIo,
    bridge,
    tests,
    async close() {
      await tests.close();
      await bridge.close();
      await socketIo.close();
      await hub.close();
      await broker.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
