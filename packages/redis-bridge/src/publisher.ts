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
  preparePublish,
  TaskpulseError,
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
 * optional `id` and `priority`, in the field order of the protocol. Validation is
 * {@link preparePublish}'s, shared with every broker.
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
  const input = preparePublish(ns, channel, event, data, options, now);
  let body = `{"event":${JSON.stringify(event)},"data":${input.dataJson},"ts":${JSON.stringify(input.ts)}`;
  if (input.id !== undefined) body += `,"id":${JSON.stringify(input.id)}`;
  if (input.priority !== undefined) body += `,"priority":${input.priority}`;
  return `${body}}`;
}

/**
 * Rejection of a guarded publish whose guard failed right before the command would have been
 * written: nothing was sent to Redis. @internal
 */
export class PublishNotSentError extends TaskpulseError {
  /** @param reason - why the publish was not sent */
  constructor(reason: string) {
    super('unavailable', `publish not sent: ${reason}`, { details: { reason } });
    this.name = 'PublishNotSentError';
  }
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

/**
 * The publisher core over an open connection, shared with the broker and the bridge runner.
 * `guard`, when given, is checked immediately before the command is written (after any wait for
 * the connection); when it returns false nothing is sent and the call rejects with
 * {@link PublishNotSentError}. @internal
 */
export function publisherOn(
  connection: Connection,
  resolve: (channel: string) => NamespaceOptions,
  now: () => number,
  guard?: { check(): boolean; reason: string },
): Publisher['publish'] {
  const script = loadScript('publish');
  return async (channel, event, data, options = {}) => {
    const ns = resolve(channel);
    const body = publicationBody(ns, channel, event, data, options ?? {}, now);
    const keys = channelKeys(connection.prefix, channel);
    const reply = await bounded(connection, connection.client, 'publish', () => {
      if (guard && !guard.check()) throw new PublishNotSentError(guard.reason);
      return runScript(
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
      );
    });
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
