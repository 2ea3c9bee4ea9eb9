/**
 * The WebSocket transport: the native protocol on `{base}/ws`. It subscribes every wanted channel
 * from the client's own position once it is the active transport, keeps the wire set in step
 * with the registry, pings when the line is quiet, and reports one failure when it ends.
 * @module
 */
import { backoffDelayMs } from '../backoff';
import { classifyClose, classifyStatus, clientError, type TransportFailure } from '../errors';
import { parseFrame } from '../frame';
import type { WebSocketLike } from '../types';
import { CredentialRefresher } from './credential-refresh';
import { diagnose } from './diagnose';
import { dispatchFrame, type StreamHooks } from './dispatch';
import type { Transport, TransportHost } from './transport';

/** `waiting`: the hub answered `unavailable`/`rate_limited`/…; resubscribed after a backoff. */
type WireState = 'subscribing' | 'subscribed' | 'unsubscribing' | 'waiting';

/** The protocol version this client speaks. @internal */
export const CLIENT_PROTOCOL_VERSION = 1;

/** The `Sec-WebSocket-Protocol` this client offers (the protocol's `WS_SUBPROTOCOL`). @internal */
export const CLIENT_SUBPROTOCOL = `taskpulse.v${CLIENT_PROTOCOL_VERSION}`;

/** @internal */
export class WebSocketTransport implements Transport {
  readonly name = 'websocket' as const;
  readonly #host: TransportHost;
  #socket: WebSocketLike | null = null;
  #token: string | null = null;
  #opened = false;
  #stopped = false;
  #synced = false;
  #nextId = 1;
  readonly #wire = new Map<string, WireState>();
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Per channel: failed subscribe attempts in a row and the timer of the next one. */
  readonly #retries = new Map<string, { attempts: number; timer: ReturnType<typeof setTimeout> | undefined }>();
  #heartbeatMs = 0;
  #pingOutstanding = false;
  #upgradeStatus: number | null = null;
  /** Created once: nothing is allocated per frame beyond its `JSON.parse`. */
  readonly #hooks: StreamHooks = {
    welcome: (heartbeatIntervalMs, version, expiresAt) => {
      this.#welcome(heartbeatIntervalMs, version);
      if (this.#opened) this.#refresher.schedule(expiresAt, this.#token);
    },
    refreshed: (expiresAt) => this.#refresher.refreshed(expiresAt),
    answered: (channel, outcome, code) => this.#answered(channel, outcome, code),
    connectionError: (code, message, id) => {
      if (!this.#refresher.answered(id, code)) this.#host.report(clientError(code, message));
    },
    live: (available) => {
      if (available) this.#retryWaiting();
    },
  };

  readonly #refresher: CredentialRefresher;

  constructor(host: TransportHost) {
    this.#host = host;
    this.#refresher = new CredentialRefresher(host, (text) => this.#send(text));
  }

  start(token: string | null): void {
    this.#token = token;
    const Ctor = this.#host.platform.WebSocket;
    if (!Ctor) {
      this.#fail({
        kind: 'fatal',
        error: clientError('unsupported', 'no WebSocket implementation: pass platform.WebSocket (e.g. `ws` in Node)'),
      });
      return;
    }
    const url = token ? `${this.#host.options.wsUrl}?token=${encodeURIComponent(token)}` : this.#host.options.wsUrl;
    let socket: WebSocketLike;
    try {
      // Offers the protocol version; a hub that does not speak it closes with 4426 (fatal).
      socket = new Ctor(url, [CLIENT_SUBPROTOCOL]);
    } catch (error) {
      this.#fail({ kind: 'network', error: clientError('network', 'could not create the WebSocket', error) });
      return;
    }
    this.#socket = socket;
    this.#connectTimer = setTimeout(() => {
      this.#fail({
        kind: 'network',
        error: clientError('timeout', `no welcome within ${this.#host.options.connectTimeoutMs} ms`),
      });
    }, this.#host.options.connectTimeoutMs);
    socket.onmessage = (event) => this.#message(event.data);
    socket.onerror = (event) => {
      // `ws` (Node) names the refused upgrade's status; browsers never do.
      const m = /Unexpected server response: (\d{3})/.exec(String((event as { message?: unknown })?.message ?? ''));
      if (m) this.#upgradeStatus = Number(m[1]);
    };
    socket.onclose = (event) => {
      void this.#closed(event.code, event.reason);
    };
  }

  async #closed(code: number, reason: string): Promise<void> {
    if (this.#stopped) return;
    this.#socket = null;
    if (this.#opened) {
      this.#fail(classifyClose(code, reason, true));
      return;
    }
    if (this.#upgradeStatus !== null) {
      this.#fail(classifyStatus(this.#upgradeStatus, null));
      return;
    }
    if (code !== 1006 && code !== 1005) {
      this.#fail(classifyClose(code, reason, false));
      return;
    }
    // Before welcome with no status: ask the hub over HTTP why (auth? broker down? or the network).
    const diagnosis = await diagnose(this.#host, this.#token);
    if (this.#stopped) return;
    if (diagnosis?.failure) this.#fail(diagnosis.failure);
    else {
      if (diagnosis?.channel !== undefined) {
        this.#host.refuse(diagnosis.channel, clientError(diagnosis.code, diagnosis.message));
      }
      this.#fail(classifyClose(code, reason, false));
    }
  }

  #message(data: unknown): void {
    if (this.#stopped) return;
    const frame = parseFrame(data);
    if (typeof frame === 'string') {
      this.#host.report(clientError('bad_frame', `WebSocket: ${frame}`));
      return;
    }
    this.#host.activity(this);
    this.#pingOutstanding = false;
    this.#armIdle();
    dispatchFrame(frame, this.#host, this, this.#hooks);
  }

  #welcome(heartbeatIntervalMs: number, version: number): void {
    if (this.#opened) return;
    clearTimeout(this.#connectTimer);
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
    this.#opened = true;
    this.#heartbeatMs = heartbeatIntervalMs;
    this.#armIdle();
    this.#host.opened(this);
  }

  /** Quiet line: ping after one heartbeat interval; no answer within another one: the link is dead. */
  #armIdle(): void {
    if (!this.#opened || this.#heartbeatMs <= 0) return;
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#pingOutstanding) {
        this.#fail({ kind: 'dropped', error: clientError('timeout', 'no answer to ping: the connection is dead') });
        return;
      }
      this.#pingOutstanding = true;
      this.#send('{"type":"ping"}');
      this.#armIdle();
    }, this.#heartbeatMs);
  }

  #answered(channel: string, outcome: 'subscribed' | 'unsubscribed' | 'error', code?: string): void {
    const state = this.#wire.get(channel);
    if (outcome === 'subscribed') {
      this.#wire.set(channel, 'subscribed');
      this.#clearRetry(channel);
    } else if (outcome === 'unsubscribed') this.#wire.delete(channel);
    else if (code === 'already_subscribed') this.#wire.set(channel, 'subscribed');
    else if (code === 'not_subscribed') this.#wire.delete(channel);
    else if (state === 'subscribing') {
      // A refused channel leaves the registry; anything else (broker down, rate limited…) is
      // retried for this channel only, after a backoff, or at once when live data resumes.
      this.#wire.set(channel, 'waiting');
      const retry = this.#retries.get(channel) ?? { attempts: 0, timer: undefined };
      clearTimeout(retry.timer);
      retry.attempts++;
      const backoff = this.#host.options.backoff;
      // Never sooner than the first backoff step: full jitter may draw 0, which must not loop.
      const delayMs = Math.max(backoff.initialDelayMs, backoffDelayMs(retry.attempts, backoff));
      retry.timer = setTimeout(() => this.#resubscribe(channel), delayMs);
      this.#retries.set(channel, retry);
    }
    this.sync();
  }

  #resubscribe(channel: string): void {
    const retry = this.#retries.get(channel);
    if (retry) {
      clearTimeout(retry.timer);
      retry.timer = undefined;
    }
    if (this.#wire.get(channel) !== 'waiting') return;
    this.#wire.delete(channel);
    this.sync();
  }

  /** Live data resumed (`{"type":"live","available":true}`): every waiting channel is retried now. */
  #retryWaiting(): void {
    for (const [channel, state] of [...this.#wire]) if (state === 'waiting') this.#resubscribe(channel);
  }

  #clearRetry(channel: string): void {
    const retry = this.#retries.get(channel);
    if (!retry) return;
    clearTimeout(retry.timer);
    this.#retries.delete(channel);
  }

  sync(): void {
    if (!this.#opened || this.#stopped) return;
    this.#synced = true;
    const registry = this.#host.registry;
    for (const entry of registry.wanted()) {
      if (this.#wire.has(entry.channel)) continue;
      this.#wire.set(entry.channel, 'subscribing');
      const since =
        entry.epoch === null ? '' : `,"since":${JSON.stringify({ epoch: entry.epoch, offset: entry.offset })}`;
      this.#send(`{"type":"subscribe","id":${this.#nextId++},"channel":${JSON.stringify(entry.channel)}${since}}`);
    }
    for (const [channel, state] of this.#wire) {
      if (state === 'waiting' && !registry.entries.get(channel)) {
        this.#wire.delete(channel);
        this.#clearRetry(channel);
        continue;
      }
      if (state !== 'subscribed') continue;
      const entry = registry.entries.get(channel);
      if (entry && !entry.refused) continue;
      this.#wire.set(channel, 'unsubscribing');
      this.#send(`{"type":"unsubscribe","id":${this.#nextId++},"channel":${JSON.stringify(channel)}}`);
    }
  }

  /** True once this transport has put the channels on the wire (it is the active one). */
  get synced(): boolean {
    return this.#synced;
  }

  #send(text: string): void {
    try {
      this.#socket?.send(text);
    } catch (error) {
      this.#fail({ kind: 'dropped', error: clientError('network', 'send failed', error) });
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
    this.#refresher.stop();
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#idleTimer);
    for (const retry of this.#retries.values()) clearTimeout(retry.timer);
    this.#retries.clear();
    const socket = this.#socket;
    this.#socket = null;
    if (socket) {
      socket.onmessage = null;
      // Keep an error listener: `ws` throws an unhandled 'error' when closed while connecting.
      socket.onerror = () => {};
      socket.onclose = null;
      socket.onopen = null;
      try {
        socket.close(1000, 'client closed');
      } catch {
        // already closed
      }
    }
  }
}
