/**
 * Seed 003's priorities in the outbound queue of a backed-up connection (any transport): critical
 * publications (priority 1) are written ahead of the publications of other channels queued
 * before them, never past an earlier publication of their own channel (order within a channel
 * never changes) and never past anything else (a `subscribed` frame must precede its channel's
 * publications; a dialect's encoded publication is opaque).
 * @module
 */
import { MessagePriority } from '@taskpulse/protocol/payloads';
import { SerializedPublication } from './serialized';

/** The priority written first under backpressure and never conflated. */
export const CRITICAL_PRIORITY: number = MessagePriority.CRITICAL;

/** Whether a publication is critical (priority 1). @internal */
export function isCritical(publication: SerializedPublication): boolean {
  return publication.priority === CRITICAL_PRIORITY;
}

/**
 * Reorders a queue so that critical publications go first (see the module description).
 * Conflated holes (`null`) are dropped. Stable otherwise; entries that are not publications
 * (control frames, encoded texts) are barriers that nothing moves past. @internal
 */
export function promoteCritical<T>(
  queue: ReadonlyArray<SerializedPublication | T | null>,
): Array<SerializedPublication | T> {
  const out: Array<SerializedPublication | T> = [];
  let front: SerializedPublication[] = [];
  let rest: SerializedPublication[] = [];
  // Channels with a non-promoted publication earlier in the current segment.
  const blocked = new Set<string>();
  const endSegment = () => {
    for (const entry of front) out.push(entry);
    for (const entry of rest) out.push(entry);
    front = [];
    rest = [];
    blocked.clear();
  };
  for (const entry of queue) {
    if (entry === null) continue;
    if (!(entry instanceof SerializedPublication)) {
      endSegment();
      out.push(entry);
      continue;
    }
    const channel = entry.channel;
    if (isCritical(entry) && !blocked.has(channel)) front.push(entry);
    else {
      rest.push(entry);
      blocked.add(channel);
    }
  }
  endSegment();
  return out;
}
