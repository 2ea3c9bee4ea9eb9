/**
 * One hub process from resolved settings: the broker (Redis or in-memory), the hub with its
 * dialects, auth and limits, and the bridges; a logger wired into each.
 * @module
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TaskpulseLogger } from '@taskpulse/protocol';
import { createRedisBroker, type RedisBroker } from '@taskpulse/redis-bridge';
import { type AuthenticateFn, createHub, createJwtAuthenticator, type Hub } from '@taskpulse/ws-hub';
import type { HubSettings } from '../config/resolve';
import { type RunningBridge, redisFields, startBridges } from './bridges';
import { buildDialects } from './dialects';
import { createStaticHandler } from './static-files';

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A running hub process. */
export interface HubProcess {
  /** The hub. */
  readonly hub: Hub;
  /** The Redis broker, when Redis is configured. */
  readonly broker: RedisBroker | undefined;
  /** The bridges this process runs (one of all processes is active per bridge). */
  readonly bridges: readonly RunningBridge[];
  /** Names of the dialects served. */
  readonly dialects: readonly string[];
  /** Where it listens. */
  readonly address: AddressInfo;
  /** Closes the hub (clients get 1001), the bridges (leases released) and the broker. Idempotent. */
  close(): Promise<void>;
}

/** Thrown when the hub cannot listen (port in use, no permission). */
export class ListenError extends Error {
  /** The system error code, e.g. `EADDRINUSE`. */
  readonly code: string | undefined;

  constructor(message: string, code: string | undefined) {
    super(message);
    this.name = 'ListenError';
    this.code = code;
  }
}

/** Options of {@link startHubProcess}. */
export interface StartHubProcessOptions {
  /** Where every part logs. */
  logger: TaskpulseLogger;
  /** Prefix of the client ids this process announces (e.g. `w2-` for cluster worker 2). @default none */
  clientIdPrefix?: string;
}

/** Starts one hub process and resolves once it listens. @throws {@link ListenError} */
export async function startHubProcess(settings: HubSettings, options: StartHubProcessOptions): Promise<HubProcess> {
  const { logger } = options;
  const namespaceFields = {
    namespaces: settings.namespaces,
    allowUnknownNamespaces: settings.allowUnknownNamespaces,
    ...(settings.namespaceDefaults ? { namespaceDefaults: settings.namespaceDefaults } : {}),
  };
  // The logger gets the broker's connection events (Redis `error` events included) and the
  // failures that have no caller to reject (invalid pub/sub messages, failed recovery).
  const broker = settings.redis ? createRedisBroker({ ...redisFields(settings, settings.redis), logger }) : undefined;
  // Listen once Redis is reached: a hub answers 503 while its broker is not ready, so a process
  // that listened first (a cluster worker the primary sends connections to at once) refused its
  // first clients. Redis unreachable at start (refused, or not up within `commandTimeoutMs`) is
  // logged, and the hub listens anyway and answers 503 until Redis is back.
  if (broker) {
    await broker.ready().catch((error: unknown) => {
      logger.warn('Redis is not reachable at start: listening anyway, answering 503 until it is', {
        error: (error as Error).message,
      });
    });
  }

  const built = buildDialects(settings);
  const jwt: AuthenticateFn | undefined = settings.jwt ? createJwtAuthenticator(settings.jwt) : undefined;
  const authenticate = built.authenticate ? built.authenticate(jwt) : jwt;
  // Auth without an ops key: the ops endpoints need a key nobody has, so they answer 401.
  const opsApiKeys =
    settings.opsPolicy === 'keys'
      ? settings.opsApiKeys
      : settings.opsPolicy === 'refused'
        ? [randomBytes(32).toString('base64url')]
        : [];
  const prefix = options.clientIdPrefix;

  // With static files the hub is attached to a server of ours (the hub answers its paths first).
  const server = settings.staticDir ? createServer(createStaticHandler(settings.staticDir)) : undefined;
  const hub = createHub({
    ...(server ? { server } : { port: settings.port, ...(settings.host ? { host: settings.host } : {}) }),
    path: settings.path,
    logger,
    ...(broker ? { broker } : namespaceFields),
    ...(authenticate ? { authenticate } : {}),
    ...(settings.allowedOrigins ? { allowedOrigins: settings.allowedOrigins } : {}),
    limits: settings.limits,
    dialects: built.dialects,
    http: {
      basePath: settings.basePath,
      ...(settings.publishApiKeys.length > 0 ? { publishApiKeys: settings.publishApiKeys } : {}),
      ...(opsApiKeys.length > 0 ? { opsApiKeys } : {}),
    },
    ...(prefix ? { generateClientId: () => `${prefix}${randomUUID()}` } : {}),
  });

  try {
    await (server ? listen(server, settings.port, settings.host) : hub.listening);
  } catch (error) {
    await hub.close();
    await broker?.close();
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${settings.host ?? '*'}:${settings.port}`;
    throw new ListenError(
      code === 'EADDRINUSE'
        ? `cannot listen on ${where}: the port is in use (set another with --port or PORT)`
        : `cannot listen on ${where}: ${(error as Error).message}`,
      code,
    );
  }
  const bridges = startBridges(settings, logger);
  const address = (server ? server.address() : hub.address()) as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    hub,
    broker,
    bridges,
    dialects: built.names,
    address,
    close() {
      closing ??= (async () => {
        await Promise.allSettled([hub.close(), ...bridges.map((b) => b.runner.close())]);
        await broker?.close();
        if (server?.listening) {
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
        }
      })();
      return closing;
    },
  };
}

/**
 * Closes a hub process for a graceful stop. Resolves with the exit code: 0 once closed, 1 when it
 * has not closed within `timeoutMs` (a hub that cannot close in time must still let the process
 * end). @internal
 */
export function closeWithin(hubProcess: HubProcess, timeoutMs: number): Promise<number> {
  return new Promise<number>((resolve) => {
    const force = setTimeout(() => resolve(1), timeoutMs);
    force.unref();
    void hubProcess.close().then(() => {
      clearTimeout(force);
      resolve(0);
    });
  });
}
