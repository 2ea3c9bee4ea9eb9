/**
 * The example: a real Celery worker and its own event stream on Redis, the Celery bridge (behind
 * its lease), a hub on the Redis broker with seed 002's dialect (`/ws/tasks/`,
 * `GET /api/tasks/queue/status`), the Vue page, and `POST /api/demo/tasks` for the page's buttons.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SEED_NAMESPACES, type TaskpulseLogger } from '@taskpulse/protocol';
import { createRedisBroker, type RedisBroker } from '@taskpulse/redis-bridge';
import { type CeleryBridge, createCeleryBridge } from '@taskpulse/redis-bridge/celery';
import { createHub, type Hub } from '@taskpulse/ws-hub';
import { celeryTasksDialect } from '@taskpulse/ws-hub/dialects';
import { assertCelery, type CelerySender, type CeleryWorker, startSender, startWorker } from './celery';
import { listen, urlOf } from './listen';
import { assertPageBuilt, createStaticHandler, PAGE_DIR } from './static-files';

/** The tasks the page's buttons start. */
export const DEMO_TASKS = {
  download: 'demo_tasks.download',
  broken: 'demo_tasks.broken_download',
  flaky: 'demo_tasks.flaky_download',
} as const;

/** A kind of demo task. */
export type DemoTaskKind = keyof typeof DEMO_TASKS;

/** Options of {@link startCeleryEventsDemo}. */
export interface CeleryDemoOptions {
  /** Redis URL: Celery's broker and result backend, and taskpulse's broker. */
  redisUrl: string;
  /** Prefix of taskpulse's keys. @default 'taskpulse:' */
  prefix?: string;
  /** Port (0 for a free one). @default 3000 */
  port?: number;
  /** Interface. @default '127.0.0.1' */
  host?: string;
  /** Seconds per download step. @default 0.6 */
  stepSeconds?: number;
  /** Where the worker's log goes. @default kept only */
  workerOutput?: NodeJS.WritableStream;
  /** Directory of the built page. @default dist/page */
  pageDir?: string;
  /** Logger. @default silent */
  logger?: TaskpulseLogger;
}

/** A running example. */
export interface CeleryDemo {
  /** The page's URL. */
  url: string;
  /** The hub. */
  hub: Hub;
  /** The Celery bridge. */
  bridge: CeleryBridge;
  /** Starts a demo task, as the page's buttons do; resolves with the Celery task id. */
  start(kind: DemoTaskKind, avid: string): Promise<string>;
  /** Stops everything (the worker with a warm shutdown). */
  close(): Promise<void>;
}

const AVID_RE = /^[A-Za-z0-9_-]{1,64}$/;

function readJson(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
      if (body.length > maxBytes) {
        reject(new Error('body too large'));
        request.destroy();
      }
    });
    request.on('end', () => {
      try {
        resolve(JSON.parse(body));
      } catch {
        reject(new Error('body is not JSON'));
      }
    });
    request.on('error', reject);
  });
}

/** Starts the example. @throws {@link CeleryMissingError}, {@link PortInUseError}, {@link PageNotBuiltError} */
export async function startCeleryEventsDemo(options: CeleryDemoOptions): Promise<CeleryDemo> {
  const pageDir = options.pageDir ?? PAGE_DIR;
  await assertPageBuilt(pageDir);
  assertCelery();
  const { logger } = options;
  const redis = { redis: options.redisUrl, ...(options.prefix ? { prefix: options.prefix } : {}) };
  const brokerUrl = options.redisUrl;

  // Subscribed before the worker starts: pub/sub keeps nothing.
  const bridge = createCeleryBridge({
    ...redis,
    namespaces: SEED_NAMESPACES,
    brokerUrl,
    lease: { ttlMs: 5000 },
    ...(logger ? { logger } : {}),
  });
  await bridge.ready();
  const worker: CeleryWorker = startWorker({
    brokerUrl,
    ...(options.stepSeconds !== undefined ? { stepSeconds: options.stepSeconds } : {}),
    ...(options.workerOutput ? { output: options.workerOutput } : {}),
  });
  const sender: CelerySender = startSender(brokerUrl);
  const start = (kind: DemoTaskKind, avid: string) => sender.send(DEMO_TASKS[kind], [avid]);

  const broker: RedisBroker = createRedisBroker({ ...redis, namespaces: SEED_NAMESPACES });
  const statics = createStaticHandler(pageDir);
  const answer = (response: ServerResponse, status: number, body: unknown) =>
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  const server: Server = createServer((request, response) => {
    if (request.url !== '/api/demo/tasks') {
      statics(request, response);
      return;
    }
    if (request.method !== 'POST')
      return answer(response, 405, { error: { code: 'bad_request', message: 'use POST' } });
    readJson(request, 4096)
      .then(async (body) => {
        const { kind, avid } = (body ?? {}) as { kind?: unknown; avid?: unknown };
        if (typeof kind !== 'string' || !Object.hasOwn(DEMO_TASKS, kind)) {
          return answer(response, 400, {
            error: { code: 'bad_request', message: `kind must be one of ${Object.keys(DEMO_TASKS).join(', ')}` },
          });
        }
        if (typeof avid !== 'string' || !AVID_RE.test(avid)) {
          return answer(response, 400, {
            error: { code: 'bad_request', message: 'avid must match [A-Za-z0-9_-]{1,64}' },
          });
        }
        return answer(response, 200, { task_id: await start(kind as DemoTaskKind, avid) });
      })
      .catch((error: Error) => answer(response, 400, { error: { code: 'bad_request', message: error.message } }));
  });
  const hub = createHub({
    server,
    broker,
    dialects: [celeryTasksDialect({ fields: { avid: { kwarg: 'avid', arg: 0 } } })],
    ...(logger ? { logger } : {}),
  });
  const stopAll = async () => {
    await sender.stop();
    await worker.stop();
    await bridge.close();
    await hub.close();
    await broker.close();
  };
  let address: Awaited<ReturnType<typeof listen>>;
  try {
    address = await listen(server, options.port ?? 3000, options.host ?? '127.0.0.1');
    await worker.ready;
  } catch (error) {
    await stopAll();
    server.close();
    throw error;
  }
  return {
    url: urlOf(address),
    hub,
    bridge,
    start,
    async close() {
      await stopAll();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
