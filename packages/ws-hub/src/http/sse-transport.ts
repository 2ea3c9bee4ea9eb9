/**
 * A {@link SessionTransport} over a Server-Sent Events response: a thin binding of the core's
 * {@link OutboundQueue}. Auth, authorization, recovery and positions are the session's (the same
 * code as WebSocket), queueing, conflation, batching, priority and slow-consumer cuts the
 * queue's; this file only turns entries into events (the {@link sseEncoder}), writes the
 * response, and sends heartbeats.
 * @module
 */
import { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type ChannelKind, CloseCode, type ServerFrame } from '@taskpulse/protocol';
import type { DeliverySink } from '../core/channel-subscription';
import type { HubCore } from '../core/hub-core';
import { type OutboundEncoder, OutboundQueue, type OutboundSettings, type OutboundSink } from '../core/outbound-queue';
import type { OutboundBatch } from '../core/outbound-scheduler';
import type { SerializedPublication } from '../core/serialized';
import type { Session, SessionTransport } from '../core/session';

/** Options of {@link SseTransport}. */
export interface SseTransportOptions {
  /** Heartbeat comment interval, in ms (0 disables). */
  heartbeatIntervalMs: number;
  /** `retry:` hint sent first, in ms. */
  retryMs: number;
  /** Called once when the stream ends, whoever ended it. */
  onEnd?: () => void;
}

/** One SSE event: the `id:` line (the session's written positions after it) and one `data:` line. */
function sseEvent(data: string, cursor: string | undefined): string {
  // JSON text never contains a raw newline, so one `data:` line carries the whole frame.
  return cursor === undefined ? `data: ${data}\n\n` : `id: ${cursor}\ndata: ${data}\n\n`;
}

/**
 * How queue entries become SSE events. The event id is the cursor of the session's written
 * positions after the event (every channel position the client has once it has read it), so a
 * reconnecting `EventSource` sends it back as `Last-Event-ID` and the new session resumes each
 * channel exactly where this one stopped.
 */
export const sseEncoder: OutboundEncoder = {
  control: (text, cursor) => sseEvent(text, cursor),
  publication: (p: SerializedPublication, cursor) => sharedEvent(p, p.frame, cursor),
  batch: (batch: OutboundBatch, cursor) => sharedEvent(batch, batch.text, cursor),
};

/** An event's bytes, and the same bytes as one HTTP/1.1 chunk (built on first use). */
class EncodedEvent {
  readonly bytes: Buffer;
  #chunk: Buffer | undefined;

  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  /** `<size in hex>\r\n<bytes>\r\n`: what `ServerResponse.write` sends for the event, in one buffer. */
  get chunk(): Buffer {
    if (this.#chunk === undefined) {
      const head = `${this.bytes.length.toString(16)}\r\n`;
      const chunk = Buffer.allocUnsafe(head.length + this.bytes.length + 2);
      chunk.write(head, 0, 'latin1');
      this.bytes.copy(chunk, head.length);
      chunk.write('\r\n', head.length + this.bytes.length, 'latin1');
      this.#chunk = chunk;
    }
    return this.#chunk;
  }
}

/** The publication or batch event encoded last, with its cursor. */
const lastEvent: { source: object | undefined; cursor: string | undefined; event: EncodedEvent } = {
  source: undefined,
  cursor: undefined,
  event: new EncodedEvent(Buffer.alloc(0)),
};

/**
 * The bytes of a publication or batch event, encoded once for every stream that writes the same
 * one with the same id in a row: a fan-out to single-channel streams (their cursor is shared, see
 * `WrittenPositions.cursor`) encodes one event — and frames one chunk — as the WebSocket binding
 * frames one.
 */
function sharedEvent(source: object, data: string, cursor: string | undefined): Uint8Array {
  if (lastEvent.source !== source || lastEvent.cursor !== cursor) {
    lastEvent.source = source;
    lastEvent.cursor = cursor;
    lastEvent.event = new EncodedEvent(Buffer.from(sseEvent(data, cursor), 'utf8'));
  }
  return lastEvent.event.bytes;
}

/** The chunk of `bytes` when they are the shared event's (the common case), else a new one. */
function chunkOf(bytes: Buffer): Buffer {
  return lastEvent.event.bytes === bytes ? lastEvent.event.chunk : new EncodedEvent(bytes).chunk;
}

// The outbound settings of SSE streams, one per hub core (the label lookup of the delivery
// counter happens once, never per delivery).
const settingsOf = new WeakMap<HubCore, OutboundSettings>();

function sseSettings(core: HubCore): OutboundSettings {
  let settings = settingsOf.get(core);
  if (settings === undefined) {
    settings = {
      scheduler: core.outbound,
      counter: core.outbound.counter(core.metrics.deliveries.labels({ transport: 'sse' })),
      maxBufferedBytes: core.limits.maxBufferedBytes,
      maxBatchBytes: 256 * 1024,
      onSlowConsumer: () => core.metrics.slowConsumerDisconnects.inc(),
      onBackpressure: () => {},
    };
    settingsOf.set(core, settings);
  }
  return settings;
}

/**
 * Writes a session's frames as SSE events through the core's outbound queue. Cut as a slow
 * consumer, the response is destroyed; its `EventSource` reconnects with the last id it read and
 * recovers.
 */
export class SseTransport implements SessionTransport, OutboundSink {
  /** Transport name in stats and metrics. */
  readonly name = 'sse';
  #session: Session | undefined;
  readonly #core: HubCore;
  readonly #response: ServerResponse;
  readonly #options: SseTransportOptions;
  readonly #queue: OutboundQueue;
  #heartbeat: NodeJS.Timeout | undefined;
  #ended = false;
  /**
   * Where events go: the response, or — once the response head went out on the socket with
   * chunked encoding — the socket itself, each event as one chunk in one write (as the WebSocket
   * binding writes a pre-framed message), instead of `ServerResponse.write`, which makes four
   * socket writes of every event (size, CRLF, data, CRLF) and a writev. The response stays the
   * target for HTTP/1.0, a pipelined response still waiting for its turn, or a wrapped `write`.
   * Backpressure (`needsDrain`, `drain`, buffered bytes, cork) is read from the same target.
   */
  #out: ServerResponse | Socket;
  /** Whether {@link SseTransport.#out} is the socket (events are framed as chunks here). */
  #chunked = false;

  constructor(core: HubCore, response: ServerResponse, options: SseTransportOptions) {
    this.#core = core;
    this.#response = response;
    this.#out = response;
    this.#options = options;
    this.#queue = new OutboundQueue(this, sseEncoder, sseSettings(core));
    response.on('close', () => this.#end());
  }

  /** The session, set right after it is opened. */
  get session(): Session | undefined {
    return this.#session;
  }

  /**
   * Binds the session. Its written positions (what the client has once it read an event) give
   * every event its id; `resumed` seeds them, so that every id carries every resumed channel from
   * the first event on — also those whose `subscribed` answer is not written yet (a stream cut
   * after its first event must not drop them).
   */
  attach(session: Session, resumed?: ReadonlyMap<string, { epoch: string; offset: number }>): void {
    this.#session = session;
    this.#queue.trackPositions(session.trackWrittenPositions(resumed));
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
    const socket = this.#response.socket;
    socket?.setNoDelay(true);
    this.#response.flushHeaders();
    if (
      socket &&
      (this.#response as ServerResponse & { chunkedEncoding?: boolean }).chunkedEncoding === true &&
      this.#response.writableLength === socket.writableLength &&
      // Nothing rewrites the body on its way (a compression middleware wraps `write`).
      this.#response.write === ServerResponse.prototype.write &&
      this.#response.getHeader('content-encoding') === undefined
    ) {
      // The head is on the socket (nothing of the response is held back): events may follow it there.
      this.#out = socket;
      this.#chunked = true;
    }
    // The welcome event carries no id: a stream cut right after it resumes from what it asked.
    const welcome = this.#session ? `data: ${this.#session.welcomeFrame()}\n\n` : '';
    this.write(`retry: ${this.#options.retryMs}\n\n${welcome}`);
    const every = this.#options.heartbeatIntervalMs;
    if (every > 0) {
      this.#heartbeat = setInterval(() => {
        // A heartbeat behind a full buffer would only add to it; the queue itself proves liveness.
        if (!this.needsDrain && this.#queue.length === 0) this.write(':\n\n');
      }, every);
      this.#heartbeat.unref?.();
    }
  }

  /** Whether the stream has ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** {@inheritDoc SessionTransport.sendControl} */
  sendControl(text: string, value?: ServerFrame): void {
    this.#queue.control(text, value);
  }

  /** {@inheritDoc SessionTransport.deliver} */
  deliver(publication: SerializedPublication, kind: ChannelKind): void {
    this.#queue.publication(publication, kind);
  }

  /** {@inheritDoc SessionTransport.deliverySink} */
  get deliverySink(): DeliverySink {
    return this.#queue;
  }

  /** {@inheritDoc SessionTransport.close} */
  close(code: number, _reason: string): void {
    if (this.#ended) return;
    if (code === CloseCode.SlowConsumer) {
      // Cut the slow reader; its EventSource reconnects with the last id it read and recovers.
      this.#core.logger.warn('sse slow consumer cut', { clientId: this.#session?.id });
      this.#queue.end(false);
      this.#response.destroy();
    } else {
      this.#queue.end(true);
      this.#response.end();
    }
    this.#end();
  }

  /** @internal {@inheritDoc OutboundSink.write} */
  write(chunk: string | Uint8Array): void {
    if (this.#ended) return;
    if (!this.#chunked) {
      this.#out.write(chunk);
      return;
    }
    if (this.#out.destroyed) return;
    if (typeof chunk === 'string') this.#out.write(new EncodedEvent(Buffer.from(chunk, 'utf8')).chunk);
    else if (chunk.length > 0) this.#out.write(chunkOf(chunk as Buffer));
  }

  /** @internal {@inheritDoc OutboundSink.needsDrain} */
  get needsDrain(): boolean {
    return this.#out.writableNeedDrain;
  }

  /** @internal {@inheritDoc OutboundSink.onDrain} */
  onDrain(callback: () => void): void {
    this.#out.once('drain', callback);
  }

  /** @internal {@inheritDoc OutboundSink.bufferedBytes} */
  get bufferedBytes(): number {
    return this.#out.writableLength;
  }

  /** @internal {@inheritDoc OutboundSink.writable} */
  get writable(): boolean {
    return !this.#ended && !this.#response.destroyed;
  }

  /** @internal {@inheritDoc OutboundSink.cork} */
  cork(): void {
    this.#out.cork();
  }

  /** @internal {@inheritDoc OutboundSink.uncork} */
  uncork(): void {
    this.#out.uncork();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#heartbeat);
    this.#queue.end(false);
    this.#session?.close();
    this.#options.onEnd?.();
  }
}
