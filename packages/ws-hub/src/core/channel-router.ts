/**
 * One broker subscription per channel per hub process, fanned out to local listeners.
 * @module
 */
import type { Broker, BrokerSubscription, Publication, ResetEvent } from '@taskpulse/protocol';
import { SerializedPublication } from './serialized';

/** A local consumer of one channel (a session's subscription, a long-poll waiter…). */
export interface ChannelListener {
  /** Called for each publication, in order; the same {@link SerializedPublication} for every listener. */
  onPublication(publication: SerializedPublication): void;
  /** Called when the broker lost continuity (history lost): the listener must re-baseline. */
  onReset(event: ResetEvent): void;
}

interface RouteEntry {
  listeners: Set<ChannelListener>;
  /** Resolves when the broker subscription is live. */
  ready: Promise<BrokerSubscription>;
}

/** Options of {@link ChannelRouter}. */
export interface ChannelRouterOptions {
  /** Called when a listener throws; delivery to other listeners goes on. */
  onListenerError?: (error: unknown, channel: string) => void;
  /** Called once per publication received from the broker, with the number of local listeners. */
  onFanout?: (publication: Publication, listeners: number) => void;
}

/**
 * Keeps exactly one broker subscription per channel with at least one local listener, and fans
 * every publication out to the listeners with one serialization.
 */
export class ChannelRouter {
  readonly #broker: Broker;
  readonly #options: ChannelRouterOptions;
  readonly #routes = new Map<string, RouteEntry>();

  /**
   * @param broker - the backplane
   * @param options - hooks
   */
  constructor(broker: Broker, options: ChannelRouterOptions = {}) {
    this.#broker = broker;
    this.#options = options;
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
      const created: RouteEntry = {
        listeners,
        ready: this.#broker.subscribe(channel, {
          onPublication: (pub) => this.#fanout(channel, listeners, pub),
          onReset: (event) => {
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

  #fanout(channel: string, listeners: Set<ChannelListener>, pub: Publication): void {
    this.#options.onFanout?.(pub, listeners.size);
    if (listeners.size === 0) return;
    const serialized = new SerializedPublication(pub);
    for (const listener of listeners) {
      try {
        listener.onPublication(serialized);
      } catch (error) {
        this.#options.onListenerError?.(error, channel);
      }
    }
  }
}
