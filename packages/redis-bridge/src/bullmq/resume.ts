/**
 * Where a BullMQ source starts, and the check for an entry a dead instance may have half
 * republished.
 * @module
 */
import { TaskpulseError } from '@taskpulse/protocol';
import type { RedisClient } from '../connection';
import { channelKeys } from '../keys';
import type { StreamCursor } from './cursor';
import { compareStreamIds, fieldRecord, parseJsonField } from './events';

/** The stream was trimmed past the stored position: the entries in between are lost. @internal */
export class StreamGapError extends TaskpulseError {
  /** The stored position (resume from there: XREAD returns the oldest entries left). */
  readonly from: string;

  /**
   * @param streamKey - the stream
   * @param from - the stored position
   * @param oldest - the oldest entry id left in the stream
   */
  constructor(streamKey: string, from: string, oldest: string) {
    super(
      'unavailable',
      `stream ${streamKey} was trimmed past the stored position ${from} (the oldest entry left is ${oldest}): events in between may be lost`,
      { details: { streamKey, from, oldest } },
    );
    this.name = 'StreamGapError';
    this.from = from;
  }
}

/**
 * The position to read after: the stored one (throws {@link StreamGapError} when entries after it
 * were deleted), else the stream's end or beginning, stored at once. @internal
 */
export async function resolveStart(
  redis: RedisClient,
  cursor: StreamCursor,
  streamKey: string,
  startAt: 'end' | 'beginning',
): Promise<string> {
  const stored = await cursor.load();
  if (stored !== null) {
    // BullMQ trims its stream (MAXLEN ~): when the stored entry itself is gone and the oldest one
    // left is newer, entries after the stored one may have been trimmed while no bridge ran.
    if (stored !== '0-0') {
      const [still] = (await redis.xrange(streamKey, stored, stored)) as Array<[string, string[]]>;
      const [oldest] = (await redis.xrange(streamKey, '-', '+', 'COUNT', 1)) as Array<[string, string[]]>;
      if (still === undefined && oldest !== undefined && compareStreamIds(oldest[0], stored) > 0) {
        throw new StreamGapError(streamKey, stored, oldest[0]);
      }
    }
    return stored;
  }
  let start = '0-0';
  if (startAt === 'end') {
    const last = (await redis.xrevrange(streamKey, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
    start = last[0]?.[0] ?? '0-0';
  }
  await cursor.advance(start);
  return start;
}

/** Whether a channel's recent history (50 newest) holds a publication id. @internal */
export async function alreadyInHistory(
  redis: RedisClient,
  prefix: string,
  channel: string,
  id: string,
): Promise<boolean> {
  const entries = (await redis.xrevrange(channelKeys(prefix, channel).history, '+', '-', 'COUNT', 50)) as Array<
    [string, string[]]
  >;
  for (const [, flat] of entries) {
    const text = fieldRecord(flat).p;
    if (text !== undefined && (parseJsonField(text) as { id?: unknown } | null)?.id === id) return true;
  }
  return false;
}
