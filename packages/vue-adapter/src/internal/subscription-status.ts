/**
 * The `ready` / `error` / `recovered` refs the channel composables share, and the subscribe
 * callbacks that keep them (the hub's answer, errors, a channel another component already follows).
 * @module
 * @internal
 */
import type { ClientError, SubscribedInfo, Subscription } from '@taskpulse/fallback-client';
import { type ShallowRef, shallowRef } from 'vue';

/** The callbacks of one subscription, and what to do with the handle it returned. @internal */
export interface StatusCallbacks {
  /** The hub answered: `ready`, a resubscribe's `recovered`, and clears an error but `bad_data`. */
  onSubscribed(info: SubscribedInfo): void;
  /** Sets `error` and calls the composable's `onError`. */
  onError(problem: ClientError): void;
  /** A channel another component already follows is answered: no onSubscribed may come. */
  opened<T>(subscription: Subscription<T>): Subscription<T>;
}

/** @internal */
export interface SubscriptionStatus {
  ready: ShallowRef<boolean>;
  error: ShallowRef<ClientError | null>;
  recovered: ShallowRef<boolean | null>;
  /** Sets `error` and calls `options.onError`. */
  fail(problem: ClientError): void;
  /** Back to "not answered, no error, no resubscribe yet" (a new channel or none). */
  reset(): void;
  /** Callbacks for one subscription; they do nothing once `isCurrent()` is false. */
  follow(isCurrent: () => boolean): StatusCallbacks;
}

/** Creates the shared status refs of a channel composable. @internal */
export function subscriptionStatus(options: { onError?: (error: ClientError) => void }): SubscriptionStatus {
  const ready = shallowRef(false);
  const error = shallowRef<ClientError | null>(null);
  const recovered = shallowRef<boolean | null>(null);

  const fail = (problem: ClientError) => {
    error.value = problem;
    options.onError?.(problem);
  };

  return {
    ready,
    error,
    recovered,
    fail,
    reset() {
      ready.value = false;
      error.value = null;
      recovered.value = null;
    },
    follow(isCurrent) {
      let subscribedOnce = false;
      return {
        onSubscribed(info) {
          if (!isCurrent()) return;
          if (subscribedOnce && info.recovered !== undefined) recovered.value = info.recovered;
          subscribedOnce = true;
          ready.value = true;
          if (error.value !== null && error.value.code !== 'bad_data') error.value = null;
        },
        onError(problem) {
          if (isCurrent()) fail(problem);
        },
        opened(subscription) {
          if (subscription.kind !== null) {
            subscribedOnce = true;
            ready.value = true;
          }
          return subscription;
        },
      };
    },
  };
}
