/**
 * One channel's part of a poll answer, checked by hand and applied to the registry: a first read
 * (position and state), a reset (`recovered: false`), or the publications after the client's
 * position.
 * @module
 */
import type { ChannelEntry, ChannelRegistry } from '../channels/registry';
import { isPublication } from '../frame';
import type { ChannelPosition, ClientPublication } from '../types';

/** One channel of a poll answer. @internal */
export interface PollChannel {
  kind: 'events' | 'state';
  epoch: string;
  offset: number;
  recovered?: boolean;
  publications: ClientPublication[];
  more?: boolean;
  state?: ClientPublication | null;
}

/** True when `r` has the fields of a channel result the client reads. @internal */
export function validChannelResult(r: unknown): r is PollChannel {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  return (
    (o.kind === 'events' || o.kind === 'state') &&
    typeof o.epoch === 'string' &&
    typeof o.offset === 'number' &&
    Array.isArray(o.publications) &&
    o.publications.every(isPublication) &&
    (o.state === undefined || o.state === null || isPublication(o.state))
  );
}

/**
 * Applies one channel's result, polled from `since` (null: a first read). `answered` says this
 * transport already answered the entry (later answers are plain continuations). Returns true
 * when something changed (the poll interval snaps back).
 * @internal
 */
export function applyChannelResult(
  registry: ChannelRegistry,
  entry: ChannelEntry,
  since: ChannelPosition | null,
  r: PollChannel,
  answered: boolean,
): boolean {
  const channel = entry.channel;
  if (since === null) {
    // First read of the channel; skip it if another transport gave it a position meanwhile.
    if (entry.epoch !== null) return false;
    registry.subscribed({ channel, kind: r.kind, epoch: r.epoch, offset: r.offset, state: r.state ?? null });
    return true;
  }
  if (r.recovered === false) {
    registry.subscribed({
      channel,
      kind: r.kind,
      epoch: r.epoch,
      offset: r.offset,
      recovered: false,
      state: r.state ?? null,
    });
    return true;
  }
  if (!answered) {
    registry.subscribed({ channel, kind: r.kind, epoch: since.epoch, offset: r.offset, recovered: true });
  }
  for (const p of r.publications) registry.publication(p);
  return r.publications.length > 0;
}
