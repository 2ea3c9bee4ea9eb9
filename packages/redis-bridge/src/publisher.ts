/**
 * The Publisher: validates a publication and runs `lua/publish.lua`, which assigns the offset,
 * appends to the history, refreshes TTLs and publishes, atomically.
 * @module
 */
import { randomBytes } from 'node:crypto';
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
import { channelKeys, idKey, newEpochCandidate } from './keys';
import { loadScript, runScript } from './lua';

/** Options of {@link createPublisher}. */
export interface PublisherOptions extends RedisConnectionOptions, NamespaceTable {
  /** The clock, in ms since the Unix epoch, for `ts` when the caller gives none. @default Date.now */
  now?: () => number;
  /**
   * How long a publication `id` is remembered per channel, in ms: publishing the same `id` on the
   * same channel again within this window (a retry after a timeout) publishes nothing and
   * resolves with the first publication's position (`duplicate: true`). 0 turns it off.
   * @default 300000
   */
  dedupeWindowMs?: number;
}

/** Default of {@link PublisherOptions.dedupeWindowMs}: 5 minutes. */
export const DEFAULT_DEDUPE_WINDOW_MS = 300_000;

/** Publishes into taskpulse channels on Redis. */
export interface Publisher {
  /**
   * Publishes `data` as `event` on `channel`.
   * With `options.id`, the publish is idempotent within `dedupeWindowMs`: retrying it (after a
   * timeout, say) never creates a second publication; it resolves with the first one's position
   * and `duplicate: true`.
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

/** Parses the script's `{epoch, offset, duplicate}` reply. @internal */
function parseReply(reply: unknown): { epoch: string; offset: number; duplicate: boolean } {
  if (Array.isArray(reply) && reply.length >= 2) {
    const epoch = String(reply[0]);
    const offset = Number(reply[1]);
    if (epoch.length > 0 && Number.isSafeInteger(offset)) return { epoch, offset, duplicate: Number(reply[2]) === 1 };
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
  dedupeWindowMs = DEFAULT_DEDUPE_WINDOW_MS,
): Publisher['publish'] {
  const script = loadScript('publish');
  // The MAC key candidate of this publisher (lua/publish.lua, ARGV[9]): a channel without a key
  // derives one from it (per pub/sub channel and epoch), and hubs then verify its live messages
  // without reading them back.
  const macCandidate = randomBytes(20).toString('hex');
  return async (channel, event, data, options = {}) => {
    const ns = resolve(channel);
    const body = publicationBody(ns, channel, event, data, options ?? {}, now);
    const keys = channelKeys(connection.prefix, channel);
    const id = options?.id;
    const dedupe = id !== undefined && dedupeWindowMs > 0;
    const reply = await bounded(connection, connection.client, 'publish', () => {
      if (guard && !guard.check()) throw new PublishNotSentError(guard.reason);
      return runScript(
        connection.client,
        script,
        dedupe ? [keys.meta, keys.history, keys.pubsub, idKey(keys, id)] : [keys.meta, keys.history, keys.pubsub],
        [
          newEpochCandidate(),
          channel,
          body,
          ns.historySize,
          ns.historyTtlMs,
          ns.kind,
          connection.sharded ? 'spublish' : 'publish',
          dedupe ? dedupeWindowMs : '',
          macCandidate,
        ],
      );
    });
    const { epoch, offset, duplicate } = parseReply(reply);
    return duplicate ? { channel, epoch, offset, duplicate } : { channel, epoch, offset };
  };
}

/** Validates {@link PublisherOptions.dedupeWindowMs}. @internal */
export function dedupeWindow(options: { dedupeWindowMs?: number }): number {
  const ms = options.dedupeWindowMs ?? DEFAULT_DEDUPE_WINDOW_MS;
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new TypeError('dedupeWindowMs must be a non-negative integer number of milliseconds');
  }
  return ms;
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
  const resolve = createNamespaceResolver(options, 'createPublisher');
  const connection = openConnection(options);
  const publish = publisherOn(connection, resolve, options.now ?? Date.now, undefined, dedupeWindow(options));
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
