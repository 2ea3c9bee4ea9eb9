/**
 * The Redis key layout of a channel. Every key of one channel shares the hash tag `{<channel>}`
 * (the prefix stays outside the tag), so the publish script touches a single slot in a cluster.
 *
 * | what | key | type |
 * |---|---|---|
 * | position | `<prefix>{<channel>}:meta` | hash: `epoch`, `offset` (+ `latest` for a state channel without history) |
 * | history | `<prefix>{<channel>}:history` | stream: id `<offset>-0`, field `p` = publication JSON |
 * | pub/sub | `<prefix>{<channel>}` | (S)PUBLISH channel carrying the publication JSON |
 * | idempotency | `<prefix>{<channel>}:id:<publication id>` | string `<epoch> <offset>`, expires after the dedupe window |
 * @module
 */
import { randomBytes } from 'node:crypto';

/** The Redis names used for one taskpulse channel. */
export interface ChannelKeys {
  /** Hash with the channel's `epoch` and `offset`. */
  meta: string;
  /** Stream with the channel's retained publications. */
  history: string;
  /** Pub/sub channel the publications are sent on. */
  pubsub: string;
}

/**
 * Returns the Redis key names of a channel (see the module description for the layout).
 *
 * @example
 * ```ts
 * channelKeys('taskpulse:', 'task:42')
 * // { meta: 'taskpulse:{task:42}:meta', history: 'taskpulse:{task:42}:history', pubsub: 'taskpulse:{task:42}' }
 * ```
 */
export function channelKeys(prefix: string, channel: string): ChannelKeys {
  const tagged = `${prefix}{${channel}}`;
  return { meta: `${tagged}:meta`, history: `${tagged}:history`, pubsub: tagged };
}

/** The idempotency key of a publication id on a channel (same hash slot as the channel's keys). */
export function idKey(keys: ChannelKeys, id: string): string {
  return `${keys.pubsub}:id:${id}`;
}

// Random bytes are drawn in bulk: one candidate goes with every publication, and a system call
// per publication showed up as a tenth of the publisher's CPU time.
const POOL_BYTES = 8 * 512;
let pool = randomBytes(POOL_BYTES);
let poolOffset = 0;

/**
 * A fresh epoch candidate: 64 random bits, URL-safe base64 (the script accepts `[A-Za-z0-9_-]`).
 * The script uses it only when the channel has no epoch yet.
 */
export function newEpochCandidate(): string {
  if (poolOffset + 8 > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const candidate = pool.toString('base64url', poolOffset, poolOffset + 8);
  poolOffset += 8;
  return candidate;
}
