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
  type LiveFrame,
  type PongFrame,
  PROTOCOL_VERSION,
  type PublishedFrame,
  parseClientFrame,
  peekRequestId,
  type ServerFrame,
  type StreamPosition,
  type SubscribedFrame,
  TaskpulseError,
  type UnsubscribedFrame,
} from '@taskpulse/protocol';
import { ChannelSubscription, type DeliverySink, type SubscriptionTarget } from './channel-subscription';
import { ExpiryTimer } from './expiry';
import type { HubCore } from './hub-core';
import type { Principal } from './principal';
import type { SerializedPublication } from './serialized';
import { AnswerOrder } from './session-answers';
import { FrameBudget } from './session-limits';
import { refreshCredentials } from './session-refresh';
import { WrittenPositions } from './written-positions';

/**
 * What a transport binding provides to a session. Bindings that write to a socket or a response
 * (WebSocket, SSE, the dialects on WebSocket) implement it by feeding the core's
 * `OutboundQueue` (queueing, conflation, batching, priority, slow-consumer cuts live there);
 * a binding over a library that buffers by itself (Socket.IO) may emit directly.
 */
export interface SessionTransport {
  /** Transport name for stats and metrics (`websocket`, `sse`, a dialect name…). */
  readonly name: string;
  /**
   * Sends a control frame (subscribed, unsubscribed, published, error, pong…).
   * @param frame - the frame serialized as native JSON
   * @param value - the same frame as an object, so that a binding whose codec re-encodes control
   * frames (a dialect) does not have to parse `frame` again; absent when not at hand
   */
  sendControl(frame: string, value?: ServerFrame): void;
  /** Delivers a publication of a subscribed channel. Bindings may coalesce, batch or conflate. */
  deliver(publication: SerializedPublication, kind: ChannelKind): void;
  /**
   * The outbound queue that {@link SessionTransport.deliver} would hand every publication to
   * unchanged, if that is all it does: subscriptions then hand them to it directly (one call and
   * one object fewer per delivery). Read when a subscription is created; undefined when `deliver`
   * does more (a dialect that encodes each publication).
   */
  readonly deliverySink?: DeliverySink | undefined;
  /** Closes the connection with a close code and reason. */
  close(code: number, reason: string): void;
}

type RequestId = string | number | undefined;

/**
 * One connection's protocol state: subscriptions and their positions, limits, frame handling.
 * Created by {@link HubCore.openSession}; the binding feeds it client text and closes it.
 */
export class Session implements SubscriptionTarget {
  /** The client id announced in the welcome frame. */
  readonly id: string;
  /** Who is connected. */
  #principal: Principal;
  /** The transport binding. */
  readonly transport: SessionTransport;
  /** When the session opened (ms). */
  readonly openedAt: number;
  /** Last time the client sent a frame (ms). */
  lastActivityAt: number;
  readonly #core: HubCore;
  /**
   * Subscriptions; a `PendingSubscription` marks one still being set up. A short array searched
   * linearly (at most `maxChannelsPerConnection` entries, searched only on subscribe and
   * unsubscribe) weighs a fraction of a Map, and most connections hold one or two channels.
   */
  #subs: Array<ChannelSubscription | PendingSubscription> = NO_SUBSCRIPTIONS;
  /** Rate budget and abuse counters (see ./session-limits). */
  readonly #budget: FrameBudget;
  #closed = false;
  /** The last `live` state told to the client (a new session is live: its welcome implies it). */
  #liveTold = true;
  readonly #expiry = new ExpiryTimer(() => this.#expire());
  /** Answers in request order (see ./session-answers). */
  readonly #answers: AnswerOrder;
  /** What the client has read, for transports whose frames carry a cursor (SSE); else undefined. */
  #written: WrittenPositions | undefined;

  /** @internal use {@link HubCore.openSession} */
  constructor(core: HubCore, principal: Principal, transport: SessionTransport, id: string) {
    this.#core = core;
    this.#principal = principal;
    this.transport = transport;
    this.id = id;
    this.openedAt = Date.now();
    this.lastActivityAt = this.openedAt;
    this.#budget = new FrameBudget(core.limits.frameBurst, this.openedAt);
    this.#answers = new AnswerOrder(this);
    if (principal.expiresAt !== undefined) this.#expiry.arm(principal.expiresAt);
  }

  /** Who is connected (replaced when the client refreshes its credentials in place). */
  get principal(): Principal {
    return this.#principal;
  }

  /** Whether the session was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Channels subscribed (including those still being set up). */
  get channels(): string[] {
    return this.#subs.map((sub) => sub.channel);
  }

  /** Number of subscriptions, including pending ones. */
  get subscriptionCount(): number {
    return this.#subs.length;
  }

  /**
   * Makes the session keep written positions (what the client has once it has read what was
   * written to it) beside the delivered ones, for a transport whose frames carry a cursor (SSE's
   * event id). The transport's outbound queue advances them as it writes.
   * @param seed - positions the client resumes from, in every cursor from the first frame on
   * (also for channels whose `subscribed` answer is not written yet)
   */
  trackWrittenPositions(seed?: ReadonlyMap<string, StreamPosition>): WrittenPositions {
    this.#written ??= new WrittenPositions(this, seed);
    return this.#written;
  }

  /** The written positions, when tracked ({@link Session.trackWrittenPositions}). */
  get writtenPositions(): WrittenPositions | undefined {
    return this.#written;
  }

  /** The last delivered position of every subscribed channel. */
  positions(): Record<string, StreamPosition> {
    const out: Record<string, StreamPosition> = {};
    for (const sub of this.#subs) if (sub instanceof ChannelSubscription) out[sub.channel] = sub.position;
    return out;
  }

  /** The last delivered position of one subscribed channel (undefined: not subscribed, or still being set up). */
  positionOf(channel: string): StreamPosition | undefined {
    for (const sub of this.#subs)
      if (sub instanceof ChannelSubscription && sub.channel === channel) return sub.position;
    return undefined;
  }

  /** The welcome frame to send first. */
  welcomeFrame(): string {
    return JSON.stringify({
      type: 'welcome',
      clientId: this.id,
      protocolVersion: PROTOCOL_VERSION,
      heartbeatIntervalMs: this.#core.heartbeatIntervalMs,
      ...(this.#principal.expiresAt !== undefined ? { expiresAt: this.#principal.expiresAt } : {}),
    });
  }

  /** Handles one text frame from the client. Never throws. */
  handleText(text: string): void {
    if (!this.admitFrame(text)) return;
    const parsed = parseClientFrame(text, { maxBytes: this.#core.limits.maxFrameBytes });
    if (!parsed.ok) {
      const { error } = parsed;
      this.sendError(error.code, error.message, peekRequestId(text));
      if (error.code === 'frame_too_large') {
        this.#core.metrics.rejections.inc({ reason: 'frame_too_large' });
        this.transport.close(CloseCode.FrameTooLarge, 'frame too large');
        return;
      }
      this.reportInvalidFrame();
      return;
    }
    this.handleFrame(parsed.value);
  }

  /**
   * Takes one client frame from the connection's rate budget (a token bucket of
   * `limits.frameBurst` refilled at `limits.maxFramesPerSecond`) and marks activity. Over budget,
   * answers `rate_limited` and, after more than `frameBurst` violations within a rolling minute,
   * closes with 4429. {@link Session.handleText} calls it; bindings that decode client text
   * themselves (dialects) call it for each frame before decoding.
   * @param text - the frame, to echo its request id in the error frame; omit to send none
   * @returns whether the frame may be handled (false too when the session is closed)
   */
  admitFrame(text?: string): boolean {
    if (this.#closed) return false;
    const now = Date.now();
    this.lastActivityAt = now;
    if (this.#budget.take(this.#core.limits, now)) return true;
    const violations = this.#budget.rateViolation(now);
    this.sendError('rate_limited', 'too many frames; slow down', text === undefined ? undefined : peekRequestId(text));
    if (violations > this.#core.limits.frameBurst) {
      this.#core.metrics.rejections.inc({ reason: 'rate_limited' });
      this.transport.close(CloseCode.RateLimited, 'rate limit exceeded');
    }
    return false;
  }

  /**
   * Counts one invalid client frame (send its error frame first) within a rolling minute; at
   * `limits.maxInvalidFrames` in one window the connection is closed with 4400. For bindings that
   * validate client text themselves (dialects).
   */
  reportInvalidFrame(): void {
    if (this.#closed) return;
    if (this.#budget.invalidFrame(Date.now()) >= this.#core.limits.maxInvalidFrames) {
      this.#core.metrics.rejections.inc({ reason: 'invalid_frames' });
      this.transport.close(CloseCode.BadRequest, 'too many invalid frames');
    }
  }

  /** Handles a parsed client frame. Never throws. */
  handleFrame(frame: ClientFrame): void {
    switch (frame.type) {
      case 'ping': {
        const pong: PongFrame = frame.id === undefined ? { type: 'pong' } : { type: 'pong', id: frame.id };
        this.#answers.answer(frame.id === undefined ? '{"type":"pong"}' : JSON.stringify(pong), pong);
        return;
      }
      case 'subscribe':
        void this.subscribe(frame.channel, frame.since, frame.id);
        return;
      case 'unsubscribe':
        this.unsubscribe(frame.channel, frame.id);
        return;
      case 'publish':
        void this.#publish(frame);
        return;
      case 'refresh':
        void this.#refresh(frame.token, frame.id);
        return;
    }
  }

  /**
   * Subscribes to a channel (authorization, limits, recovery), sends `subscribed` then the
   * missed publications then live ones. Errors are sent as error frames; resolves either way.
   * @param unresumable - the client is resuming but has no position for this channel: the answer
   * carries `recovered: false` (it cannot be told what it missed)
   * @returns whether the subscription is active
   */
  async subscribe(
    channel: string,
    since?: StreamPosition,
    id?: string | number,
    unresumable = false,
  ): Promise<boolean> {
    if (this.#closed) return false;
    const existing = this.#find(channel);
    if (existing instanceof ChannelSubscription) {
      this.sendError('already_subscribed', `already subscribed to ${channel}`, id, channel);
      return false;
    }
    if (existing !== undefined) {
      // A subscribe of this channel is still being set up: this one is answered as a sequential
      // server would, once that outcome is known (already subscribed, or the same error).
      const reply = this.#answers.reserve();
      return new Promise<boolean>((resolve) => {
        afterPending(existing, (error) => {
          const [code, message] = error
            ? [error.code, error.message]
            : (['already_subscribed', `already subscribed to ${channel}`] as const);
          this.#answers.settle(reply, ...this.#errorFrame(code, message, id, channel));
          resolve(false);
        });
      });
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
    // The marker stands for the pending subscription; unsubscribing (or unsubscribing and
    // subscribing again) meanwhile removes or replaces it, and the outdated attempt backs out
    // after answering what became of it (its answer goes out before the unsubscribe's).
    const pending: PendingSubscription = { channel, waiters: undefined };
    const reply = this.#answers.reserve();
    let failure: TaskpulseError | null = null;
    // An exact-size array for the first channel (an empty one grows to 17 slots on its first push).
    if (this.#subs.length === 0) this.#subs = [pending];
    else this.#subs.push(pending);
    try {
      await this.#core.authorize(this.principal, channel, 'subscribe');
      // Closed while authorizing: back out before any broker work (nobody is left to answer).
      if (this.#closed) return false;
      // The session itself is the subscription's target (no object per subscription).
      const opened = await this.#core.openSubscription(channel, since, this);
      const index = this.#subs.indexOf(pending);
      if (this.#closed || index === -1) {
        opened.subscription.close();
        // Unsubscribed meanwhile: the subscribe did succeed, and is answered so; the
        // `unsubscribed` answer follows it.
        const done: SubscribedFrame = id === undefined ? opened.frame : { ...opened.frame, id };
        this.#answers.settle(reply, JSON.stringify(done), done);
        return false;
      }
      this.#subs[index] = opened.subscription;
      this.#core.metrics.subscriptions.inc();
      let frame: SubscribedFrame = id === undefined ? opened.frame : { ...opened.frame, id };
      if (unresumable && frame.recovered === undefined) {
        frame = { ...frame, recovered: false };
        this.#core.metrics.recoveries.inc({ outcome: 'not_recovered' });
      } else this.#core.metrics.recoveries.inc({ outcome: opened.outcome });
      // Publications flow once the answer is out (it may wait behind earlier answers).
      const subscription = opened.subscription;
      this.#answers.settle(reply, JSON.stringify(frame), frame, () => subscription.start());
      return true;
    } catch (error) {
      this.#remove(pending);
      failure = TaskpulseError.from(error, 'unavailable');
      this.#answers.settle(reply, ...this.#errorFrame(failure.code, failure.message, id, channel));
      return false;
    } finally {
      // Requests about this channel that came meanwhile are answered from this outcome.
      const waiters = pending.waiters;
      pending.waiters = undefined;
      if (waiters) for (const wake of waiters) wake(failure);
    }
  }

  /** Unsubscribes from a channel and answers `unsubscribed` (or `not_subscribed`). */
  unsubscribe(channel: string, id?: string | number): void {
    const sub = this.#find(channel);
    if (!sub) {
      this.sendError('not_subscribed', `not subscribed to ${channel}`, id, channel);
      return;
    }
    this.#remove(sub);
    if (!(sub instanceof ChannelSubscription)) {
      // Still being set up: the pending attempt sees it was dropped and backs out. The answer
      // waits for its outcome: `unsubscribed` after a `subscribed`, `not_subscribed` after an error.
      const reply = this.#answers.reserve();
      afterPending(sub, (error) => {
        if (error === null) this.#answers.settle(reply, ...unsubscribedFrame(channel, id));
        else {
          this.#answers.settle(
            reply,
            ...this.#errorFrame('not_subscribed', `not subscribed to ${channel}`, id, channel),
          );
        }
      });
      return;
    }
    sub.close();
    this.#core.metrics.subscriptions.dec();
    this.#sendUnsubscribed(channel, id);
  }

  #find(channel: string): ChannelSubscription | PendingSubscription | undefined {
    for (const sub of this.#subs) if (sub.channel === channel) return sub;
    return undefined;
  }

  #remove(sub: ChannelSubscription | PendingSubscription): void {
    const index = this.#subs.indexOf(sub);
    if (index !== -1) this.#subs.splice(index, 1);
  }

  #sendUnsubscribed(channel: string, id: RequestId): void {
    this.#answers.answer(...unsubscribedFrame(channel, id));
  }

  #errorFrame(code: ErrorCode, message: string, id?: string | number, channel?: string): [string, ErrorFrame] {
    this.#core.metrics.errors.inc({ code });
    const frame: ErrorFrame = {
      type: 'error',
      code,
      message,
      ...(id !== undefined ? { id } : {}),
      ...(channel !== undefined ? { channel } : {}),
    };
    return [JSON.stringify(frame), frame];
  }

  /**
   * Sends an error frame and counts it. It is an answer: it leaves after the answers to earlier
   * requests that are still being prepared.
   */
  sendError(code: ErrorCode, message: string, id?: string | number, channel?: string): void {
    this.#answers.answer(...this.#errorFrame(code, message, id, channel));
  }

  /**
   * Sends a `live` frame: `available: false` (code `unavailable`) when the broker went down and
   * live data stopped, `true` when it is back. Called by the core on broker status changes.
   */
  sendLive(available: boolean): void {
    // A session starts live (its welcome implies it); each change is told once.
    if (this.#closed || this.#liveTold === available) return;
    this.#liveTold = available;
    const frame: LiveFrame = available
      ? { type: 'live', available: true }
      : {
          type: 'live',
          available: false,
          code: 'unavailable',
          message: 'live data is interrupted: the hub cannot reach its broker',
        };
    this.transport.sendControl(JSON.stringify(frame), frame);
  }

  /** Releases every subscription. Called by the binding when the connection ends. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const sub of this.#subs) {
      if (!(sub instanceof ChannelSubscription)) continue;
      sub.close();
      this.#core.metrics.subscriptions.dec();
    }
    this.#subs = NO_SUBSCRIPTIONS;
    this.#answers.clear();
    this.#expiry.disarm();
    this.#core.releaseSession(this);
  }

  /** @internal {@inheritDoc SubscriptionTarget.deliver} */
  deliver(publication: SerializedPublication, kind: ChannelKind): void {
    this.transport.deliver(publication, kind);
  }

  /** @internal {@inheritDoc SubscriptionTarget.deliverySink} */
  get deliverySink(): DeliverySink | undefined {
    return this.transport.deliverySink;
  }

  /** @internal {@inheritDoc SubscriptionTarget.rebaseline} */
  rebaseline(frame: SubscribedFrame): void {
    this.#core.metrics.recoveries.inc({ outcome: 'reset' });
    this.transport.sendControl(JSON.stringify(frame), frame);
  }

  /** @internal {@inheritDoc SubscriptionTarget.onError} */
  onError(error: unknown, channel: string): void {
    this.#core.logger.warn('recovery failed', { clientId: this.id, channel, error: String(error) });
  }

  /** The credentials expired: say so, then close with 4401 (the client refreshes and reconnects). */
  #expire(): void {
    if (this.#closed) return;
    this.#core.metrics.rejections.inc({ reason: 'token_expired' });
    const [text, frame] = this.#errorFrame('unauthorized', 'the credentials expired: refresh them and reconnect');
    // Not an answer to a request: it goes out at once (SSE clients learn why their stream ends).
    this.transport.sendControl(text, frame);
    this.transport.close(CloseCode.Unauthorized, 'token expired');
  }

  /** Refresh in place (see ./session-refresh). */
  #refresh(token: string, id: RequestId): Promise<void> {
    return refreshCredentials(
      {
        core: this.#core,
        answers: this.#answers,
        closed: () => this.#closed,
        principal: () => this.#principal,
        adopt: (next) => {
          this.#principal = next;
          this.#expiry.arm(next.expiresAt);
        },
        subscriptions: () => this.#subs.filter((sub): sub is ChannelSubscription => sub instanceof ChannelSubscription),
        holds: (sub) => this.#subs.includes(sub),
        drop: (sub) => {
          this.#remove(sub);
          sub.close();
          this.#core.metrics.subscriptions.dec();
        },
        errorFrame: (code, message, id, channel) => this.#errorFrame(code, message, id, channel),
        close: (code, reason) => this.transport.close(code, reason),
      },
      token,
      id,
    );
  }

  async #publish(frame: Extract<ClientFrame, { type: 'publish' }>): Promise<void> {
    const reply = this.#answers.reserve();
    try {
      await this.#core.authorize(this.principal, frame.channel, 'publish');
      const result = await this.#core.broker.publish(frame.channel, frame.event, frame.data, {
        ...(frame.priority !== undefined ? { priority: frame.priority } : {}),
      });
      this.#core.metrics.publishes.inc({ source: 'client' });
      const published: PublishedFrame = {
        type: 'published',
        ...(frame.id !== undefined ? { id: frame.id } : {}),
        ...result,
      };
      this.#answers.settle(reply, JSON.stringify(published), published);
    } catch (error) {
      const e = TaskpulseError.from(error, 'unavailable');
      this.#answers.settle(reply, ...this.#errorFrame(e.code, e.message, frame.id, frame.channel));
    }
  }
}

// Shared by every session without subscriptions; replaced (never written to) on the first one.
const NO_SUBSCRIPTIONS: Array<ChannelSubscription | PendingSubscription> = [];

/** An `unsubscribed` answer, as text and frame. */
function unsubscribedFrame(channel: string, id: RequestId): [string, UnsubscribedFrame] {
  const frame: UnsubscribedFrame = { type: 'unsubscribed', channel, ...(id !== undefined ? { id } : {}) };
  return [JSON.stringify(frame), frame];
}

/** Runs `wake` with the outcome of a pending subscribe once it is known. */
function afterPending(pending: PendingSubscription, wake: (failure: TaskpulseError | null) => void): void {
  if (pending.waiters === undefined) pending.waiters = [wake];
  else pending.waiters.push(wake);
}

/** Marks a subscription still being set up (its identity tells an outdated attempt apart). */
interface PendingSubscription {
  readonly channel: string;
  /** Answers of later requests about the channel, waiting for this attempt's outcome (null: subscribed). */
  waiters: Array<(failure: TaskpulseError | null) => void> | undefined;
}
