/**
 * `useChannelState`: the reactive latest value of a state channel.
 * @module
 */
import type { ClientError, ClientPublication, SubscribeOptions, TaskpulseClient } from '@taskpulse/fallback-client';
import { type ComputedRef, computed, type MaybeRefOrGetter, type ShallowRef, shallowRef } from 'vue';
import { toClientError } from './internal/errors';
import { isNotOlder } from './internal/order';
import { resolveClient } from './internal/resolve-client';
import { subscriptionStatus } from './internal/subscription-status';
import { watchChannel } from './internal/watch-channel';

/** Options of {@link useChannelState}. */
export interface UseChannelStateOptions<T> {
  /** Validates every value (a zod schema); invalid values set `error` (code `bad_data`) and are ignored. */
  schema?: SubscribeOptions<T>['schema'];
  /** The client to use. @default the one the plugin provides */
  client?: TaskpulseClient;
  /** Called with every error (besides setting `error`). */
  onError?: (error: ClientError) => void;
}

/** What {@link useChannelState} returns. */
export interface UseChannelStateReturn<T> {
  /** The channel's current value (the latest publication's data), null before the first. */
  data: Readonly<ShallowRef<T | null>>;
  /** The latest publication with its offset, event and time, null before the first. */
  publication: Readonly<ShallowRef<ClientPublication<T> | null>>;
  /** True once the hub answered the subscription (the value is then current, possibly null). */
  ready: Readonly<ShallowRef<boolean>>;
  /** The last error (forbidden or unknown channel, invalid data, failed refresh), null when fine. */
  error: Readonly<ShallowRef<ClientError | null>>;
  /**
   * After a resubscribe (reconnect, transport switch): true when nothing was missed, false when the
   * gap could not be filled and the value was re-read. Null before any resubscribe.
   */
  recovered: Readonly<ShallowRef<boolean | null>>;
  /** When the current value was published (ms since the Unix epoch), null before the first. */
  updatedAt: ComputedRef<number | null>;
  /**
   * Re-reads the value over HTTP (seed 000's manual refresh button). Resolves with the value; a
   * failure sets `error` and resolves with the value held before. Null without a channel or during SSR.
   */
  refresh(): Promise<T | null>;
}

/**
 * Follows a state channel (seed 000's status object): filled on subscribe, kept current, shared
 * with every other user of the channel. `channel` may be a string, a ref or a getter; a new name
 * resubscribes, and null subscribes to nothing. Released on unmount or scope dispose.
 *
 * @example
 * ```ts
 * const { data: status, refresh } = useChannelState(channels.processorStatus(), { schema: workerStatusSchema });
 * ```
 */
export function useChannelState<T = unknown>(
  channel: MaybeRefOrGetter<string | null | undefined>,
  options: UseChannelStateOptions<T> = {},
): UseChannelStateReturn<T> {
  const client = resolveClient('useChannelState', options.client);
  const publication = shallowRef<ClientPublication<T> | null>(null);
  const data = shallowRef<T | null>(null);
  const status = subscriptionStatus(options);
  const { ready, error, recovered, fail } = status;

  const apply = (latest: ClientPublication<T> | null) => {
    publication.value = latest;
    data.value = latest === null ? null : latest.data;
  };

  const watched = watchChannel<T>(client, channel, {
    reset() {
      apply(null);
      status.reset();
    },
    fail,
    open(c, name, isCurrent) {
      const callbacks = status.follow(isCurrent);
      const subscription = c.subscribe<T>(name, {
        ...(options.schema ? { schema: options.schema } : {}),
        onState(latest, info) {
          if (!isCurrent()) return;
          // A re-read (refresh) answered after a newer push must not roll the value back; an
          // empty answer only counts from the hub's subscribe answer or when nothing is held.
          const fresher =
            latest === null
              ? info.recovered !== undefined || publication.value === null
              : isNotOlder(latest, publication.value);
          if (fresher) apply(latest);
          ready.value = true;
          if (info.recovered !== undefined) recovered.value = info.recovered;
        },
        onPublication(next) {
          if (!isCurrent()) return;
          if (isNotOlder(next, publication.value)) apply(next);
          if (error.value?.code === 'bad_data') error.value = null;
        },
        onSubscribed: callbacks.onSubscribed,
        onRecoveryFailed(info) {
          if (!isCurrent()) return;
          recovered.value = false;
          if (info.state !== null) apply(info.state);
        },
        onError: callbacks.onError,
      });
      return callbacks.opened(subscription);
    },
  });

  return {
    data,
    publication,
    ready,
    error,
    recovered,
    updatedAt: computed(() => publication.value?.ts ?? null),
    async refresh() {
      const subscription = watched.current();
      if (subscription === null) return data.value;
      try {
        // The fresh value also arrives through onState; applying it here makes the result and the
        // refs agree even when the client delivers it after resolving.
        const latest = await subscription.refresh();
        if (watched.current() === subscription && latest !== null && isNotOlder(latest, publication.value)) {
          apply(latest);
        }
        return data.value;
      } catch (cause) {
        if (watched.current() === subscription) fail(toClientError(cause, 'network'));
        return data.value;
      }
    },
  };
}
