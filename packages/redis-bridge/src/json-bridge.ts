/**
 * The raw JSON pub/sub bridge: adopts a foreign publisher that PUBLISHes JSON on a plain Redis
 * channel (seed 000's worker on `processor:status:realtime`), validates each message with a
 * schema, and republishes it natively on a taskpulse channel.
 * @module
 */
import { createHash } from 'node:crypto';
import { exceedsBytes, type PublishOptions, TaskpulseError } from '@taskpulse/protocol';
import { bounded } from './bounded';
import {
  type BridgeContext,
  type BridgeRunner,
  type BridgeRunnerOptions,
  type BridgeSource,
  createBridgeRunner,
} from './bridge-runner';
import { DEFAULT_COMMAND_TIMEOUT_MS, isCluster, type RedisClient } from './connection';

/** One validation problem, as zod reports it. */
export interface BridgeSchemaIssue {
  /** Where in the message (property names and indexes). */
  path?: ReadonlyArray<PropertyKey>;
  /** What is wrong. */
  message: string;
}

/** A validation failure, as zod reports it. */
export interface BridgeSchemaError {
  /** A summary. */
  message?: string;
  /** The problems found, first one first. */
  issues?: ReadonlyArray<BridgeSchemaIssue>;
}

/** A successful {@link BridgeSchema.safeParse}. */
export interface BridgeSchemaSuccess<T> {
  /** Always true. */
  success: true;
  /** The validated (and possibly transformed) message. */
  data: T;
}

/** A failed {@link BridgeSchema.safeParse}. */
export interface BridgeSchemaFailure {
  /** Always false. */
  success: false;
  /** Why the message is invalid. */
  error: BridgeSchemaError;
}

/** The outcome of {@link BridgeSchema.safeParse}. */
export type BridgeSchemaResult<T> = BridgeSchemaSuccess<T> | BridgeSchemaFailure;

/**
 * A validator with zod's `safeParse` shape (any zod schema fits, for example
 * `workerStatusSchema` from `@taskpulse/protocol`).
 */
export interface BridgeSchema<T> {
  /** Validates `input`; never throws. */
  safeParse(input: unknown): BridgeSchemaResult<T>;
}

/** What a JSON source publishes for one valid message. */
export interface JsonMapped {
  /** The publication's data. */
  data: unknown;
  /** Publish options (id, priority, ts). */
  options?: PublishOptions;
}

/** Options of {@link createJsonSource}. */
export interface JsonSourceOptions<T = unknown> {
  /** The foreign Redis pub/sub channel, e.g. `processor:status:realtime` (not a taskpulse channel). */
  sourceChannel: string;
  /** The taskpulse channel to republish on, e.g. `processor:status`. */
  targetChannel: string;
  /** The event name of the republished publications, e.g. `status`. */
  event: string;
  /** Validates each message. */
  schema: BridgeSchema<T>;
  /**
   * Maps a valid message to the published data and options.
   * @default the message as is, no options
   */
  map?: (message: T) => JsonMapped;
  /**
   * The publication `id` of a message (when `map` gives none), which makes its republishing
   * idempotent: a retry, or a second bridge instance taking over, never publishes it twice within
   * the publisher's dedupe window. Return undefined for no id.
   * @default `sha1:` + the SHA-1 of the raw message text (identical messages within the window
   * are published once)
   */
  messageId?: (message: T, raw: string) => string | undefined;
  /**
   * How many times a republish that failed with `unavailable` (Redis down or too slow) is tried
   * again, with the same `id`, `republishRetryDelayMs` apart.
   * @default 3
   */
  republishRetries?: number;
  /**
   * Delay between republish attempts, in ms.
   * @default 500
   */
  republishRetryDelayMs?: number;
  /**
   * Largest foreign message accepted, in bytes.
   * @default 65536
   */
  maxMessageBytes?: number;
  /**
   * The foreign publisher uses SPUBLISH (sharded pub/sub).
   * @default false
   */
  shardedSource?: boolean;
}

function schemaReason(error: {
  message?: string;
  issues?: ReadonlyArray<{ path?: ReadonlyArray<PropertyKey>; message: string }>;
}): string {
  const issue = error.issues?.[0];
  if (issue) {
    const path = issue.path?.length ? `${issue.path.map(String).join('.')}: ` : '';
    return `schema: ${path}${issue.message}`;
  }
  return `schema: ${error.message ?? 'validation failed'}`;
}

/**
 * Creates the source half of the JSON bridge (for use with {@link createBridgeRunner}). It
 * subscribes on its own duplicated connection while active.
 */
export function createJsonSource<T>(options: JsonSourceOptions<T>): BridgeSource {
  const maxBytes = options.maxMessageBytes ?? 64 * 1024;
  let sub: RedisClient | null = null;
  const messageId = options.messageId ?? ((_message: T, raw: string) => `sha1:${sha1(raw)}`);
  const retries = options.republishRetries ?? 3;
  const retryDelayMs = options.republishRetryDelayMs ?? 500;

  // Retries reuse the id, so a publish that timed out but was applied is not applied twice.
  const republish = (context: BridgeContext, data: unknown, publishOptions: PublishOptions | undefined, n: number) => {
    context.publish(options.targetChannel, options.event, data, publishOptions).catch((error) => {
      if (n < retries && error instanceof TaskpulseError && error.code === 'unavailable' && sub !== null) {
        setTimeout(() => republish(context, data, publishOptions, n + 1), retryDelayMs).unref?.();
        return;
      }
      context.error(error, { phase: 'republish' });
    });
  };

  const handle = (context: BridgeContext, message: string) => {
    // Runs inside ioredis' event loop: never throws.
    try {
      context.received();
      if (exceedsBytes(message, maxBytes)) {
        context.invalid(`message is larger than ${maxBytes} bytes`, { bytes: Buffer.byteLength(message) });
        return;
      }
      let json: unknown;
      try {
        json = JSON.parse(message);
      } catch (error) {
        context.invalid(`not valid JSON (${(error as Error).message})`, { sample: message.slice(0, 200) });
        return;
      }
      const result = options.schema.safeParse(json);
      if (!result.success) {
        context.invalid(schemaReason(result.error), { sample: message.slice(0, 200) });
        return;
      }
      const mapped = options.map ? options.map(result.data) : { data: result.data };
      const id = mapped.options?.id ?? messageId(result.data, message);
      const publishOptions = id === undefined ? mapped.options : { ...mapped.options, id };
      republish(context, mapped.data, publishOptions, 0);
    } catch (error) {
      context.error(error, { phase: 'handle' });
    }
  };

  return {
    name: `json:${options.sourceChannel}:${options.targetChannel}`,
    async start(context) {
      const { redis } = context;
      const connection: RedisClient = isCluster(redis) ? redis.duplicate() : redis.duplicate({ lazyConnect: false });
      connection.on('error', () => {});
      sub = connection;
      const onMessage = (channel: string, message: string) => {
        if (channel === options.sourceChannel) handle(context, message);
      };
      // ioredis resubscribes this connection by itself after a reconnect (autoResubscribe).
      const timing = { commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS };
      if (options.shardedSource) {
        connection.on('smessage', onMessage);
        await bounded(timing, connection, 'subscribe', () => connection.ssubscribe(options.sourceChannel));
      } else {
        connection.on('message', onMessage);
        await bounded(timing, connection, 'subscribe', () => connection.subscribe(options.sourceChannel));
      }
    },
    async stop() {
      const connection = sub;
      sub = null;
      if (connection) {
        connection.removeAllListeners('message');
        connection.removeAllListeners('smessage');
        connection.disconnect();
      }
    },
  };
}

/** Options of {@link createJsonBridge}. */
export interface JsonBridgeOptions<T = unknown> extends Omit<BridgeRunnerOptions, 'source'>, JsonSourceOptions<T> {}

/**
 * Creates a JSON bridge: a {@link createBridgeRunner} running {@link createJsonSource}. Invalid
 * JSON and schema failures are counted (`stats().invalid`) and logged with the reason; the bridge
 * keeps running. Run several instances for availability: the lease lets exactly one republish.
 *
 * @example
 * ```ts
 * import { WORKER_STATUS_REDIS_CHANNEL, workerStatusSchema, SEED_NAMESPACES } from '@taskpulse/protocol';
 *
 * const bridge = createJsonBridge({
 *   redis,
 *   namespaces: SEED_NAMESPACES,
 *   sourceChannel: WORKER_STATUS_REDIS_CHANNEL, // 'processor:status:realtime'
 *   targetChannel: 'processor:status',
 *   event: 'status',
 *   schema: workerStatusSchema,
 *   lease: { ttlMs: 5000 },
 *   logger: console,
 * });
 * ```
 */
export function createJsonBridge<T>(options: JsonBridgeOptions<T>): BridgeRunner {
  const {
    sourceChannel,
    targetChannel,
    event,
    schema,
    map,
    maxMessageBytes,
    shardedSource,
    messageId,
    republishRetries,
    republishRetryDelayMs,
    ...runner
  } = options;
  const source = createJsonSource<T>({
    sourceChannel,
    targetChannel,
    event,
    schema,
    ...(map ? { map } : {}),
    ...(maxMessageBytes !== undefined ? { maxMessageBytes } : {}),
    ...(shardedSource !== undefined ? { shardedSource } : {}),
    ...(messageId ? { messageId } : {}),
    ...(republishRetries !== undefined ? { republishRetries } : {}),
    ...(republishRetryDelayMs !== undefined ? { republishRetryDelayMs } : {}),
  });
  return createBridgeRunner({ ...runner, source });
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}
