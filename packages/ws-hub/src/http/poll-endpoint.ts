/**
 * HTTP polling: one stateless request reads several channels from their positions (seed 004's
 * batch endpoint and incremental `last_id`), with ETag/304 and an optional long-poll wait.
 * No state is kept between requests, so consecutive polls may hit different hub nodes.
 * @module
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChannelKind, Publication, StreamPosition } from '@taskpulse/protocol';
import { TaskpulseError } from '@taskpulse/protocol';
import type { ChannelListener } from '../core/channel-router';
import type { HubCore } from '../core/hub-core';
import type { Principal } from '../core/principal';
import { SerializedPublication } from '../core/serialized';
import { bodyChannelRequest, type ChannelRequest, queryChannelRequest, resolveLastId } from './channel-params';
import { ifNoneMatch, intParam, readJsonBody, sendJsonText } from './http-io';
import { RecentValues } from './recent-values';

/** One channel in a poll response. */
export interface PollChannelResult {
  /** The channel's kind. */
  kind: ChannelKind;
  /** Epoch of the next position (send it back to continue). */
  epoch: string;
  /** Offset of the next position: the last publication returned, or the position asked for. */
  offset: number;
  /**
   * Present when a position was asked for: true when `publications` continue exactly after it,
   * false when history could not cover the gap (epoch changed, too old): `state` then holds the
   * current value and the position restarts from the channel's current one.
   */
  recovered?: boolean;
  /** Publications after the position, oldest first. */
  publications: Publication[];
  /** True when more publications are waiting: poll again at once with the new position. */
  more?: boolean;
  /** The newest publication (first poll of a channel, or `recovered: false`), or null when none. */
  state?: Publication | null;
}

/** Body of a `poll` response. */
export interface PollResponse {
  /** Results per channel. */
  channels: Record<string, PollChannelResult>;
  /** The next position of every channel. */
  positions: Record<string, StreamPosition>;
  /** The same positions as one cursor (`since=` of the next poll; also valid as an SSE `Last-Event-ID`). */
  cursor: string;
  /** Single-channel polls: the next offset (seed 004's incremental `last_id`). */
  last_id?: number;
}

/** Settings of the poll endpoint. */
export interface PollSettings {
  maxWaitMs: number;
  defaultLimit: number;
  maxLimit: number;
  maxBodyBytes: number;
  /** Registers a waiter woken when the handler closes; returns the unregister function. */
  onClose(wake: () => void): () => void;
  /** The handler's long-poll waiters, counted against the hub's connection limits. */
  waiters: PollWaiters;
}

/**
 * Counts the long polls of one HTTP handler that are waiting for a change. A waiting poll holds
 * router listeners (and broker subscriptions) on up to `maxChannelsPerConnection` channels, like
 * a connection, so it is admitted like one: {@link HubCore.admit} (open sessions, shutdown), and
 * at most `limits.maxConnections` waiters in all and `limits.maxConnectionsPerUser` per user id.
 */
export class PollWaiters {
  #total = 0;
  readonly #perUser = new Map<string, number>();

  /** Waiting polls now. */
  get size(): number {
    return this.#total;
  }

  /**
   * Admits one more waiter or throws `too_many_connections` (`details.status` 503 for the hub's
   * limit, 429 for the user's, as {@link HubCore.admit}) or `shutting_down`.
   * @returns the release function (idempotent)
   */
  acquire(core: HubCore, principal: Principal): () => void {
    core.admit(principal);
    const { maxConnections, maxConnectionsPerUser } = core.limits;
    if (this.#total >= maxConnections) {
      core.metrics.rejections.inc({ reason: 'max_connections' });
      throw new TaskpulseError('too_many_connections', 'the hub is at its limit of waiting polls', {
        details: { status: 503, limit: maxConnections },
      });
    }
    const user = principal.userId;
    if (user !== undefined && (this.#perUser.get(user) ?? 0) >= maxConnectionsPerUser) {
      core.metrics.rejections.inc({ reason: 'max_connections_per_user' });
      throw new TaskpulseError('too_many_connections', `user ${user} has too many waiting polls`, {
        details: { status: 429, limit: maxConnectionsPerUser },
      });
    }
    this.#total++;
    if (user !== undefined) this.#perUser.set(user, (this.#perUser.get(user) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      if (user === undefined) return;
      const n = (this.#perUser.get(user) ?? 1) - 1;
      if (n > 0) this.#perUser.set(user, n);
      else this.#perUser.delete(user);
    };
  }
}

/**
 * One channel's result as read: publications as stored texts ({@link SerializedPublication},
 * from the watched-channel cache) or parsed objects (broker reads); serialized by {@link bodyJson}.
 */
interface ChannelRead {
  kind: ChannelKind;
  epoch: string;
  offset: number;
  recovered?: boolean;
  publications: readonly (SerializedPublication | Publication)[];
  more?: boolean;
  state?: SerializedPublication | Publication | null;
}

/** A poll's result before serialization. */
interface PollRead {
  names: readonly string[];
  reads: ChannelRead[];
  cursor: string;
}

/** From the watched-channel cache when it proves the answer, else undefined (read the broker). */
function cachedRead(
  core: HubCore,
  channel: string,
  kind: ChannelKind,
  since: StreamPosition | undefined,
  limit: number,
): ChannelRead | undefined {
  const snap = core.watched.snapshot(channel);
  if (snap === undefined) return undefined;
  if (!since) return { kind, epoch: snap.epoch, offset: snap.offset, publications: [], state: snap.latest };
  if (since.epoch !== snap.epoch || since.offset > snap.offset) return undefined;
  if (since.offset === snap.offset)
    return { kind, epoch: since.epoch, offset: since.offset, recovered: true, publications: [] };
  const tail = snap.tail;
  const first = tail[0];
  // Older than the tail: the broker's history answers (or says it cannot).
  if (first === undefined || first.offset > since.offset + 1) return undefined;
  const start = since.offset + 1 - first.offset;
  const publications = tail.slice(start, start + limit);
  const last = publications[publications.length - 1] as SerializedPublication;
  const read: ChannelRead = { kind, epoch: last.epoch, offset: last.offset, recovered: true, publications };
  if (last.offset < snap.offset) read.more = true;
  return read;
}

async function readChannel(
  core: HubCore,
  channel: string,
  since: StreamPosition | undefined,
  limit: number,
): Promise<ChannelRead> {
  const kind = core.broker.namespaceOptions(channel).kind;
  const cached = cachedRead(core, channel, kind, since, limit);
  if (cached !== undefined) return cached;
  if (since) {
    const h = await core.broker.history(channel, { since, limit });
    if (h.recovered) {
      const last = h.publications[h.publications.length - 1];
      const next = last ? { epoch: last.epoch, offset: last.offset } : since;
      const more = last !== undefined && h.publications.length >= limit && last.offset < h.offset;
      return { kind, ...next, recovered: true, publications: h.publications, ...(more ? { more } : {}) };
    }
    const state = await core.broker.state(channel);
    return { kind, epoch: state.epoch, offset: state.offset, recovered: false, publications: [], state: state.latest };
  }
  const state = await core.broker.state(channel);
  return { kind, epoch: state.epoch, offset: state.offset, publications: [], state: state.latest };
}

/** Reads every channel from its position (`last_id` already resolved into `since`). */
async function poll(
  core: HubCore,
  names: readonly string[],
  since: ReadonlyMap<string, StreamPosition>,
  limit: number,
): Promise<PollRead> {
  const reads =
    names.length === 1
      ? [await readChannel(core, names[0] as string, since.get(names[0] as string), limit)]
      : await Promise.all(names.map((c) => readChannel(core, c, since.get(c), limit)));
  let json = '{';
  names.forEach((c, i) => {
    const r = reads[i] as ChannelRead;
    if (i > 0) json += ',';
    json += `${JSON.stringify(c)}:[${JSON.stringify(r.epoch)},${r.offset}]`;
  });
  return { names, reads, cursor: Buffer.from(`${json}}`, 'utf8').toString('base64url') };
}

function pubJson(p: SerializedPublication | Publication): string {
  return p instanceof SerializedPublication ? p.json : JSON.stringify(p);
}

/** The {@link PollResponse} as JSON text: publications are written as their stored texts. */
function bodyJson(body: PollRead): string {
  let channels = '';
  let positions = '';
  body.names.forEach((c, i) => {
    const r = body.reads[i] as ChannelRead;
    const name = JSON.stringify(c);
    const epoch = JSON.stringify(r.epoch);
    let pubs = '';
    for (let j = 0; j < r.publications.length; j++) {
      pubs += (j > 0 ? ',' : '') + pubJson(r.publications[j] as Publication);
    }
    let one = `{"kind":${JSON.stringify(r.kind)},"epoch":${epoch},"offset":${r.offset}`;
    if (r.recovered !== undefined) one += `,"recovered":${r.recovered}`;
    one += `,"publications":[${pubs}]`;
    if (r.more) one += ',"more":true';
    if (r.state !== undefined) one += `,"state":${r.state === null ? 'null' : pubJson(r.state)}`;
    if (i > 0) {
      channels += ',';
      positions += ',';
    }
    channels += `${name}:${one}}`;
    positions += `${name}:{"epoch":${epoch},"offset":${r.offset}}`;
  });
  let out = `{"channels":{${channels}},"positions":{${positions}},"cursor":${JSON.stringify(body.cursor)}`;
  if (body.names.length === 1) out += `,"last_id":${(body.reads[0] as ChannelRead).offset}`;
  return `${out}}`;
}

/** ETags of recent cursors: the clients of one channel are answered with the same cursor. */
const etags = new RecentValues<string>();

function etagOf(body: PollRead): string {
  const cursor = body.cursor;
  return etags.get(cursor, () => `"${createHash('sha256').update(cursor).digest('base64url').slice(0, 27)}"`);
}

/** Nothing new: every channel continued from its position with no publication. */
function idle(body: PollRead): boolean {
  return body.reads.every((r) => r.recovered === true && r.publications.length === 0);
}

/** Waits until a publication (or reset) lands on one of the channels, the timeout, or a close. */
async function waitForChange(
  core: HubCore,
  channels: readonly string[],
  waitMs: number,
  response: ServerResponse,
  settings: PollSettings,
  recheck: () => Promise<boolean>,
): Promise<'changed' | 'timeout' | 'gone'> {
  let wake!: (why: 'changed' | 'timeout' | 'gone') => void;
  const woke = new Promise<'changed' | 'timeout' | 'gone'>((resolve) => {
    wake = resolve;
  });
  const listener: ChannelListener = { onPublication: () => wake('changed'), onReset: () => wake('changed') };
  const attached: string[] = [];
  const onGone = () => wake('gone');
  response.once('close', onGone);
  // Gone already: 'close' was emitted before we listened and would never wake this waiter.
  if (response.destroyed || response.socket?.destroyed === true) {
    response.off('close', onGone);
    return 'gone';
  }
  const unregister = settings.onClose(() => wake('timeout'));
  const timer = setTimeout(() => wake('timeout'), waitMs);
  try {
    for (const c of channels) {
      await core.router.attach(c, listener);
      attached.push(c);
    }
    // A publication may have landed between the first read and the attach.
    if (await recheck()) return 'changed';
    return await woke;
  } finally {
    clearTimeout(timer);
    unregister();
    response.off('close', onGone);
    for (const c of attached) core.router.detach(c, listener);
  }
}

/** Handles `GET|POST {base}/poll`. */
export async function handlePoll(
  core: HubCore,
  principal: Principal,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  settings: PollSettings,
  headers: Record<string, string>,
): Promise<void> {
  const maxChannels = core.limits.maxChannelsPerConnection;
  let channelRequest: ChannelRequest;
  let waitMs: number;
  let limit: number;
  if (request.method === 'POST') {
    const body = await readJsonBody(request, settings.maxBodyBytes);
    channelRequest = bodyChannelRequest(body, maxChannels);
    const b = body as Record<string, unknown>;
    waitMs = numberField(b.wait, 'wait', 0, 0, settings.maxWaitMs);
    limit = numberField(b.limit, 'limit', settings.defaultLimit, 1, settings.maxLimit);
  } else {
    channelRequest = queryChannelRequest(url, maxChannels);
    waitMs = intParam(url, 'wait', 0, 0, settings.maxWaitMs);
    limit = intParam(url, 'limit', settings.defaultLimit, 1, settings.maxLimit);
  }
  const { channels } = channelRequest;
  for (const c of channels) await core.authorize(principal, c, 'read');
  // Once per request, after authorization: the wait loop re-reads from the same positions.
  const since = await resolveLastId(core.broker, channelRequest);
  // Bound the whole response, not only each channel: many channels share `maxLimit` publications.
  limit = Math.min(limit, Math.max(1, Math.floor(settings.maxLimit / channels.length)));

  const tags = ifNoneMatch(request);
  const matches = (b: PollRead) => tags.length > 0 && (tags.includes('*') || tags.includes(etagOf(b)));
  let body: PollRead = await poll(core, channels, since, limit);
  if (waitMs > 0 && (matches(body) || idle(body))) {
    // The client may have gone meanwhile (authentication, reads): no waiter on a dead socket.
    if (request.socket.destroyed || response.destroyed) return;
    // A waiting poll holds listeners like a connection: admitted like one, or refused at once.
    const release = settings.waiters.acquire(core, principal);
    let fresh = false;
    let outcome: 'changed' | 'timeout' | 'gone';
    try {
      outcome = await waitForChange(core, channels, waitMs, response, settings, async () => {
        const again = await poll(core, channels, since, limit);
        fresh = !(matches(again) || idle(again));
        if (fresh) body = again;
        return fresh;
      });
    } finally {
      release();
    }
    if (outcome === 'gone') return;
    if (outcome === 'changed' && !fresh) body = await poll(core, channels, since, limit);
  }
  const etag = etagOf(body);
  const cacheHeaders = {
    ...headers,
    etag,
    'cache-control': 'private, no-cache',
    vary: 'Origin, Authorization, Cookie',
  };
  if (tags.length > 0 && (tags.includes('*') || tags.includes(etag))) {
    response.writeHead(304, cacheHeaders);
    response.end();
    return;
  }
  let count = 0;
  for (const r of body.reads) count += r.publications.length;
  if (count > 0) core.metrics.deliveries.inc({ transport: 'poll' }, count);
  sendJsonText(response, 200, bodyJson(body), cacheHeaders);
}

function numberField(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TaskpulseError('bad_request', `${name} must be an integer between ${min} and ${max}`, {
      details: { min, max },
    });
  }
  return value;
}
