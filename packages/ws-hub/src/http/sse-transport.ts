/**
 * A {@link SessionTransport} over a Server-Sent Events response. Auth, authorization, recovery and
 * positions are the session's (the same code as WebSocket); this file only turns frames into
 * events, keeps the resumable event id, sends heartbeats, and copes with slow readers.
 * @module
 */
import type { ServerResponse } from 'node:http';
import { type ChannelKind, MessagePriority, type ServerFrame } from '@taskpulse/protocol';
import type { HubCore } from '../core/hub-core';
import { batchFrame, type SerializedPublication } from '../core/serialized';
import type { Session, SessionTransport } from '../core/session';
import { encodeCompactCursor } from './positions-cursor';

interface Queued {
  text: string;
  bytes: number;
  /** Set for a single publication of a state channel: a newer one replaces it (conflation). */
  conflateKey?: string;
}

/** Options of {@link SseTransport}. */
export interface SseTransportOptions {
  /** Heartbeat comment interval, in ms (0 disables). */
  heartbeatIntervalMs: number;
  /** `retry:` hint sent first, in ms. */
  retryMs: number;
  /** Called once when the stream ends, whoever ended it. */
  onEnd?: () => void;
}

/**
 * Writes a session's frames as SSE events. Each event carries `id:` = every channel position
 * after it (a cursor), so a reconnecting `EventSource` sends it back as `Last-Event-ID` and the
 * new session resumes each channel exactly where this one stopped.
 */
export class SseTransport implements SessionTransport {
  /** Transport name in stats and metrics. */
  readonly name = 'sse';
  /** The session, set right after it is opened. */
  session: Session | undefined;
  readonly #core: HubCore;
  readonly #response: ServerResponse;
  readonly #options: SseTransportOptions;
  /** Positions in stream order (what the client has once it read the last written event). */
  readonly #positions = new Map<string, [string, number]>();
  /** The `id:` line of `#positions`, built once per change (null: to build): not once per event. */
  #idLine: string | null = null;
  #pending: SerializedPublication[] = [];
  #flushScheduled = false;
  #queue: Queued[] = [];
  #queuedBytes = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(core: HubCore, response: ServerResponse, options: SseTransportOptions) {
    this.#core = core;
    this.#response = response;
    this.#options = options;
    response.on('drain', () => this.#drain());
    response.on('close', () => this.#end());
  }

  /** Writes the response head, the `retry:` hint and the welcome event; starts heartbeats. */
  start(headers: Record<string, string>): void {
    this.#response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx: do not buffer this response (see docs/http.md)
      'x-accel-buffering': 'no',
      ...headers,
    });
    this.#response.socket?.setNoDelay(true);
    this.#write(`retry: ${this.#options.retryMs}\n\n`);
    if (this.session) this.#write(`data: ${this.session.welcomeFrame()}\n\n`);
    const every = this.#options.heartbeatIntervalMs;
    if (every > 0) {
      this.#heartbeat = setInterval(() => {
        // A heartbeat behind a full buffer would only add to it; the queue itself proves liveness.
        if (!this.#response.writableNeedDrain && this.#queue.length === 0) this.#write(':\n\n');
      }, every);
      this.#heartbeat.unref?.();
    }
  }

  /**
   * Sets the positions the stream resumes from before anything is written, so that every event
   * id carries every resumed channel from the first event on — also those whose `subscribed`
   * answer is not written yet (a stream cut after its first event must not drop them).
   */
  seedPositions(positions: ReadonlyMap<string, { epoch: string; offset: number }>): void {
    for (const [channel, p] of positions) this.#positions.set(channel, [p.epoch, p.offset]);
    this.#idLine = null;
  }

  /** Whether the stream has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  sendControl(text: string, value?: ServerFrame): void {
    if (this.#ended) return;
    this.#flushPending();
    let frame = value;
    if (frame === undefined) {
      try {
        frame = JSON.parse(text) as ServerFrame;
      } catch {
        frame = undefined;
      }
    }
    if (frame?.type === 'subscribed') {
      // The session's position, not the frame's: after a recovered subscribe the frame carries the
      // channel's top while the client is still at the requested position until the missed
      // publications that follow are written.
      const p = this.session?.positionOf(frame.channel) ?? { epoch: frame.epoch, offset: frame.offset };
      this.#positions.set(frame.channel, [p.epoch, p.offset]);
      this.#idLine = null;
    } else if (frame?.type === 'unsubscribed') {
      if (this.#positions.delete(frame.channel)) this.#idLine = null;
    }
    this.#emit(this.#event(text));
  }

  deliver(publication: SerializedPublication, kind: ChannelKind): void {
    if (this.#ended) return;
    this.#core.metrics.deliveries.inc({ transport: this.name });
    if (this.#response.writableNeedDrain || this.#queue.length > 0) {
      // Backpressure: one event per publication so a state channel's older values can be dropped.
      this.#flushPending();
      this.#apply(publication);
      // Seed 003's critical publications (priority 1) are never conflated.
      const conflate = kind === 'state' && publication.pub.priority !== MessagePriority.CRITICAL;
      this.#emit(this.#event(publication.frame), conflate ? publication.pub.channel : undefined);
      return;
    }
    // Publications delivered in one tick (a recovery, a burst) become one `batch` event.
    this.#pending.push(publication);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => {
        this.#flushScheduled = false;
        this.#flushPending();
      });
    }
  }

  close(_code: number, _reason: string): void {
    if (this.#ended) return;
    this.#flushPending();
    this.#response.end();
    this.#end();
  }

  #flushPending(): void {
    const items = this.#pending;
    if (items.length === 0) return;
    this.#pending = [];
    for (const p of items) this.#apply(p);
    const first = items[0] as SerializedPublication;
    this.#emit(this.#event(items.length === 1 ? first.frame : batchFrame(items)));
  }

  #apply(p: SerializedPublication): void {
    this.#positions.set(p.pub.channel, [p.pub.epoch, p.pub.offset]);
    this.#idLine = null;
  }

  #event(data: string): string {
    // JSON text never contains a raw newline, so one `data:` line carries the whole frame.
    if (this.#positions.size === 0) return `data: ${data}\n\n`;
    this.#idLine ??= `id: ${encodeCompactCursor(this.#positions)}\n`;
    return `${this.#idLine}data: ${data}\n\n`;
  }

  #emit(text: string, conflateKey?: string): void {
    if (this.#ended) return;
    if (!this.#response.writableNeedDrain && this.#queue.length === 0) {
      this.#write(text);
      return;
    }
    if (conflateKey !== undefined) {
      const i = this.#queue.findIndex((q) => q.conflateKey === conflateKey);
      if (i !== -1) {
        this.#queuedBytes -= (this.#queue[i] as Queued).bytes;
        this.#queue.splice(i, 1);
      }
    }
    const bytes = Buffer.byteLength(text);
    this.#queue.push(conflateKey === undefined ? { text, bytes } : { text, bytes, conflateKey });
    this.#queuedBytes += bytes;
    if (this.#queuedBytes + this.#response.writableLength > this.#core.limits.maxBufferedBytes) {
      // Cut the slow reader; its EventSource reconnects with the last id it read and recovers.
      this.#core.metrics.slowConsumerDisconnects.inc();
      this.#core.logger.warn('sse slow consumer cut', { clientId: this.session?.id });
      this.#response.destroy();
      this.#end();
    }
  }

  #drain(): void {
    while (this.#queue.length > 0 && !this.#response.writableNeedDrain && !this.#ended) {
      const next = this.#queue.shift() as Queued;
      this.#queuedBytes -= next.bytes;
      this.#write(next.text);
    }
  }

  #write(text: string): void {
    if (!this.#ended) this.#response.write(text);
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#heartbeat);
    this.#queue = [];
    this.#pending = [];
    this.session?.close();
    this.#options.onEnd?.();
  }
}
