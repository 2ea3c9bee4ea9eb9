/**
 * A connection's protocol state, independent of the transport that carries it.
 * @module
 */
import {
  type ChannelKind,
  type ClientFrame,
  CloseCode,
  type ErrorCode,
  type ErrorFrame,
  PROTOCOL_VERSION,
  parseClientFrame,
  peekRequestId,
  type StreamPosition,
  type SubscribedFrame,
  TaskpulseError,
} from '@taskpulse/protocol';
import type { ChannelSubscription } from './channel-subscription';
import type { HubCore } from './hub-core';
import type { Principal } from './principal';
import type { SerializedPublication } from './serialized';

/** What a transport binding provides to a session. */
export interface SessionTransport {
  /** Transport name for stats and metrics (`websocket`, `sse`, a dialect name…). */
  readonly name: string;
  /** Sends a control frame (welcome, subscribed, error, pong…), already serialized. */
  sendControl(frame: string): void;
  /** Delivers a publication of a subscribed channel. Bindings may coalesce, batch or conflate. */
  deliver(publication: SerializedPublication, kind: ChannelKind): void;
  /** Closes the connection with a close code and reason. */
  close(code: number, reason: string): void;
}

type RequestId = string | number | undefined;

/**
 * One connection's protocol state: subscriptions and their positions, limits, frame handling.
 * Created by {@link HubCore.openSession}; the binding feeds it client text and closes it.
 */
export class Session {
  /** The client id announced in the welcome frame. */
  readonly id: string;
  /** Who is connected. */
  readonly principal: Principal;
  /** The transport binding. */
  readonly transport: SessionTransport;
  /** When the session opened (ms). */
  readonly openedAt: number;
  /** Last time the client sent a frame (ms). */
  lastActivityAt: number;
  readonly #core: HubCore;
  readonly #subs = new Map<string, ChannelSubscription>();
  readonly #pendingSubs = new Set<string>();
  #invalidFrames = 0;
  #rateViolations = 0;
  #tokens: number;
  #tokensAt: number;
  #closed = false;

  /** @internal use {@link HubCore.openSession} */
  constructor(core: HubCore, principal: Principal, transport: SessionTransport, id: string) {
    this.#core = core;
    this.principal = principal;
    this.transport = transport;
    this.id = id;
    this.openedAt = Date.now();
    this.lastActivityAt = this.openedAt;
    this.#tokens = core.limits.frameBurst;
    this.#tokensAt = this.openedAt;
  }

  /** Whether the session was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Channels subscribed (including those still being set up). */
  get channels(): string[] {
    return [...this.#subs.keys()];
  }

  /** Number of subscriptions, including pending ones. */
  get subscriptionCount(): number {
    return this.#subs.size + this.#pendingSubs.size;
  }

  /** The last delivered position of every subscribed channel. */
  positions(): Record<string, StreamPosition> {
    const out: Record<string, StreamPosition> = {};
    for (const [channel, sub] of this.#subs) out[channel] = sub.position;
    return out;
  }

  /** The welcome frame to send first. */
  welcomeFrame(): string {
    return JSON.stringify({
      type: 'welcome',
      clientId: this.id,
      protocolVersion: PROTOCOL_VERSION,
      heartbeatIntervalMs: this.#core.heartbeatIntervalMs,
    });
  }

  /** Handles one text frame from the client. Never throws. */
  handleText(text: string): void {
    if (this.#closed) return;
    this.lastActivityAt = Date.now();
    if (!this.#takeToken()) {
      this.#rateViolations++;
      this.sendError('rate_limited', 'too many frames; slow down', peekRequestId(text));
      if (this.#rateViolations > this.#core.limits.frameBurst) {
        this.#core.metrics.rejections.inc({ reason: 'rate_limited' });
        this.transport.close(CloseCode.RateLimited, 'rate limit exceeded');
      }
      return;
    }
    const parsed = parseClientFrame(text, { maxBytes: this.#core.limits.maxFrameBytes });
    if (!parsed.ok) {
      const { error } = parsed;
      this.sendError(error.code, error.message, peekRequestId(text));
      if (error.code === 'frame_too_large') {
        this.#core.metrics.rejections.inc({ reason: 'frame_too_large' });
        this.transport.close(CloseCode.FrameTooLarge, 'frame too large');
        return;
      }
      this.#countInvalid();
      return;
    }
    this.handleFrame(parsed.value);
  }

  /** Handles a parsed client frame. Never throws. */
  handleFrame(frame: ClientFrame): void {
    switch (frame.type) {
      case 'ping':
        this.transport.sendControl(frame.id === undefined ? '{"type":"pong"}' : JSON.stringify({ type: 'pong', id: frame.id }));
        return;
      case 'subscribe':
        void this.subscribe(frame.channel, frame.since, frame.id);
        return;
      case 'unsubscribe':
        this.unsubscribe(frame.channel, frame.id);
        return;
      case 'publish':
        void this.#publish(frame);
        return;
    }
  }

  /**
   * Subscribes to a channel (authorization, limits, recovery), sends `subscribed` then the
   * missed publications then live ones. Errors are sent as error frames; resolves either way.
   * @returns whether the subscription is active
   */
  async subscribe(channel: string, since?: StreamPosition, id?: RequestId): Promise<boolean> {
    if (this.#closed) return false;
    if (this.#subs.has(channel) || this.#pendingSubs.has(channel)) {
      this.sendError('already_subscribed', `already subscribed to ${channel}`, id, channel);
      return false;
    }
    if (this.subscriptionCount >= this.#core.limits.maxChannelsPerConnection) {
      this.sendError(
        'too_many_channels',
        `at most ${this.#core.limits.maxChannelsPerConnection} channels per connection`,
        id,
        channel,
      );
      return false;
    }
    this.#pendingSubs.add(channel);
    try {
      await this.#core.authorize(this.principal, channel, 'subscribe');
      const opened = await this.#core.openSubscription(channel, since, {
        deliver: (p, kind) => this.#deliver(p, kind),
        rebaseline: (frame) => this.#rebaseline(frame),
        onError: (error) => this.#core.logger.warn('recovery failed', { channel, error: String(error) }),
      });
      if (this.#closed || !this.#pendingSubs.has(channel)) {
        opened.subscription.close();
        return false;
      }
      this.#pendingSubs.delete(channel);
      this.#subs.set(channel, opened.subscription);
      this.#core.metrics.subscriptions.inc();
      this.#core.metrics.recoveries.inc({ outcome: opened.outcome });
      const frame: SubscribedFrame = id === undefined ? opened.frame : { ...opened.frame, id };
      this.transport.sendControl(JSON.stringify(frame));
      opened.subscription.start();
      return true;
    } catch (error) {
      this.#pendingSubs.delete(channel);
      const e = TaskpulseError.from(error, 'unavailable');
      this.sendError(e.code, e.message, id, channel);
      return false;
    }
  }

  /** Unsubscribes from a channel and answers `unsubscribed` (or `not_subscribed`). */
  unsubscribe(channel: string, id?: RequestId): void {
    const sub = this.#subs.get(channel);
    if (!sub) {
      if (this.#pendingSubs.delete(channel)) {
        this.transport.sendControl(JSON.stringify({ type: 'unsubscribed', channel, ...(id !== undefined ? { id } : {}) }));
        return;
      }
      this.sendError('not_subscribed', `not subscribed to ${channel}`, id, channel);
      return;
    }
    this.#subs.delete(channel);
    sub.close();
    this.#core.metrics.subscriptions.dec();
    this.transport.sendControl(JSON.stringify({ type: 'unsubscribed', channel, ...(id !== undefined ? { id } : {}) }));
  }

  /** Sends an error frame and counts it. */
  sendError(code: ErrorCode, message: string, id?: RequestId, channel?: string): void {
    this.#core.metrics.errors.inc({ code });
    const frame: ErrorFrame = {
      type: 'error',
      code,
      message,
      ...(id !== undefined ? { id } : {}),
      ...(channel !== undefined ? { channel } : {}),
    };
    this.transport.sendControl(JSON.stringify(frame));
  }

  /** Releases every subscription. Called by the binding when the connection ends. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of this.#subs.values()) {
      sub.close();
      this.#core.metrics.subscriptions.dec();
    }
    this.#subs.clear();
    this.#pendingSubs.clear();
    this.#core.releaseSession(this);
  }

  #deliver(p: SerializedPublication, kind: ChannelKind): void {
    this.transport.deliver(p, kind);
  }

  #rebaseline(frame: SubscribedFrame): void {
    this.#core.metrics.recoveries.inc({ outcome: 'reset' });
    this.transport.sendControl(JSON.stringify(frame));
  }

  async #publish(frame: Extract<ClientFrame, { type: 'publish' }>): Promise<void> {
    try {
      await this.#core.authorize(this.principal, frame.channel, 'publish');
      const result = await this.#core.broker.publish(frame.channel, frame.event, frame.data, {
        ...(frame.priority !== undefined ? { priority: frame.priority } : {}),
      });
      this.#core.metrics.publishes.inc({ source: 'client' });
      this.transport.sendControl(
        JSON.stringify({ type: 'published', ...(frame.id !== undefined ? { id: frame.id } : {}), ...result }),
      );
    } catch (error) {
      const e = TaskpulseError.from(error, 'unavailable');
      this.sendError(e.code, e.message, frame.id, frame.channel);
    }
  }

  #countInvalid(): void {
    this.#invalidFrames++;
    if (this.#invalidFrames >= this.#core.limits.maxInvalidFrames) {
      this.#core.metrics.rejections.inc({ reason: 'invalid_frames' });
      this.transport.close(CloseCode.BadRequest, 'too many invalid frames');
    }
  }

  #takeToken(): boolean {
    const { maxFramesPerSecond, frameBurst } = this.#core.limits;
    const now = Date.now();
    this.#tokens = Math.min(frameBurst, this.#tokens + ((now - this.#tokensAt) * maxFramesPerSecond) / 1000);
    this.#tokensAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
