/**
 * Dialects: a legacy front-end's WebSocket format (a {@link WireCodec} on its own path) plus the
 * REST routes it calls, so one hub serves existing pages unchanged.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { WireCodec } from '../core/codec';
import type { HubCore } from '../core/hub-core';
import type { Principal } from '../core/principal';

/** What a dialect REST route gets. */
export interface DialectRequestContext {
  /** The hub core. */
  readonly core: HubCore;
  /** The request. */
  readonly request: IncomingMessage;
  /** The parsed request URL. */
  readonly url: URL;
  /** Path parameters (`:task_id` in the route's path), decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** Authenticates the request with the hub's `authenticate` hook (once per request). */
  principal(): Promise<Principal>;
  /**
   * Throws `unauthorized` unless the request carries one of the handler's `opsApiKeys` (no-op
   * when none are configured). For routes that reveal operational data (connection stats).
   */
  requireOpsKey(): void;
}

/** A REST route of a dialect, served by the HTTP handler at an absolute path. */
export interface DialectRoute {
  /** The HTTP method. */
  readonly method: 'GET' | 'POST';
  /**
   * The absolute path; a segment `:name` matches one path segment and becomes `params.name`.
   * Routes are tried in order, so list literal paths (`/progress/stats`) before parameters.
   */
  readonly path: string;
  /**
   * Answers the request: the returned value is sent as JSON with status 200. Throw a
   * `TaskpulseError` for an error (sent as `{error: {code, message}}` with its HTTP status).
   */
  handle(context: DialectRequestContext): unknown;
}

/**
 * A dialect: a codec on a WebSocket path, plus REST routes. Pass it to `createHub({ dialects })`
 * (which mounts `codec` on `path`) and to the HTTP handler's `dialects` (which serves `routes`).
 */
export interface HubDialect {
  /** A short name (also the transport name in stats and metrics). */
  readonly name: string;
  /** The WebSocket path, e.g. `/ws/processor-status`. */
  readonly path: string;
  /** How clients on `path` speak. */
  readonly codec: WireCodec;
  /** REST routes of the same legacy API. */
  readonly routes?: readonly DialectRoute[];
  /** Called once with the hub core when the HTTP handler is created (before any request). */
  bind?(core: HubCore): void;
}

/**
 * Declares a dialect (an identity function that checks the shape and keeps the literal type).
 *
 * @example a read-only dialect that forwards one state channel's data as bare JSON
 * ```ts
 * export const queueDialect = defineDialect({
 *   name: 'queue',
 *   path: '/ws/queue',
 *   codec: createChannelCodec({
 *     name: 'queue',
 *     channels: () => ['queue-updates'],
 *     encode: (p) => JSON.stringify(p.data),
 *   }),
 *   routes: [stateRoute({ path: '/api/queue', channel: 'queue-updates' })],
 * });
 * ```
 */
export function defineDialect<T extends HubDialect>(dialect: T): T {
  if (!dialect.path.startsWith('/')) throw new TypeError(`dialect ${dialect.name}: path must start with "/"`);
  for (const route of dialect.routes ?? []) {
    if (!route.path.startsWith('/')) throw new TypeError(`dialect ${dialect.name}: route path must start with "/"`);
  }
  return dialect;
}

/**
 * Matches a route path against a request pathname. Returns the decoded parameters, or null.
 * Undecodable segments do not match.
 */
export function matchRoutePath(pattern: string, pathname: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = pathname.split('/');
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (w.startsWith(':')) {
      if (g === '') return null;
      try {
        params[w.slice(1)] = decodeURIComponent(g);
      } catch {
        return null;
      }
    } else if (w !== g) return null;
  }
  return params;
}
