/**
 * `useChannelEvents`: a reactive, bounded list of a channel's recent events.
 * @module
 */
import type {
  ClientError,
  ClientPublication,
  RecoveryFailedInfo,
  SubscribeOptions,
  TaskpulseClient,
} from '@taskpulse/fallback-client';
import { type ComputedRef, computed, type MaybeRefOrGetter, type ShallowRef, shallowRef } from 'vue';
import { resolveClient } from './internal/resolve-client';
import { subscriptionStatus } from './internal/subscription-status';
import { watchChannel } from './internal/watch-channel';

/** Options of {@link useChannelEvents}. */
export interface UseChannelEventsOptions<T> {
  /**
   * How many events the list keeps; older ones drop out (seed 002 keeps the last 20).
   * @default 20
   */
  limit?: number;
  /**
   * `oldest-first` appends new events at the end; `newest-first` puts them at the top (seed 002's list).
   * @default 'oldest-first'
   */
  order?: 'oldest-first' | 'newest-first';
  /** Keeps only the events this returns true for (e.g. by `publication.event`). @default every event */
  filter?: (publication: ClientPublication<T>) => boolean;
  /** Validates every event's data (a zod schema); invalid events set `error` (code `bad_data`) and are dropped. */
  schema?: SubscribeOptions<T>['schema'];
  /** Called with every kept event, in order (for toasts and side effects). */
  onEvent?: (publication: ClientPublication<T>) => void;
  /** Called when the hub could not fill a gap after a reconnect: events were missed. */
  onRecoveryFailed?: (info: RecoveryFailedInfo<T>) => void;
  /** Called with every error (besides setting `error`). */
  onError?: (error: ClientError) => void;
  /** The client to use. @default the one the plugin provides */
  client?: TaskpulseClient;
}

/** What {@link useChannelEvents} returns. */
export interface UseChannelEventsReturn<T> {
  /** The recent events, every one of them in order (see `order`), at most `limit`. */
  events: Readonly<ShallowRef<readonly ClientPublication<T>[]>>;
  /** The newest event, or null. */
  latest: ComputedRef<ClientPublication<T> | null>;
  /** True once the hub answered the subscription. */
  ready: Readonly<ShallowRef<boolean>>;
  /** The last error (forbidden or unknown channel, invalid data), null when fine. */
  error: Readonly<ShallowRef<ClientError | null>>;
  /**
   * After a resubscribe: true when no event was missed, false when the hub could not fill the gap
   * (the list then has a hole). Null before any resubscribe.
   */
  recovered: Readonly<ShallowRef<boolean | null>>;
  /** Empties the list. */
  clear(): void;
}

/**
 * Keeps a channel's recent events (seed 002's "last 20 notifications"): every event, in order,
 * not only the newest. `channel` may be a string, a ref or a getter; a new name resubscribes and
 * empties the list, null subscribes to nothing. Released on unmount or scope dispose.
 *
 * @example
 * ```ts
 * const { events } = useChannelEvents(channels.celeryTasks(), { limit: 20, order: 'newest-first' });
 * ```
 */
export function useChannelEvents<T = unknown>(
  channel: MaybeRefOrGetter<string | null | undefined>,
  options: UseChannelEventsOptions<T> = {},
): UseChannelEventsReturn<T> {
  const limit = options.limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new TypeError(`useChannelEvents: limit must be a positive integer, got ${String(options.limit)}`);
  }
  const newestFirst = options.order === 'newest-first';
  const client = resolveClient('useChannelEvents', options.client);
  const events = shallowRef<readonly ClientPublication<T>[]>([]);
  const status = subscriptionStatus(options);
  const { ready, error, recovered } = status;

  const push = (publication: ClientPublication<T>) => {
    if (options.filter && !options.filter(publication)) return;
    const list = events.value;
    events.value = newestFirst
      ? [publication, ...list.slice(0, limit - 1)]
      : [...list.slice(Math.max(0, list.length - limit + 1)), publication];
    options.onEvent?.(publication);
  };

  watchChannel<T>(client, channel, {
    reset() {
      events.value = [];
      status.reset();
    },
    fail: status.fail,
    open(c, name, isCurrent) {
      const callbacks = status.follow(isCurrent);
      const subscription = c.subscribe<T>(name, {
        ...(options.schema ? { schema: options.schema } : {}),
        onPublication(publication) {
          if (isCurrent()) push(publication);
        },
        onSubscribed: callbacks.onSubscribed,
        onRecoveryFailed(info) {
          if (!isCurrent()) return;
          recovered.value = false;
          options.onRecoveryFailed?.(info);
        },
        onError: callbacks.onError,
      });
      return callbacks.opened(subscription);
    },
  });

  return {
    events,
    latest: computed(() => {
      const list = events.value;
      return (newestFirst ? list[0] : list[list.length - 1]) ?? null;
    }),
    ready,
    error,
    recovered,
    clear() {
      events.value = [];
    },
  };
}
