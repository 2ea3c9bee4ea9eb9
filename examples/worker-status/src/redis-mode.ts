/**
 * Redis mode: seed 000's real flow. The Python worker (worker.py) takes tasks from Redis lists
 * and PUBLISHes its status on `processor:status:realtime`; the JSON bridge adopts that channel as
 * the state channel `processor:status` (behind its lease); the hub serves it to the Vue page
 * (native protocol) and to seed 000's own page (`/ws/processor-status`, `/api/processor/status`).
 */
import { createServer, type Server } from 'node:http';
import { SEED_NAMESPACES, type TaskpulseLogger } from '@taskpulse/protocol';
import { WORKER_STATUS_REDIS_CHANNEL, workerStatusSchema } from '@taskpulse/protocol/payloads';
import { type BridgeRunner, createJsonBridge, createRedisBroker, type RedisBroker } from '@taskpulse/redis-bridge';
import { createHub, type Hub } from '@taskpulse/ws-hub';
import { processorStatusDialect } from '@taskpulse/ws-hub/dialects';
import { listen, urlOf } from './listen';
import { assertPythonRedis, type PythonProcess, runPython } from './python';
import { assertPageBuilt, createStaticHandler, PAGE_DIR } from './static-files';

/** Options of {@link startRedisMode}. */
export interface RedisModeOptions {
  /** Redis URL. */
  redisUrl: string;
  /** Key prefix of taskpulse's keys. @default 'taskpulse:' */
  prefix?: string;
  /** Port (0 for a free one). @default 3000 */
  port?: number;
  /** Interface. @default '127.0.0.1' */
  host?: string;
  /** Start worker.py. @default true */
  worker?: boolean;
  /** Arguments for worker.py. @default [] */
  workerArgs?: string[];
  /** Start producer.py. @default true */
  producer?: boolean;
  /** Arguments for producer.py. @default ['--rate', '2', '--fail-every', '7', '--dead-every', '23'] */
  producerArgs?: string[];
  /** Where the Python scripts' output goes. @default kept only */
  pythonOutput?: NodeJS.WritableStream;
  /** Bridge lease time, in ms. @default 5000 */
  leaseTtlMs?: number;
  /** Directory of the built page. @default dist/page */
  pageDir?: string;
  /** Logger. @default silent */
  logger?: TaskpulseLogger;
}

/** A running Redis-mode example. */
export interface RedisDemo {
  /** The page's URL. */
  url: string;
  /** The hub. */
  hub: Hub;
  /** The hub's Redis broker. */
  broker: RedisBroker;
  /** The JSON bridge (its `stats().invalid` counts rejected worker messages). */
  bridge: BridgeRunner;
  /** The Python worker, when started. */
  worker: PythonProcess | undefined;
  /** The producer, when started. */
  producer: PythonProcess | undefined;
  /** Stops everything. */
  close(): Promise<void>;
}

/** Starts the Redis mode. @throws {@link PortInUseError}, {@link PythonMissingError} */
export async function startRedisMode(options: RedisModeOptions): Promise<RedisDemo> {
  const pageDir = options.pageDir ?? PAGE_DIR;
  const runWorker = options.worker ?? true;
  const runProducer = options.producer ?? true;
  if (runWorker || runProducer) assertPythonRedis();
  const logger = options.logger;
  const redis = { redis: options.redisUrl, ...(options.prefix ? { prefix: options.prefix } : {}) };

  const broker = createRedisBroker({
    ...redis,
    namespaces: SEED_NAMESPACES,
    ...(logger ? { onError: (error) => logger.warn(`redis broker: ${error.message}`, { code: error.code }) } : {}),
  });
  const server: Server = createServer(createStaticHandler(pageDir));
  const hub = createHub({
    server,
    broker,
    dialects: [processorStatusDialect()],
    ...(logger ? { logger } : {}),
  });
  let address: Awaited<ReturnType<typeof listen>>;
  try {
    // The port first: a port in use is the likelier mistake, and the one to report.
    address = await listen(server, options.port ?? 3000, options.host ?? '127.0.0.1');
    await assertPageBuilt(pageDir);
  } catch (error) {
    await hub.close();
    await broker.close();
    server.close();
    throw error;
  }
  const bridge = createJsonBridge({
    ...redis,
    namespaces: SEED_NAMESPACES,
    sourceChannel: WORKER_STATUS_REDIS_CHANNEL,
    targetChannel: 'processor:status',
    event: 'status',
    schema: workerStatusSchema,
    lease: { ttlMs: options.leaseTtlMs ?? 5000 },
    ...(logger ? { logger } : {}),
  });
  const python = { redisUrl: options.redisUrl, ...(options.pythonOutput ? { echo: options.pythonOutput } : {}) };
  const worker = runWorker ? runPython('worker', options.workerArgs ?? [], python) : undefined;
  const producer = runProducer
    ? runPython('producer', options.producerArgs ?? ['--rate', '2', '--fail-every', '7', '--dead-every', '23'], python)
    : undefined;

  return {
    url: urlOf(address),
    hub,
    broker,
    bridge,
    worker,
    producer,
    async close() {
      await Promise.all([producer?.stop(), worker?.stop()]);
      await bridge.close();
      await hub.close();
      await broker.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
