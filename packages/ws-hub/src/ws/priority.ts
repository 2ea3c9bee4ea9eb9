/**
 * Seed 003's priorities on a backed-up connection: critical publications (priority 1) are written
 * ahead of the frames of other channels queued before them, never past an earlier frame of their
 * own channel (order within a channel never changes) and never past a control frame (a
 * `subscribed` frame must precede its channel's publications).
 * @module
 */
import { MessagePriority } from '@taskpulse/protocol';
import type { SerializedPublication } from '../core/serialized';

/** The priority written first under backpressure and never conflated. */
export const CRITICAL_PRIORITY: number = MessagePriority.CRITICAL;

/** Whether a publication is critical (priority 1). @internal */
export function isCritical(publication: SerializedPublication): boolean {
  return publication.pub.priority === CRITICAL_PRIORITY;
}

/**
 * Reorders a connection's queue so that critical publications go first (see the module
 * description). Conflated holes (`null`) are dropped. Stable otherwise. @internal
 */
export function promoteCritical(
  queue: ReadonlyArray<SerializedPublication | string | null>,
): Array<SerializedPublication | string> {
  const out: Array<SerializedPublication | string> = [];
  let front: SerializedPublication[] = [];
  let rest: Array<SerializedPublication | string> = [];
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
    if (typeof entry === 'string') {
      endSegment();
      out.push(entry);
      continue;
    }
    const channel = entry.pub.channel;
    if (isCritical(entry) && !blocked.has(channel)) front.push(entry);
    else {
      rest.push(entry);
      blocked.add(channel);
    }
  }
  endSegment();
  return out;
}
