/**
 * The Publisher: validates a publication and runs `lua/publish.lua`, which assigns the offset,
 * appends to the history, refreshes TTLs and publishes, atomically.
 * @module
 */
import {
  createNamespaceResolver,
  type NamespaceOptions,
  type NamespaceTable,
  type PublishOptions,
  type PublishResult,
  TaskpulseError,
  utf8ByteLength,
} from '@taskpulse/protocol';
import { bounded } from './bounded';
import { type Connection, closeClient, openConnection, type RedisConnectionOptions } from './connection';
import { channelKeys, newEpochCandidate } from './keys';
import { loadScript, runScript } from './lua';

/** Options of {@link createPublisher}. */
export interface PublisherOptions extends RedisConnectionOptions, NamespaceTable {
  /** The clock, in ms since the Unix epoch, for `ts` when the caller gives none. @default Date.now */
  now?: () => number;
}

/** Publishes into taskpulse channels on Redis. */
export interface Publisher {
  /**
   * Publishes `data` as `event` on `channel`.
   * @returns the channel, epoch and offset assigned
   * @throws TaskpulseError `bad_channel`, `unknown_channel`, `bad_request` (event, id, priority,
   * non-JSON data), `payload_too_large`, `unavailable` (Redis unreachable or too slow; bounded by
   * `commandTimeoutMs`)
   */
  publish(channel: string, event: string, data: unknown, options?: PublishOptions): Promise<PublishResult>;
  /** The options of a channel's namespace. Throws `bad_channel` / `unknown_channel`. */
  namespaceOptions(channel: string): NamespaceOptions;
  /** Closes the connection when the publisher created it from a URL. Idempotent. */
  close(): Promise<void>;
}

/**
 * Builds the publication text after the offset and epoch: `{"event":…,"data":…,"ts":…}` with
 * optional `id` and `priority`, in the field order of the protocol. Validates as it goes.
 * @internal
 */
export function publicationBody(
  ns: NamespaceOptions,
  channel: string,
  event: string,
  data: unknown,
  options: PublishOptions,
  now: () => number,
): string {
  if (typeof event !== 'string' || event.length === 0 || event.length > 128) {
    throw new TaskpulseError('bad_request', 'event must be a string of 1 to 128 characters');
  }
  let dataJson: string | undefined;
  try {
    dataJson = JSON.stringify(data);
  } catch (cause) {
    throw new TaskpulseError('bad_request', 'data is not JSON-serializable', { cause });
  }
  if (dataJson === undefined) throw new TaskpulseError('bad_request', 'data is not JSON-serializable');
  if (utf8ByteLength(dataJson) > ns.maxPayloadBytes) {
    throw new TaskpulseError('payload_too_large', `data is larger than ${ns.maxPayloadBytes} bytes`, {
      details: { channel, maxPayloadBytes: ns.maxPayloadBytes },
    });
  }
  const ts = options.ts ?? now();
  if (typeof ts !== 'number' || !Number.isFinite(ts))
    throw new TaskpulseError('bad_request', 'ts must be a finite number');
  let body = `{"event":${JSON.stringify(event)},"data":${dataJson},"ts":${JSON.stringify(ts)}`;
  if (options.id !== undefined) {
    if (typeof options.id !== 'string' || options.id.length > 128) {
      throw new TaskpulseError('bad_request', 'id must be a string of at most 128 characters');
    }
    body += `,"id":${JSON.stringify(options.id)}`;
  }
  if (options.priority !== undefined) {
    const p = options.priority;
    if (!Number.isInteger(p) || p < 1 || p > 4)
      throw new TaskpulseError('bad_request', 'priority must be 1, 2, 3 or 4');
    body += `,"priority":${p}`;
  }
  return `${body}}`;
}

/** Parses the script's `{epoch, offset}` reply. @internal */
function parseReply(reply: unknown): { epoch: string; offset: number } {
  if (Array.isArray(reply) && reply.length >= 2) {
    const epoch = String(reply[0]);
    const offset = Number(reply[1]);
    if (epoch.length > 0 && Number.isSafeInteger(offset)) return { epoch, offset };
  }
  throw new TaskpulseError('internal', 'unexpected reply from the publish script');
}

/** The publisher core over an open connection, shared with the broker. @internal */
export function publisherOn(
  connection: Connection,
  resolve: (channel: string) => NamespaceOptions,
  now: () => number,
): Publisher['publish'] {
  const script = loadScript('publish');
  return async (channel, event, data, options = {}) => {
    const ns = resolve(channel);
    const body = publicationBody(ns, channel, event, data, options ?? {}, now);
    const keys = channelKeys(connection.prefix, channel);
    const reply = await bounded(connection, connection.client, 'publish', () =>
      runScript(
        connection.client,
        script,
        [keys.meta, keys.history, keys.pubsub],
        [
          newEpochCandidate(),
          channel,
          body,
          ns.historySize,
          ns.historyTtlMs,
          ns.kind,
          connection.sharded ? 'spublish' : 'publish',
        ],
      ),
    );
    const { epoch, offset } = parseReply(reply);
    return { channel, epoch, offset };
  };
}

/**
 * Creates a Publisher. Validation (channel grammar, namespace, event, payload size) happens
 * before anything is sent to Redis.
 *
 * @example
 * ```ts
 * const publisher = createPublisher({ redis: new Redis(), namespaces: SEED_NAMESPACES });
 * const { epoch, offset } = await publisher.publish('task:42', 'progress', { progress: 50 });
 * ```
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const connection = openConnection(options);
  const resolve = createNamespaceResolver(options);
  const publish = publisherOn(connection, resolve, options.now ?? Date.now);
  let closed = false;
  return {
    async publish(channel, event, data, publishOptions) {
      if (closed) throw new TaskpulseError('unavailable', 'publisher is closed');
      return publish(channel, event, data, publishOptions);
    },
    namespaceOptions: resolve,
    async close() {
      if (closed) return;
      closed = true;
      if (connection.owned) await closeClient(connection.client);
    },
  };
}
