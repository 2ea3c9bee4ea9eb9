/**
 * Publications as seed 003's standard envelope `{id, event, data, channel, priority, timestamp,
 * userId?}`, with the channel written as the seed's room name.
 * @module
 */

import type { Publication } from '@taskpulse/protocol';
import { legacyRoomForChannel, MessagePriority, type TestQueueEnvelope } from '@taskpulse/protocol/payloads';

/**
 * Builds seed 003's envelope for a publication: `id` is the publication's id or
 * `<channel>:<epoch>:<offset>`, `channel` the room name (`test-progress:stress_123` →
 * `test-progress-stress_123`), `priority` the publication's or 3 (normal), `timestamp` its `ts`,
 * `userId` the data's `userId` when it is a string (or the key of a `user-notifications` channel).
 */
export function toSeedEnvelope(
  pub: Publication,
  channelToRoom: (channel: string) => string = legacyRoomForChannel,
): TestQueueEnvelope {
  const data = pub.data as { userId?: unknown } | null;
  const userId =
    data !== null && typeof data === 'object' && typeof data.userId === 'string'
      ? data.userId
      : pub.channel.startsWith('user-notifications:')
        ? pub.channel.slice('user-notifications:'.length)
        : undefined;
  return {
    id: pub.id ?? `${pub.channel}:${pub.epoch}:${pub.offset}`,
    // The catalogue's type; other event names pass through unchanged.
    event: pub.event as TestQueueEnvelope['event'],
    data: pub.data,
    channel: channelToRoom(pub.channel),
    priority: pub.priority ?? MessagePriority.NORMAL,
    timestamp: pub.ts,
    ...(userId !== undefined ? { userId } : {}),
  };
}
