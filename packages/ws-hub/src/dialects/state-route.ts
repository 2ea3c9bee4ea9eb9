/**
 * A REST route that answers a channel's current value (seed 000's "load the initial status over
 * HTTP", seed 002's `GET /api/tasks/queue/status`).
 * @module
 */
import { type Publication, TaskpulseError } from '@taskpulse/protocol';
import type { DialectRoute } from './dialect';

/** Options of {@link stateRoute}. */
export interface StateRouteOptions {
  /** The absolute path, e.g. `/api/processor/status`. */
  path: string;
  /** The channel whose newest publication is answered. */
  channel: string;
  /**
   * Shapes the response body from the newest publication.
   * @default the publication's `data`, bare
   */
  body?: (latest: Publication) => unknown;
  /**
   * The body to answer while the channel is empty.
   * @default none: a 404 `not_found` error
   */
  empty?: () => unknown;
}

/**
 * A `GET` route answering a channel's current value, after authorizing `read` for the request's
 * principal.
 *
 * @example
 * ```ts
 * stateRoute({ path: '/api/tasks/queue/status', channel: 'celery:queue',
 *   body: (p) => ({ code: 200, message: 'success', data: p.data }) });
 * ```
 */
export function stateRoute(options: StateRouteOptions): DialectRoute {
  return {
    method: 'GET',
    path: options.path,
    async handle(ctx) {
      const state = await ctx.core.readState(await ctx.principal(), options.channel);
      if (!state.latest) {
        if (options.empty) return options.empty();
        throw new TaskpulseError('not_found', `${options.channel} has no value yet`, {
          details: { channel: options.channel },
        });
      }
      return options.body ? options.body(state.latest) : state.latest.data;
    },
  };
}
