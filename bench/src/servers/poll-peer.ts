/**
 * The peer baseline for HTTP polling: a bare `node:http` server answering the same polls as the
 * hub's poll endpoint, with nothing else — the floor for "is anything new? no: 304".
 *
 * - One Redis subscriber (the bare ws floor's publisher: `PUBLISH channel <payload JSON>`), a
 *   counter and the last 100 payloads per channel in memory; subscribed on the first poll of a
 *   channel.
 * - `GET {path}?channel=C[&since=cursor]`: the cursor is the channel's offset; the ETag is the
 *   hub's (`"` + sha256(cursor) in base64url, 27 characters + `"`), so `If-None-Match` is
 *   checked the same way; a match answers 304 with the same header set as the hub's 304 (the
 *   scenario copies the hub's headers, so the responses have the same size).
 * - Otherwise 200 with `{channels: {C: {publications: [{offset, data}]}}, cursor}` (what the
 *   load generator's poll client reads).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Redis } from 'ioredis';

/** Options of {@link startPollPeer}. */
export interface PollPeerOptions {
  redisUrl: string;
  /** The poll path, e.g. `/poll`. */
  path: string;
  /** Headers every 304 and 200 carries besides `etag` (copied from the hub's 304). */
  headers: Record<string, string>;
}

/** A running poll peer. */
export interface PollPeer {
  port: number;
  path: string;
  close(): Promise<void>;
}

const KEEP = 100;

interface ChannelLog {
  offset: number;
  /** the last {@link KEEP} payloads, `[offset, payload JSON]` */
  recent: Array<[number, string]>;
}

function etagOf(cursor: string): string {
  return `"${createHash('sha256').update(cursor).digest('base64url').slice(0, 27)}"`;
}

/** Starts the peer on 127.0.0.1 and a free port. */
export async function startPollPeer(options: PollPeerOptions): Promise<PollPeer> {
  const sub = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await sub.connect();
  const logs = new Map<string, ChannelLog>();
  sub.on('message', (channel: string, message: string) => {
    const log = logs.get(channel);
    if (!log) return;
    log.offset++;
    log.recent.push([log.offset, message]);
    if (log.recent.length > KEEP) log.recent.shift();
  });

  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const channel = url.searchParams.get('channel');
    if (url.pathname !== options.path || !channel) {
      res.writeHead(404).end();
      return;
    }
    let log = logs.get(channel);
    if (!log) {
      log = { offset: 0, recent: [] };
      logs.set(channel, log);
      sub.subscribe(channel).catch(() => {});
    }
    const since = Number(url.searchParams.get('since') ?? Number.NaN);
    const cursor = String(log.offset);
    const etag = etagOf(cursor);
    const headers = { ...options.headers, etag };
    const tags = req.headers['if-none-match'];
    if (since === log.offset && typeof tags === 'string' && tags.split(',').some((t) => t.trim() === etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const publications = Number.isFinite(since)
      ? log.recent.filter(([o]) => o > since).map(([o, data]) => `{"offset":${o},"data":${data}}`)
      : [];
    const body = `{"channels":{${JSON.stringify(channel)}:{"publications":[${publications.join(',')}]}},"cursor":"${cursor}"}`;
    res.writeHead(200, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  const server = createServer({ keepAliveTimeout: 30_000 }, answer);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve);
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('poll peer has no address');
  return {
    port: address.port,
    path: options.path,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      sub.disconnect();
    },
  };
}
