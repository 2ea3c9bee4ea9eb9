/**
 * What a plain `ws` client says and listens for, per server. The load generator is one code base
 * for all three servers: only the URL, the handshake and the envelope around the payload differ.
 *
 * - bare ws: every message is the payload.
 * - Socket.IO (engine.io v4 over `EIO=4&transport=websocket`): `0{…}` open → send `40`
 *   (connect to namespace `/`) → `40{"sid":…}` ready; `2` ping → `3` pong; `42["m",{…}]` events.
 * - taskpulse native protocol: `welcome` → one `subscribe` per channel (with `since` when resuming)
 *   → `subscribed` each → `publication` / `batch` frames.
 */
import type WebSocket from 'ws';
import type { VariantName } from '../servers/types';

/** A position in a channel (taskpulse). */
export interface Position {
  epoch: string;
  offset: number;
}

/** Per-client verification counters (taskpulse tracking mode). */
export interface TrackCounters {
  /** Publications missing between consecutive offsets. */
  lost: number;
  /** Publications received at or below an offset already seen. */
  duplicates: number;
  /** `subscribed` frames with `recovered: false`. */
  notRecovered: number;
  /** `subscribed` frames with `recovered: true`. */
  recovered: number;
  /** Error frames received. */
  errorFrames: number;
  firstError: string | null;
}

/** One client connection and what the load generator knows about it. */
export interface BenchClient {
  ws: WebSocket;
  channels: string[];
  ready: boolean;
  /** set when the load generator closes it on purpose */
  closing: boolean;
  subscribed: number;
  /** last position per channel (tracking mode) */
  positions: Map<string, Position>;
  /** position to resume from per channel on the next connect (tracking mode) */
  resumeFrom: Map<string, Position> | null;
  /** when the last `open` of this client started (µs, machine monotonic clock) */
  openedUs: number;
  /** when its last subscription was answered (µs), 0 before */
  subscribedUs: number;
}

/** A client of `channels` that has not connected yet (its `ws` is set when it opens). */
export function newBenchClient(channels: string[], ws: WebSocket = null as unknown as WebSocket): BenchClient {
  return {
    ws,
    channels,
    ready: false,
    closing: false,
    subscribed: 0,
    positions: new Map(),
    resumeFrom: null,
    openedUs: 0,
    subscribedUs: 0,
  };
}

/** Callbacks the load generator gives a dialect. */
export interface DialectContext {
  /** A frame that carries payloads: count and time them. */
  deliveries(frame: Buffer): void;
  /** The same, for a frame already turned into (latin1) text. */
  deliveriesText(frame: string): void;
  /** The client finished its handshake and subscriptions. */
  ready(client: BenchClient): void;
  /** Tracking mode: whether to parse publications fully (offsets). */
  tracking: boolean;
  /** Tracking mode: one publication, in frame order. */
  publication(client: BenchClient, channel: string, offset: number, epoch: string, frame: Buffer): void;
  /** A subscribe answer. */
  subscribed(client: BenchClient, channel: string, recovered: boolean | undefined, position: Position): void;
  /** An error frame. */
  error(client: BenchClient, message: string): void;
}

/** The server-specific part of a client. */
export interface Dialect {
  url(port: number, path: string, channels: string[]): string;
  onOpen(client: BenchClient, ctx: DialectContext): void;
  onMessage(client: BenchClient, data: Buffer, ctx: DialectContext): void;
}

function query(channels: string[]): string {
  return channels.map((c) => `channel=${encodeURIComponent(c)}`).join('&');
}

const bareWs: Dialect = {
  url: (port, path, channels) => `ws://127.0.0.1:${port}${path}?${query(channels)}`,
  onOpen: (client, ctx) => ctx.ready(client),
  onMessage: (_client, data, ctx) => ctx.deliveries(data),
};

const CHAR_0 = 0x30;
const CHAR_2 = 0x32;
const CHAR_4 = 0x34;

const socketIo: Dialect = {
  url: (port, path, channels) => `ws://127.0.0.1:${port}${path}?EIO=4&transport=websocket&${query(channels)}`,
  onOpen: () => {},
  onMessage(client, data, ctx) {
    const first = data[0];
    if (first === CHAR_4) {
      const second = data[1];
      if (second === CHAR_2)
        ctx.deliveries(data); // 42["m",{…}]
      else if (second === CHAR_0 && !client.ready)
        ctx.ready(client); // 40{"sid":…}
      else if (data[1] === 0x34) ctx.error(client, data.toString()); // 44 connect_error
    } else if (first === CHAR_2 && data.length === 1) {
      client.ws.send('3'); // engine.io ping → pong
    } else if (first === CHAR_0) {
      client.ws.send('40'); // engine.io open → socket.io connect to "/"
    }
  },
};

interface TaskpulseFrame {
  type: string;
  channel?: string;
  offset?: number;
  epoch?: string;
  recovered?: boolean;
  message?: string;
  code?: string;
  publications?: Array<{ channel: string; offset: number; epoch: string }>;
}

const MARKER = Buffer.from('"bt":');
const CHANNEL_KEY = '"channel":"';
const OFFSET_KEY = '","offset":';
const EPOCH_KEY = ',"epoch":"';
const PUBLICATION_FRAME = Buffer.from('{"type":"publication",');
const BATCH_FRAME = Buffer.from('{"type":"batch",');

/**
 * Tracking mode: the position of every publication in a `publication` or `batch` frame, read
 * from its text (every publication starts `"channel":"…","offset":N,"epoch":"…"` and the
 * benchmark's payload has no `channel` key), without decoding the frame: a recovery storm is a
 * million publications, and a JSON.parse of each frame would make the load generators, not the
 * hub, the slowest stage. Returns null when a publication's header is not where expected.
 */
function scanPositions(text: string): Array<[string, number, string]> | null {
  const found: Array<[string, number, string]> = [];
  let at = text.indexOf(CHANNEL_KEY);
  while (at !== -1) {
    const channelStart = at + CHANNEL_KEY.length;
    const channelEnd = text.indexOf('"', channelStart);
    if (channelEnd === -1 || !text.startsWith(OFFSET_KEY, channelEnd)) return null;
    const offsetStart = channelEnd + OFFSET_KEY.length;
    const offsetEnd = text.indexOf(EPOCH_KEY, offsetStart);
    const offset = Number(text.slice(offsetStart, offsetEnd));
    if (offsetEnd === -1 || !Number.isSafeInteger(offset)) return null;
    const epochStart = offsetEnd + EPOCH_KEY.length;
    const epochEnd = text.indexOf('"', epochStart);
    if (epochEnd === -1) return null;
    found.push([text.slice(channelStart, channelEnd), offset, text.slice(epochStart, epochEnd)]);
    at = text.indexOf(CHANNEL_KEY, epochEnd);
  }
  return found.length > 0 ? found : null;
}

const taskpulse: Dialect = {
  url: (port, path) => `ws://127.0.0.1:${port}${path}`,
  onOpen: () => {},
  onMessage(client, data, ctx) {
    // fast path: frames that carry payloads are only counted and timed, like for every server
    if (!ctx.tracking && data.indexOf(MARKER) !== -1) {
      ctx.deliveries(data);
      return;
    }
    const text =
      ctx.tracking &&
      (data.compare(PUBLICATION_FRAME, 0, PUBLICATION_FRAME.length, 0, PUBLICATION_FRAME.length) === 0 ||
        data.compare(BATCH_FRAME, 0, BATCH_FRAME.length, 0, BATCH_FRAME.length) === 0)
        ? data.toString('latin1')
        : null;
    const positions = text === null ? null : scanPositions(text);
    if (text !== null && positions) {
      for (const [channel, offset, epoch] of positions) ctx.publication(client, channel, offset, epoch, data);
      ctx.deliveriesText(text);
      return;
    }
    const frame = JSON.parse(data.toString()) as TaskpulseFrame;
    switch (frame.type) {
      case 'welcome':
        for (const channel of client.channels) {
          const since = client.resumeFrom?.get(channel);
          client.ws.send(
            JSON.stringify(since ? { type: 'subscribe', channel, since } : { type: 'subscribe', channel }),
          );
        }
        break;
      case 'subscribed':
        ctx.subscribed(client, frame.channel ?? '', frame.recovered, {
          epoch: frame.epoch ?? '',
          offset: frame.offset ?? 0,
        });
        if (++client.subscribed === client.channels.length) ctx.ready(client);
        break;
      case 'publication':
        ctx.publication(client, frame.channel ?? '', frame.offset ?? 0, frame.epoch ?? '', data);
        ctx.deliveries(data);
        break;
      case 'batch':
        for (const p of frame.publications ?? []) ctx.publication(client, p.channel, p.offset, p.epoch, data);
        ctx.deliveries(data);
        break;
      case 'error':
        ctx.error(client, `${frame.code}: ${frame.message}`);
        break;
      default:
        break;
    }
  },
};

/** The dialect each server speaks. */
export const DIALECTS: Record<VariantName, Dialect> = {
  ws: bareWs,
  'ws-twin': bareWs,
  'ws-scripted': bareWs,
  socketio: socketIo,
  taskpulse,
  'taskpulse-unverified': taskpulse,
};
