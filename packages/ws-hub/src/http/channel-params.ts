/**
 * Reading the channel list and positions of SSE and polling requests.
 * @module
 */
import { assertChannel, type Broker, type StreamPosition, TaskpulseError } from '@taskpulse/protocol';
import { decodePositionsCursor, parsePosition } from './positions-cursor';

/** Channels and the positions to resume them from. */
export interface ChannelRequest {
  /** Channels, deduplicated, in request order. */
  channels: string[];
  /** Positions of some of the channels. */
  positions: Map<string, StreamPosition>;
  /** `last_id` (seed 004): an offset in the channel's current epoch, for a single channel. */
  lastId?: { channel: string; offset: number; epoch?: string };
}

/** Validates a list of channel names (grammar, duplicates, count). */
export function checkChannels(names: readonly unknown[], maxChannels: number): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    const channel = assertChannel(name);
    if (!seen.has(channel)) {
      seen.add(channel);
      out.push(channel);
    }
  }
  if (out.length === 0) throw new TaskpulseError('bad_request', 'name at least one channel (channel=…)');
  if (out.length > maxChannels) {
    throw new TaskpulseError('too_many_channels', `at most ${maxChannels} channels per request`, {
      details: { limit: maxChannels },
    });
  }
  return out;
}

/** Channels of a query: repeated `channel=` and/or comma-separated `channels=` (seed 004's `topics=`). */
export function queryChannels(url: URL, maxChannels: number): string[] {
  const names: string[] = [...url.searchParams.getAll('channel')];
  for (const key of ['channels', 'topics']) {
    for (const list of url.searchParams.getAll(key)) names.push(...list.split(',').filter((s) => s !== ''));
  }
  return checkChannels(names, maxChannels);
}

/** Keeps the positions of requested channels only. */
export function positionsFor(
  channels: readonly string[],
  all: Record<string, StreamPosition>,
): Map<string, StreamPosition> {
  const out = new Map<string, StreamPosition>();
  for (const c of channels) if (Object.hasOwn(all, c)) out.set(c, all[c] as StreamPosition);
  return out;
}

/** Parses seed 004's `last_id` (with optional `epoch`) for a single-channel request. */
export function parseLastId(
  channels: readonly string[],
  lastId: unknown,
  epoch: unknown,
): ChannelRequest['lastId'] | undefined {
  if (lastId === undefined || lastId === null || lastId === '') return undefined;
  if (channels.length !== 1) throw new TaskpulseError('bad_request', 'last_id needs exactly one channel');
  const offset = typeof lastId === 'string' && /^\d{1,16}$/.test(lastId) ? Number(lastId) : lastId;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new TaskpulseError('bad_request', 'bad position: last_id must be a non-negative integer');
  }
  if (epoch !== undefined && epoch !== null && epoch !== '') {
    const p = parsePosition({ epoch, offset }, channels[0] as string);
    return { channel: channels[0] as string, offset: p.offset, epoch: p.epoch };
  }
  return { channel: channels[0] as string, offset };
}

/** The channel request of a GET query (`channel`, `since` cursor, `last_id` + `epoch`). */
export function queryChannelRequest(url: URL, maxChannels: number, cursor?: string): ChannelRequest {
  const channels = queryChannels(url, maxChannels);
  const token = cursor ?? url.searchParams.get('since') ?? url.searchParams.get('cursor');
  const positions = token ? positionsFor(channels, decodePositionsCursor(token, { maxChannels })) : new Map();
  const lastId = parseLastId(
    channels,
    url.searchParams.get('last_id') ?? undefined,
    url.searchParams.get('epoch') ?? undefined,
  );
  return lastId ? { channels, positions, lastId } : { channels, positions };
}

/**
 * The channel request of a POST body:
 * `{"channels": {"task:1": {"epoch": "…", "offset": 3}, "task:2": null}}`, or
 * `{"channels": ["task:1", "task:2"], "since": "<cursor>"}`; `last_id`/`epoch` for one channel.
 */
export function bodyChannelRequest(body: unknown, maxChannels: number): ChannelRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new TaskpulseError('bad_request', 'request body must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  const positions = new Map<string, StreamPosition>();
  let channels: string[];
  if (Array.isArray(b.channels)) {
    channels = checkChannels(b.channels, maxChannels);
    if (b.since !== undefined) {
      if (typeof b.since !== 'string') throw new TaskpulseError('bad_request', 'since must be a cursor string');
      for (const [c, p] of positionsFor(channels, decodePositionsCursor(b.since, { maxChannels }))) positions.set(c, p);
    }
  } else if (b.channels !== null && typeof b.channels === 'object') {
    const entries = Object.entries(b.channels as Record<string, unknown>);
    channels = checkChannels(
      entries.map(([c]) => c),
      maxChannels,
    );
    for (const [c, p] of entries) if (p !== null && p !== undefined) positions.set(c, parsePosition(p, c));
  } else {
    throw new TaskpulseError('bad_request', 'channels must be an array of names or an object of positions');
  }
  const lastId = parseLastId(channels, b.last_id, b.epoch);
  return lastId ? { channels, positions, lastId } : { channels, positions };
}

/**
 * Turns `last_id` into a position of its channel: without an epoch, the offset is taken in the
 * channel's current epoch (one `broker.state` read). A position from a cursor for the same channel
 * wins. Call it once per request, after authorizing the channels (a read costs a broker call).
 * @returns the request's positions, `last_id` included
 */
export async function resolveLastId(
  broker: Pick<Broker, 'state'>,
  request: ChannelRequest,
): Promise<Map<string, StreamPosition>> {
  const { lastId, positions } = request;
  if (!lastId || positions.has(lastId.channel)) return positions;
  const epoch = lastId.epoch ?? (await broker.state(lastId.channel)).epoch;
  return new Map(positions).set(lastId.channel, { epoch, offset: lastId.offset });
}
