/**
 * Connections: the options every piece takes to reach Redis, the connections taskpulse opens
 * itself, and connection-state tracking (bounded commands are in `bounded.ts`).
 * @module
 */
import type { BrokerStatus, TaskpulseLogger } from '@taskpulse/protocol';
import { silentLogger, TaskpulseError } from '@taskpulse/protocol';
import { Cluster, Redis } from 'ioredis';

/** An ioredis client: a single node (`Redis`) or a Redis Cluster (`Cluster`). */
export type RedisClient = Redis | Cluster;

/** Called with errors that cannot be thrown to a caller (background recovery, bad input…). */
export type ErrorHook = (error: TaskpulseError, context: { channel?: string; source?: string }) => void;

/** How a piece reaches Redis. Shared by the publisher, the subscriber, the readers and the bridges. */
export interface RedisConnectionOptions {
  /**
   * An ioredis `Redis` or `Cluster` client (used as is for commands and duplicated where a
   * dedicated connection is needed; never closed by taskpulse), or a `redis://` URL (taskpulse
   * creates and closes its own connections, with the offline queue disabled so that commands
   * fail fast while Redis is down).
   *
   * A client given here should not use ioredis' `keyPrefix`: use {@link RedisConnectionOptions.prefix}.
   */
  redis: RedisClient | string;
  /**
   * Prefix of every key and pub/sub channel taskpulse uses. Must not contain `{` or `}`.
   * @default 'taskpulse:'
   */
  prefix?: string;
  /**
   * How long a command may take (including waiting for a connection in progress) before it
   * rejects with `unavailable`, in ms.
   * @default 5000
   */
  commandTimeoutMs?: number;
  /**
   * Use sharded pub/sub (SPUBLISH/SSUBSCRIBE). Must be the same for publishers and subscribers
   * of a deployment.
   * @default true for a `Cluster` client, false otherwise
   */
  sharded?: boolean;
  /**
   * Where Redis connection errors, lease changes and rejected input are logged. Redis `error`
   * events of the connections taskpulse creates are logged here (at most one line per distinct
   * message every 30 s) and counted.
   * @default silent
   */
  logger?: TaskpulseLogger;
}

/** The default key prefix. */
export const DEFAULT_PREFIX = 'taskpulse:';
/** The default command timeout in ms. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

/** Resolved connection settings shared inside one piece. @internal */
export interface Connection {
  client: RedisClient;
  /** True when taskpulse created the client from a URL and must close it. */
  owned: boolean;
  prefix: string;
  commandTimeoutMs: number;
  sharded: boolean;
  logger: TaskpulseLogger;
  /** Redis `error` events seen on this piece's connections (shared by its duplicates). */
  errors: { count: number };
}

const ERROR_LOG_INTERVAL_MS = 30_000;

/**
 * Handles `error` events of a connection taskpulse listens on: an unhandled one would crash the
 * process, and an empty handler would hide an outage. Counted, and logged with a per-message
 * throttle (ioredis repeats the same error on every reconnect attempt). @internal
 */
export function reportRedisErrors(
  client: RedisClient,
  connection: Pick<Connection, 'logger' | 'errors'>,
  role: string,
) {
  const lastLogged = new Map<string, number>();
  client.on('error', (error: Error) => {
    connection.errors.count += 1;
    const message = error?.message ?? String(error);
    const now = Date.now();
    const last = lastLogged.get(message);
    if (last !== undefined && now - last < ERROR_LOG_INTERVAL_MS) return;
    if (lastLogged.size > 100) lastLogged.clear();
    lastLogged.set(message, now);
    connection.logger.warn(`redis ${role} connection error: ${message}`, {
      role,
      code: (error as { code?: string })?.code,
      errors: connection.errors.count,
    });
  });
}

/** True for an ioredis `Cluster`. @internal */
export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster || (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * The error hook of a piece: `onError` when given, else a warning through the piece's logger, so
 * that no error is silently dropped. @internal
 */
export function errorHookOf(onError: ErrorHook | undefined, logger: TaskpulseLogger): ErrorHook {
  if (onError) return onError;
  return (error, context) =>
    logger.warn(error.message, {
      code: error.code,
      ...(context.channel ? { channel: context.channel } : {}),
      ...(context.source ? { source: context.source } : {}),
    });
}

/** Options of the connections taskpulse creates itself from a URL. */
function ownedClientOptions(commandTimeoutMs: number) {
  return {
    // Fail fast while disconnected instead of queueing: a publish must never hang or run late.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    connectTimeout: Math.max(1000, commandTimeoutMs),
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  };
}

/** Builds the shared connection settings of a piece. @internal */
export function openConnection(options: RedisConnectionOptions): Connection {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (/[{}]/.test(prefix)) {
    throw new TaskpulseError('bad_request', 'prefix must not contain "{" or "}" (they would break hash tags)', {
      details: { prefix },
    });
  }
  const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  if (!(commandTimeoutMs > 0)) throw new TaskpulseError('bad_request', 'commandTimeoutMs must be > 0');
  const logger = options.logger ?? silentLogger;
  const errors = { count: 0 };
  let client: RedisClient;
  let owned = false;
  if (typeof options.redis === 'string') {
    client = new Redis(options.redis, ownedClientOptions(commandTimeoutMs));
    // Errors also surface through rejected commands and status().
    reportRedisErrors(client, { logger, errors }, 'command');
    owned = true;
  } else if (options.redis && typeof (options.redis as RedisClient).evalsha === 'function') {
    client = options.redis;
    const keyPrefix = (client.options as { keyPrefix?: string }).keyPrefix;
    if (keyPrefix) {
      throw new TaskpulseError('bad_request', 'the ioredis client uses keyPrefix; pass the prefix option instead', {
        details: { keyPrefix },
      });
    }
  } else {
    throw new TaskpulseError('bad_request', 'redis must be an ioredis Redis or Cluster client or a redis:// URL');
  }
  return {
    client,
    owned,
    prefix,
    commandTimeoutMs,
    sharded: options.sharded ?? isCluster(client),
    logger,
    errors,
  };
}

/**
 * Creates a dedicated pub/sub connection: a duplicate of the client (sharded subscribers for a
 * Cluster). taskpulse resubscribes itself after a reconnect, so ioredis' own resubscription is
 * off for a single node. @internal
 */
export function duplicateForPubSub(connection: Connection): RedisClient {
  const { client } = connection;
  let sub: RedisClient;
  if (isCluster(client)) {
    sub = client.duplicate([], { shardedSubscribers: connection.sharded, enableOfflineQueue: false });
  } else {
    sub = client.duplicate({
      ...ownedClientOptions(connection.commandTimeoutMs),
      autoResubscribe: false,
      lazyConnect: false,
    });
  }
  reportRedisErrors(sub, connection, 'pub/sub');
  return sub;
}

/** Closes a connection taskpulse owns: QUIT when possible, else disconnect. @internal */
export async function closeClient(client: RedisClient, timeoutMs = 1000): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
  await Promise.race([
    client.quit().then(
      () => undefined,
      () => undefined,
    ),
    timer,
  ]);
  client.disconnect();
}

/** Connection state as seen through events, for `status()`. @internal */
export interface ConnectionTracker {
  state(): Exclude<BrokerStatus, 'closed'>;
  dispose(): void;
}

/**
 * Follows a client's events: `ready` after a ready event, `down` after a close or reconnect,
 * `connecting` before the first outcome. A reconnect attempt does not turn `down` back into
 * `connecting`: Redis counts as down until it answers again. @internal
 */
export function trackConnection(client: RedisClient): ConnectionTracker {
  const initial = client.status;
  let state: Exclude<BrokerStatus, 'closed'> =
    initial === 'ready'
      ? 'ready'
      : initial === 'wait' || initial === 'connecting' || initial === 'connect'
        ? 'connecting'
        : 'down';
  const onReady = () => {
    state = 'ready';
  };
  const onDown = () => {
    state = 'down';
  };
  client.on('ready', onReady);
  client.on('close', onDown);
  client.on('end', onDown);
  client.on('reconnecting', onDown);
  return {
    state: () => (state === 'ready' && client.status !== 'ready' ? 'down' : state),
    dispose() {
      client.off('ready', onReady);
      client.off('close', onDown);
      client.off('end', onDown);
      client.off('reconnecting', onDown);
    },
  };
}

/** Combines the states of several connections: ready only when all are. @internal */
export function combineStates(states: Array<Exclude<BrokerStatus, 'closed'>>): Exclude<BrokerStatus, 'closed'> {
  if (states.includes('down')) return 'down';
  if (states.includes('connecting')) return 'connecting';
  return 'ready';
}
