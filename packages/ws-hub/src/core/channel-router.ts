/**
 * One broker subscription per channel per hub process, fanned out to local listeners.
 * @module
 */
import type { Broker, BrokerSubscription, ResetEvent } from '@taskpulse/protocol';
import { SerializedPublication } from './serialized';
import { SharedReads } from './shared-reads';

/** A local consumer of one channel (a session's subscription, a long-poll waiter…). */
export interface ChannelListener {
  /** Called for each publication, in order; the same {@link SerializedPublication} for every listener. */
  onPublication(publication: SerializedPublication): void;
  /** Called when the broker lost continuity (history lost): the listener must re-baseline. */
  onReset(event: ResetEvent): void;
}

interface RouteEntry {
  listeners: Set<ChannelListener>;
  /**
   * The latest publications received on this subscription, oldest first, gap-free (the broker
   * guarantees ordered delivery; a reset clears it). Recovering subscribers fill the window between
   * a shared read and their own attach from it.
   */
  tail: SerializedPublication[];
  /** Shared recovery reads of this route. */
  reads: SharedReads;
  /** Resolves when the broker subscription is live. */
  ready: Promise<BrokerSubscription>;
}

/** Options of {@link ChannelRouter}. */
export interface ChannelRouterOptions {
  /** Called when a listener throws; delivery to other listeners goes on. */
  onListenerError?: (error: unknown, channel: string) => void;
  /**
   * Called once per publication received from the broker, with the number of local listeners
   * (read the routing fields; `pub` parses the publication).
   */
  onFanout?: (publication: SerializedPublication, listeners: number) => void;
  /**
   * How many recent publications are kept per subscribed channel for recovering subscribers.
   * @default 64
   */
  tailSize?: number;
}

/**
 * Keeps exactly one broker subscription per channel with at least one local listener, and fans
 * every publication out to the listeners with one serialization: with a broker that delivers
 * messages (`onMessage`), the publisher's text itself, never parsed on the way through.
 */
export class ChannelRouter {
  readonly #broker: Broker;
  readonly #options: ChannelRouterOptions;
  readonly #routes = new Map<string, RouteEntry>();
  readonly #tailSize: number;

  /**
   * @param broker - the backplane
   * @param options - hooks
   */
  constructor(broker: Broker, options: ChannelRouterOptions = {}) {
    this.#broker = broker;
    this.#options = options;
    // At least 1: an empty tail reads as "nothing published since", which would let a completed
    // shared read be reused past newer publications.
    this.#tailSize = Math.max(1, options.tailSize ?? 64);
  }

  /**
   * @internal The shared recovery reads of a channel (single-flight, reused while the tail
   * connects). A channel without a route gets a throwaway instance that shares nothing.
   */
  reads(channel: string): SharedReads {
    return this.#routes.get(channel)?.reads ?? new SharedReads(this.#broker, channel, []);
  }

  /**
   * The latest publications received on a channel's subscription (oldest first, gap-free, at most
   * `tailSize`); empty when the channel has no subscription. Do not mutate.
   */
  tail(channel: string): readonly SerializedPublication[] {
    return this.#routes.get(channel)?.tail ?? [];
  }

  /** Number of channels with a live (or pending) broker subscription. */
  get channelCount(): number {
    return this.#routes.size;
  }

  /** Number of local listeners of a channel. */
  listenerCount(channel: string): number {
    return this.#routes.get(channel)?.listeners.size ?? 0;
  }

  /** Channels and their listener counts. */
  channels(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [channel, entry] of this.#routes) out.set(channel, entry.listeners.size);
    return out;
  }

  /**
   * Adds a listener; subscribes to the broker for the first one. Resolves when the broker
   * subscription is live, so every publication made afterwards reaches the listener.
   * Rejects (and leaves nothing behind) when the broker refuses the subscription.
   */
  async attach(channel: string, listener: ChannelListener): Promise<void> {
    let entry = this.#routes.get(channel);
    if (!entry) {
      const listeners = new Set<ChannelListener>();
      const tail: SerializedPublication[] = [];
      const reads = new SharedReads(this.#broker, channel, tail);
      const created: RouteEntry = {
        listeners,
        tail,
        reads,
        ready: this.#broker.subscribe(channel, {
          // Brokers without `onMessage` deliver objects: serialized once here instead.
          onPublication: (pub) => this.#fanout(channel, listeners, tail, reads, new SerializedPublication(pub)),
          onMessage: (message) => this.#fanout(channel, listeners, tail, reads, new SerializedPublication(message)),
          onReset: (event) => {
            tail.length = 0;
            reads.clear();
            for (const l of [...listeners]) {
              try {
                l.onReset(event);
              } catch (error) {
                this.#options.onListenerError?.(error, channel);
              }
            }
          },
        }),
      };
      entry = created;
      this.#routes.set(channel, entry);
      created.ready.catch(() => {
        if (this.#routes.get(channel) === created) this.#routes.delete(channel);
      });
    }
    entry.listeners.add(listener);
    try {
      await entry.ready;
    } catch (error) {
      entry.listeners.delete(listener);
      throw error;
    }
  }

  /** Removes a listener; drops the broker subscription after the last one. */
  detach(channel: string, listener: ChannelListener): void {
    const entry = this.#routes.get(channel);
    if (!entry?.listeners.delete(listener)) return;
    if (entry.listeners.size === 0) {
      this.#routes.delete(channel);
      entry.ready
        .then(
          (sub) => sub.unsubscribe(),
          () => undefined,
        )
        .catch((error) => this.#options.onListenerError?.(error, channel));
    }
  }

  /** Drops every broker subscription. */
  async close(): Promise<void> {
    const entries = [...this.#routes.values()];
    this.#routes.clear();
    await Promise.allSettled(entries.map(async (e) => (await e.ready).unsubscribe()));
  }

  #fanout(
    channel: string,
    listeners: Set<ChannelListener>,
    tail: SerializedPublication[],
    reads: SharedReads,
    serialized: SerializedPublication,
  ): void {
    this.#options.onFanout?.(serialized, listeners.size);
    const last = tail[tail.length - 1];
    // Keep the tail gap-free: a publication that does not follow the last one starts it anew.
    if (last !== undefined && (last.epoch !== serialized.epoch || last.offset + 1 !== serialized.offset)) {
      tail.length = 0;
    }
    tail.push(serialized);
    // The whole tail is only needed while a shared read is in flight or reusable; otherwise the
    // newest publication is enough, so idle channels hold one publication, not 64.
    const keep = reads.idle ? 1 : this.#tailSize;
    if (tail.length > keep) tail.splice(0, tail.length - keep);
    if (listeners.size === 0) return;
    for (const listener of listeners) {
      try {
        listener.onPublication(serialized);
      } catch (error) {
        this.#options.onListenerError?.(error, channel);
      }
    }
  }
}
