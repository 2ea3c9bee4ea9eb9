/**
 * The part every channel composable shares: follow a channel name given as a value, ref or getter;
 * subscribe, resubscribe when it changes, release on scope dispose.
 * @module
 * @internal
 */
import type { ClientError, Subscription, TaskpulseClient } from '@taskpulse/fallback-client';
import { channelNameProblem } from '@taskpulse/protocol';
import { type MaybeRefOrGetter, onScopeDispose, toValue, watch } from 'vue';
import { toClientError } from './errors';

/** What a composable does for one subscription. @internal */
export interface ChannelHandlers<T> {
  /** Clears the composable's state for a new channel (or none). */
  reset(channel: string | null): void;
  /** Opens the subscription; `isCurrent()` is false once the composable moved on. */
  open(client: TaskpulseClient, channel: string, isCurrent: () => boolean): Subscription<T>;
  /** Reports a problem found before subscribing (a bad channel name, a throwing client). */
  fail(error: ClientError): void;
}

/** @internal */
export interface ChannelWatch<T> {
  /** The current subscription, or null (no channel, server rendering, failed). */
  current(): Subscription<T> | null;
}

/**
 * Follows `channel` with `handlers`. A null, undefined or empty name subscribes to nothing.
 * @internal
 */
export function watchChannel<T>(
  client: TaskpulseClient | null,
  channel: MaybeRefOrGetter<string | null | undefined>,
  handlers: ChannelHandlers<T>,
): ChannelWatch<T> {
  let subscription: Subscription<T> | null = null;
  let generation = 0;

  const release = () => {
    generation++;
    const previous = subscription;
    subscription = null;
    previous?.unsubscribe();
  };

  const stop = watch(
    () => toValue(channel) || null,
    (name) => {
      release();
      handlers.reset(name);
      if (name === null || client === null) return;
      const problem = channelNameProblem(name);
      if (problem !== null) {
        handlers.fail({ code: 'bad_channel', message: `invalid channel name ${JSON.stringify(name)}: ${problem}` });
        return;
      }
      const mine = generation;
      try {
        subscription = handlers.open(client, name, () => mine === generation);
      } catch (cause) {
        handlers.fail(toClientError(cause));
      }
    },
    { immediate: true },
  );

  onScopeDispose(() => {
    stop();
    release();
  });

  return { current: () => subscription };
}
