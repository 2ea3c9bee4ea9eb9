/**
 * One consumer's subscription to one channel: recovery from a position, then live delivery,
 * with no gap and no duplicate, whatever hub node and transport the consumer uses.
 * @module
 */
import {
  type Broker,
  type ChannelKind,
  EMPTY_EPOCH,
  type Publication,
  type ResetEvent,
  type StreamPosition,
  type SubscribedFrame,
} from '@taskpulse/protocol';
import type { ChannelListener, ChannelRouter } from './channel-router';
import type { SerializedPublication } from './serialized';

/**
 * Takes a subscription's live publications directly (a connection's outbound queue), instead of a
 * call through the session and its binding for each one.
 */
export interface DeliverySink {
  /** A publication to deliver, in order, each once. */
  publication(publication: SerializedPublication, kind: ChannelKind): void;
}

/** Where a {@link ChannelSubscription} sends what it produces. */
export interface SubscriptionTarget {
  /** A publication to deliver, in order, each once. */
  deliver(publication: SerializedPublication, kind: ChannelKind): void;
  /**
   * Where publications go instead of {@link SubscriptionTarget.deliver}, when the target has such a
   * sink (read once, when the subscription is created): one object fewer per delivery to reach.
   */
  readonly deliverySink?: DeliverySink | undefined;
  /**
   * The subscription was re-baselined without a request (the broker lost history, or a gap
   * could not be recovered): send this unsolicited `subscribed` frame with `recovered: false`.
   */
  rebaseline(frame: SubscribedFrame): void;
  /** A background recovery of `channel` failed (broker unavailable); the subscription keeps going live. */
  onError?(error: unknown, channel: string): void;
}

/** The result of {@link openChannelSubscription}. */
export interface OpenedSubscription {
  /** The subscription, buffering live publications until {@link ChannelSubscription.start}. */
  subscription: ChannelSubscription;
  /** The `subscribed` answer (without request id). */
  frame: SubscribedFrame;
  /** How the requested position was handled, for metrics. */
  outcome: 'fresh' | 'recovered' | 'not_recovered';
}

/**
 * The shared empty list: an idle subscription keeps no array of its own (replaced before the
 * first push, never written to).
 */
const NONE: SerializedPublication[] = [];

/**
 * A consumer's subscription to a channel. Created by {@link openChannelSubscription}; call
 * {@link ChannelSubscription.start} right after sending the `subscribed` frame.
 */
export class ChannelSubscription implements ChannelListener {
  /** The channel. */
  readonly channel: string;
  /** The channel's kind. */
  readonly kind: ChannelKind;
  // The position as two fields, not an object: it changes on every delivery.
  #epoch: string;
  #offset: number;
  #mode: 'buffering' | 'live' | 'closed' = 'buffering';
  #buffer: SerializedPublication[] = NONE;
  #pending: SerializedPublication[] = NONE;
  /** Whether {@link ChannelSubscription.start} ran (the `subscribed` answer went out). */
  #started = false;
  /** A broker reset that arrived before the answer went out. */
  #pendingReset: ResetEvent | undefined;
  readonly #router: ChannelRouter;
  readonly #broker: Broker;
  readonly #target: SubscriptionTarget;
  readonly #sink: DeliverySink | undefined;

  /** @internal */
  constructor(args: {
    channel: string;
    kind: ChannelKind;
    position: StreamPosition;
    router: ChannelRouter;
    broker: Broker;
    target: SubscriptionTarget;
  }) {
    this.channel = args.channel;
    this.kind = args.kind;
    this.#epoch = args.position.epoch;
    this.#offset = args.position.offset;
    this.#router = args.router;
    this.#broker = args.broker;
    this.#target = args.target;
    this.#sink = args.target.deliverySink;
  }

  /** The last position delivered (or the baseline when nothing was delivered yet). */
  get position(): StreamPosition {
    return { epoch: this.#epoch, offset: this.#offset };
  }

  /**
   * @internal The listener registered with the router: the subscription itself (one object per
   * subscription instead of two closures and their context — it adds up over 10k connections).
   */
  get listener(): ChannelListener {
    return this;
  }

  /** @internal {@inheritDoc ChannelListener.onPublication} */
  onPublication(publication: SerializedPublication): void {
    this.#onPublication(publication);
  }

  /** @internal {@inheritDoc ChannelListener.onReset} */
  onReset(event: ResetEvent): void {
    this.#onReset(event);
  }

  /** @internal Sets the baseline and the recovered publications to deliver on start. */
  prime(position: StreamPosition, recovered: SerializedPublication[]): void {
    this.#epoch = position.epoch;
    this.#offset = position.offset;
    this.#pending = recovered;
  }

  /** Delivers the recovered publications, then those buffered meanwhile, then goes live. */
  start(): void {
    if (this.#mode !== 'buffering') return;
    this.#started = true;
    const reset = this.#pendingReset;
    if (reset !== undefined) {
      this.#pendingReset = undefined;
      this.#pending = NONE;
      this.#rebaseline(reset.epoch, reset.offset, reset.latest);
    }
    const pending = this.#pending;
    this.#pending = NONE;
    this.#mode = 'live';
    for (const p of pending) this.#deliver(p);
    const buffered = this.#buffer;
    this.#buffer = NONE;
    for (const p of buffered) this.#onPublication(p);
  }

  /** Stops delivery and releases the router listener. Idempotent. */
  close(): void {
    if (this.#mode === 'closed') return;
    this.#mode = 'closed';
    this.#buffer = NONE;
    this.#pending = NONE;
    this.#router.detach(this.channel, this);
  }

  #deliver(p: SerializedPublication): void {
    const { epoch, offset } = p;
    this.#adoptFirstEpoch(epoch);
    if (epoch !== this.#epoch || offset <= this.#offset) return;
    this.#offset = offset;
    this.#handOut(p);
  }

  #handOut(p: SerializedPublication): void {
    const sink = this.#sink;
    if (sink !== undefined) sink.publication(p, this.kind);
    else this.#target.deliver(p, this.kind);
  }

  #bufferPublication(p: SerializedPublication): void {
    if (this.#buffer === NONE) this.#buffer = [];
    this.#buffer.push(p);
  }

  #onPublication(p: SerializedPublication): void {
    if (this.#mode === 'closed') return;
    if (this.#mode === 'buffering') {
      this.#bufferPublication(p);
      return;
    }
    const { epoch, offset } = p;
    this.#adoptFirstEpoch(epoch);
    if (epoch === this.#epoch) {
      if (offset <= this.#offset) return; // duplicate
      if (offset === this.#offset + 1) {
        // The live path, once per delivery: the checks of #deliver were just made.
        this.#offset = offset;
        this.#handOut(p);
        return;
      }
      // A gap: recover it from history before going on.
      this.#mode = 'buffering';
      this.#bufferPublication(p);
      void this.#recoverGap();
      return;
    }
    // Another epoch without a reset notice: re-baseline just before this publication.
    this.#rebaseline(epoch, offset - 1, null);
    this.#deliver(p);
  }

  /** At the empty position (the channel did not exist), the first publication's epoch is the channel's. */
  #adoptFirstEpoch(epoch: string): void {
    if (this.#offset === 0 && this.#epoch === EMPTY_EPOCH) this.#epoch = epoch;
  }

  async #recoverGap(): Promise<void> {
    try {
      const result = await this.#router.reads(this.channel).readAfter(this.position);
      if ((this.#mode as string) === 'closed') return;
      if (result.recovered) {
        const pending = withTail(this.#router, this.channel, result.epoch, this.#offset, result.publications);
        const reached =
          pending.length > 0 ? (pending[pending.length - 1] as SerializedPublication).offset : this.#offset;
        const first = this.#buffer[0];
        if (first !== undefined && first.epoch === result.epoch && first.offset > reached + 1) {
          // History says it continues but does not reach the buffered publications (trimmed
          // meanwhile, or a broker that lags its own stream): reading again would loop. Say
          // plainly that continuity was lost and go on from the first buffered publication.
          this.#pending = NONE;
          this.#rebaseline(first.epoch, first.offset - 1, null);
        } else this.#pending = pending;
      } else {
        const state = await this.#router.reads(this.channel).readState();
        if ((this.#mode as string) === 'closed') return;
        this.#rebaseline(state.epoch, state.offset, state.latest);
      }
    } catch (error) {
      this.#target.onError?.(error, this.channel);
      // The gap cannot be read now (broker unavailable). Retrying at once would spin on
      // microtasks (a broker that is reconnecting rejects synchronously) and starve the event
      // loop; say plainly that continuity was lost and go on from the first buffered publication.
      const first = this.#buffer[0];
      if (first !== undefined && (this.#mode as string) !== 'closed') {
        this.#rebaseline(first.epoch, first.offset - 1, null);
      }
    }
    if (this.#mode === 'buffering') this.start();
  }

  #onReset(event: ResetEvent): void {
    if (this.#mode === 'closed') return;
    this.#buffer = this.#buffer.filter((p) => p.epoch === event.epoch && p.offset > event.offset);
    this.#pending = NONE;
    if (!this.#started) {
      // The `subscribed` answer has not gone out yet: the unsolicited re-baseline must follow it,
      // and the baseline `prime` is about to set from an older read must not win.
      this.#pendingReset = event;
      return;
    }
    this.#rebaseline(event.epoch, event.offset, event.latest);
  }

  #rebaseline(epoch: string, offset: number, latest: Publication | null): void {
    this.#epoch = epoch;
    this.#offset = offset;
    this.#target.rebaseline({
      type: 'subscribed',
      channel: this.channel,
      kind: this.kind,
      epoch,
      offset,
      recovered: false,
      ...(this.kind === 'state' ? { state: latest } : {}),
    });
  }
}

/**
 * Appends to `read` the router's recent publications that follow it without a gap. A shared read
 * may have been taken before this consumer attached; what was published in between reached the
 * router (subscribed before any read was issued) and sits in its tail. A tail that does not
 * connect is left out: live delivery then sees the gap and recovers it from history.
 */
function withTail(
  router: ChannelRouter,
  channel: string,
  epoch: string,
  offset: number,
  read: readonly SerializedPublication[],
): SerializedPublication[] {
  const out = read.slice();
  let last = out.length > 0 ? Math.max(offset, (out[out.length - 1] as SerializedPublication).offset) : offset;
  for (const p of router.tail(channel)) {
    if (p.epoch !== epoch || p.offset <= last) continue;
    if (p.offset !== last + 1) break;
    out.push(p);
    last = p.offset;
  }
  return out;
}

/**
 * Subscribes a consumer to a channel: attaches to the router (live publications are buffered),
 * reads the missed publications after `since` (or the current state), and returns the
 * `subscribed` frame to send. The caller sends it, then calls `subscription.start()`.
 * Rejects with the broker's error (nothing stays attached).
 */
export async function openChannelSubscription(args: {
  channel: string;
  since?: StreamPosition;
  router: ChannelRouter;
  broker: Broker;
  target: SubscriptionTarget;
}): Promise<OpenedSubscription> {
  const { channel, since, router, broker, target } = args;
  const kind = broker.namespaceOptions(channel).kind;
  const subscription = new ChannelSubscription({
    channel,
    kind,
    position: { epoch: '', offset: 0 },
    router,
    broker,
    target,
  });
  await router.attach(channel, subscription.listener);
  try {
    if (since) {
      const result = await router.reads(channel).readAfter(since);
      if (result.recovered) {
        subscription.prime(since, withTail(router, channel, since.epoch, since.offset, result.publications));
        const frame: SubscribedFrame = {
          type: 'subscribed',
          channel,
          kind,
          epoch: result.epoch,
          offset: result.offset,
          recovered: true,
        };
        return { subscription, frame, outcome: 'recovered' };
      }
    }
    const state = await router.reads(channel).readState();
    subscription.prime(
      { epoch: state.epoch, offset: state.offset },
      withTail(router, channel, state.epoch, state.offset, []),
    );
    const frame: SubscribedFrame = {
      type: 'subscribed',
      channel,
      kind,
      epoch: state.epoch,
      offset: state.offset,
      ...(since ? { recovered: false } : {}),
      ...(kind === 'state' ? { state: state.latest } : {}),
    };
    return { subscription, frame, outcome: since ? 'not_recovered' : 'fresh' };
  } catch (error) {
    subscription.close();
    throw error;
  }
}
