/**
 * What to do after the active transport failed: the client's one "retry, refresh, fall back or
 * give up" decision, as a pure function of the classified failure and the counters (so the rules
 * of docs/client.md, "Falling back and going back up", read in one place).
 * @module
 */
import type { TransportFailure } from './errors';

/** The counters the decision depends on. @internal */
export interface FailureContext {
  /** A `getToken()` hook exists (a refusal may be fixed by a new token). */
  canRefreshToken: boolean;
  /** The token was already refreshed once since the last successful connection. */
  authRetried: boolean;
  /** Network failures in a row on this transport, including this one. */
  failures: number;
  /** `failuresBeforeFallback`. */
  failuresBeforeFallback: number;
  /** A transport after this one exists in the order. */
  hasNext: boolean;
}

/** The decision. @internal */
export type FailureDecision =
  /** Call `getToken()` again and reconnect at once on the same transport. */
  | { type: 'refresh-token' }
  /** Credentials refused (or the connection forbidden) even after a refresh: status `unauthorized`, stop. */
  | { type: 'unauthorized' }
  /** Retrying cannot help (bad request, protocol version): report, status `offline`, stop. */
  | { type: 'stop' }
  /** Move to the next transport at once. */
  | { type: 'fallback' }
  /**
   * Reconnect on the same transport: at once, or after the backoff delay. `liveDown` marks the
   * hub's broker as down; `exhausted` means this was the last transport's last allowed failure in a
   * row (status `offline` while retrying).
   */
  | { type: 'retry'; immediate: boolean; liveDown: boolean; exhausted: boolean };

/** Decides what follows a failure of the active transport. @internal */
export function decideAfterFailure(failure: TransportFailure, ctx: FailureContext): FailureDecision {
  switch (failure.kind) {
    case 'auth':
    case 'forbidden':
      // Issue 10: 401/403 and the auth close codes go to getToken() once (a 4403 after a refresh
      // to another user's token is fixed by the right token), then to `unauthorized`.
      return ctx.canRefreshToken && !ctx.authRetried ? { type: 'refresh-token' } : { type: 'unauthorized' };
    case 'fatal':
      return { type: 'stop' };
    case 'unavailable':
      // Every transport would get the same 503 while the broker is down: back off, do not fall back.
      return { type: 'retry', immediate: false, liveDown: true, exhausted: false };
    case 'rate_limited':
      return { type: 'retry', immediate: false, liveDown: false, exhausted: false };
    case 'unreachable':
      // The hub is down for every transport: back off on this one (status `offline` after
      // `failuresBeforeFallback` in a row) and come back on it when the hub does.
      return {
        type: 'retry',
        immediate: false,
        liveDown: false,
        exhausted: ctx.failures >= ctx.failuresBeforeFallback,
      };
    case 'dropped':
      return { type: 'retry', immediate: failure.immediate === true, liveDown: false, exhausted: false };
    case 'network': {
      const reached = ctx.failures >= ctx.failuresBeforeFallback;
      if (reached && ctx.hasNext) return { type: 'fallback' };
      return { type: 'retry', immediate: false, liveDown: false, exhausted: reached };
    }
  }
}
