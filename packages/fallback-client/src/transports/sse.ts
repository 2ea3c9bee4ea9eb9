/**
 * The SSE transport: one `EventSource` on `{base}/sse` naming every wanted channel, resuming from
 * the client's own positions (`since=` cursor) — never from what the browser's `Last-Event-ID`
 * happens to hold. When the channel set changes the stream is reopened from the current positions.
 * The client closes the `EventSource` on the first error and lets the connection manager decide
 * (backoff, fallback), instead of the browser's fixed-delay automatic retry.
 * @module
 */

import { encodeCursor } from '../cursor';
import { classifyStatus, clientError, type TransportFailure } from '../errors';
import { parseFrame } from '../frame';
import type { EventSourceLike } from '../types';
import { diagnose } from './diagnose';
import { dispatchFrame, type StreamHooks } from './dispatch';
import type { Transport, TransportHost } from './transport';
import { CLIENT_PROTOCOL_VERSION } from './websocket';

/** @internal */
export class SseTransport implements Transport {
  readonly name = 'sse' as const;
  readonly #host: TransportHost;
  #source: EventSourceLike | null = null;
  #streamKey = '';
  #token: string | null = null;
  #opened = false;
  #stopped = false;
  #streamOpen = false;
  /** True once any stream of this transport said `welcome` (an idle transport without channels has not). */
  #everStreamed = false;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** Created once: nothing is allocated per event beyond its `JSON.parse`. */
  readonly #hooks: StreamHooks = { welcome: (_heartbeatMs, version) => this.#welcome(version) };

  constructor(host: TransportHost) {
    this.#host = host;
  }

  start(token: string | null): void {
    this.#token = token;
    if (!this.#host.platform.EventSource) {
      this.#fail({
        kind: 'fatal',
        error: clientError(
          'unsupported',
          'no EventSource implementation: pass platform.EventSource (e.g. `eventsource` in Node)',
        ),
      });
      return;
    }
    this.#open();
  }

  /** Opens a stream for the wanted channels (none: nothing to stream, the transport is idle but fine). */
  #open(): void {
    const names = this.#host.registry.wantedNames();
    this.#streamKey = this.#host.registry.wantedKey();
    this.#streamOpen = false;
    if (names.length === 0) {
      if (!this.#opened) {
        this.#opened = true;
        this.#host.opened(this);
      }
      return;
    }
    const params = new URLSearchParams();
    for (const name of names) params.append('channel', name);
    const cursor = encodeCursor(this.#host.registry.positions());
    if (cursor) params.set('since', cursor);
    if (this.#token) params.set('token', this.#token);
    const Ctor = this.#host.platform.EventSource;
    if (!Ctor) return;
    let source: EventSourceLike;
    try {
      source = new Ctor(`${this.#host.options.httpBase}/sse?${params}`, {
        withCredentials: this.#host.options.withCredentials,
      });
    } catch (error) {
      this.#fail({ kind: 'network', error: clientError('network', 'could not create the EventSource', error) });
      return;
    }
    this.#source = source;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = setTimeout(() => {
      this.#fail({
        kind: this.#everStreamed ? 'dropped' : 'network',
        error: clientError('timeout', `no welcome within ${this.#host.options.connectTimeoutMs} ms`),
      });
    }, this.#host.options.connectTimeoutMs);
    source.onmessage = (event) => this.#message(event.data);
    source.onerror = (event) => {
      void this.#error(source, event);
    };
  }

  #message(data: string): void {
    if (this.#stopped) return;
    const frame = parseFrame(data);
    if (typeof frame === 'string') {
      this.#host.report(clientError('bad_frame', `SSE: ${frame}`));
      return;
    }
    this.#host.activity(this);
    dispatchFrame(frame, this.#host, this, this.#hooks);
  }

  #welcome(version: number): void {
    clearTimeout(this.#connectTimer);
    this.#streamOpen = true;
    this.#everStreamed = true;
    if (version !== CLIENT_PROTOCOL_VERSION) {
      this.#fail({
        kind: 'fatal',
        error: clientError(
          'unsupported_version',
          `the hub speaks protocol ${version}, this client ${CLIENT_PROTOCOL_VERSION}`,
        ),
      });
      return;
    }
    if (!this.#opened) {
      this.#opened = true;
      this.#host.opened(this);
    }
  }

  async #error(source: EventSourceLike, event: { code?: number; message?: string }): Promise<void> {
    if (this.#stopped || source !== this.#source) return;
    source.onerror = () => {};
    source.onmessage = null;
    source.close();
    this.#source = null;
    clearTimeout(this.#connectTimer);
    if (this.#streamOpen) {
      this.#fail({ kind: 'dropped', error: clientError('network', 'the event stream ended', event) });
      return;
    }
    // The `eventsource` package reports the HTTP status; browsers do not: ask the hub over HTTP.
    if (typeof event.code === 'number' && event.code >= 400) {
      if (event.code === 401 || event.code >= 500 || event.code === 429) {
        this.#fail(classifyStatus(event.code, null));
        return;
      }
    }
    const diagnosis = await diagnose(this.#host, this.#token);
    if (this.#stopped) return;
    if (diagnosis?.failure) this.#fail(diagnosis.failure);
    else if (diagnosis?.channel !== undefined) {
      // One refused channel refuses the whole stream: drop it and reopen with the others.
      this.#host.refuse(diagnosis.channel, clientError(diagnosis.code, diagnosis.message));
      if (!this.#stopped) this.#open();
    } else {
      // A stream that never said welcome is blocked (a fallback reason), even if this transport
      // was already "open" while it had no channel to stream.
      this.#fail({
        kind: this.#everStreamed ? 'dropped' : 'network',
        error: clientError('network', 'the event stream failed', event),
      });
    }
  }

  sync(): void {
    if (this.#stopped) return;
    if (this.#host.registry.wantedKey() === this.#streamKey) return;
    // Batch the subscribe/unsubscribe calls of one tick into one reopen.
    clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      if (this.#stopped || this.#host.registry.wantedKey() === this.#streamKey) return;
      this.#closeSource();
      this.#open();
    }, 0);
  }

  #closeSource(): void {
    const source = this.#source;
    this.#source = null;
    if (source) {
      source.onerror = () => {};
      source.onmessage = null;
      source.close();
    }
  }

  #fail(failure: TransportFailure): void {
    if (this.#stopped) return;
    this.stop();
    this.#host.failed(this, failure);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#restartTimer);
    this.#closeSource();
  }
}
