/**
 * HTTP side of the hub: SSE, polling, reads, stats, health, metrics, publish, dialect REST paths.
 * Every endpoint is a thin binding over the same {@link HubCore} as the WebSocket endpoint: the
 * same authentication hook, channel authorization, positions and recovery.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TaskpulseError } from '@taskpulse/protocol';
import type { HubCore } from '../core/hub-core';
import type { Principal } from '../core/principal';
import { type DialectRoute, type HubDialect, matchRoutePath } from '../dialects/dialect';
import { parseRequestUrl } from '../request-url';
import { connectionRequest } from './connection-request';
import { httpError, requireApiKey, sendError, sendJson } from './http-io';
import { handleHealthz, handleMetrics, handleReadyz, handleStats } from './ops-endpoints';
import { handlePoll, PollWaiters } from './poll-endpoint';
import { handlePublish } from './publish-endpoint';
import { handleHistory, handleState } from './read-endpoints';
import { type ReadRateLimit, ReadRateLimiter } from './read-rate-limit';
import { handleSse } from './sse-endpoint';
import type { SseTransport } from './sse-transport';

/** Options of the HTTP side of the hub. */
export interface HttpOptions {
  /**
   * Prefix of every native HTTP endpoint.
   * @default '/taskpulse'
   */
  basePath?: string;
  /** API keys accepted by `POST {basePath}/publish`; the endpoint answers 403 while none is set. */
  publishApiKeys?: readonly string[];
  /**
   * API keys required by `/stats`, `/metrics` and dialect stats routes (they reveal user ids).
   * @default none: those endpoints are open (put them behind your proxy's access rules)
   */
  opsApiKeys?: readonly string[];
  /** Dialects whose REST routes this handler serves (their WebSocket paths are mounted by `createHub`). */
  dialects?: readonly HubDialect[];
  /**
   * Interval of SSE heartbeat comments, in ms.
   * @default the core's `heartbeatIntervalMs`
   */
  sseHeartbeatIntervalMs?: number;
  /**
   * `retry:` hint sent to `EventSource` clients (their reconnect delay), in ms.
   * @default 3000
   */
  sseRetryMs?: number;
  /**
   * Longest long-poll `wait`, in ms; a larger `wait` is a 400.
   * @default 30000
   */
  maxPollWaitMs?: number;
  /**
   * Most publications returned by one history read, or by one poll over all its channels
   * (each channel gets `maxReadLimit / channels`; `more: true` says to poll again).
   * @default 1000
   */
  maxReadLimit?: number;
  /**
   * Longest request URL (path and query), in bytes; longer is a 414 `bad_request`.
   * @default 8192
   */
  maxUrlBytes?: number;
  /**
   * Largest request body, in bytes; larger is a 413 `frame_too_large`.
   * @default 1048576
   */
  maxBodyBytes?: number;
  /**
   * Rate limit of reads (`/channels/…/history`, `/channels/…/state`, `/poll`) per client (user id
   * when authenticated, else remote address): over it, 429 `rate_limited` with `Retry-After`.
   * `false` turns it off (behind a proxy that limits by itself).
   * @default { perSecond: 50, burst: 100 }
   */
  readRateLimit?: ReadRateLimit | false;
}

/** Handles the hub's HTTP requests. */
export interface HttpHandler {
  /**
   * Handles a request when its path belongs to the hub. Resolves true when handled (a response
   * was or will be sent), false when the path is not the hub's (the caller passes it on).
   */
  handle(request: IncomingMessage, response: ServerResponse): Promise<boolean>;
  /** Ends long-lived responses (SSE streams, long polls). */
  close(): Promise<void>;
}

const ALLOW_HEADERS = 'Authorization, Content-Type, X-API-Key, Last-Event-ID, If-None-Match, Cache-Control';

/**
 * Creates the HTTP handler of a hub. `createHub` calls it for every request before the user's
 * handlers; use it directly to mount the endpoints on your own server.
 *
 * @example
 * ```ts
 * const core = createHubCore({ authenticate });
 * const http = createHttpHandler(core, { publishApiKeys: [process.env.PUBLISH_KEY!] });
 * createServer(async (req, res) => {
 *   if (!(await http.handle(req, res))) res.writeHead(404).end();
 * }).listen(8080);
 * ```
 */
export function createHttpHandler(core: HubCore, options: HttpOptions = {}): HttpHandler {
  const base = (options.basePath ?? '/taskpulse').replace(/\/+$/, '');
  const maxUrlBytes = options.maxUrlBytes ?? 8192;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const maxLimit = options.maxReadLimit ?? 1000;
  const dialectRoutes: DialectRoute[] = [];
  for (const d of options.dialects ?? []) {
    d.bind?.(core);
    dialectRoutes.push(...(d.routes ?? []));
  }
  const readLimiter =
    options.readRateLimit === false
      ? undefined
      : new ReadRateLimiter(options.readRateLimit ?? {}, () => core.metrics.rejections.inc({ reason: 'read_rate' }));
  const streams = new Set<SseTransport>();
  const waiters = new Set<() => void>();
  let closed = false;

  function corsHeaders(origin: string | undefined): Record<string, string> {
    if (origin === undefined) return {};
    const allowed = core.allowedOrigins;
    const expose = { 'access-control-expose-headers': 'ETag, Retry-After' };
    // Any origin: no credentials, so a foreign page can never read a user's data with their cookies.
    if (!allowed || allowed.includes('*')) return { 'access-control-allow-origin': '*', ...expose };
    core.checkOrigin(origin);
    return {
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      vary: 'Origin',
      ...expose,
    };
  }

  function requireMethod(request: IncomingMessage, allowed: readonly string[]): void {
    if (!allowed.includes(request.method ?? '')) {
      const allow = allowed.join(', ');
      throw httpError('bad_request', 405, `method ${request.method} not allowed here (allowed: ${allow})`, { allow });
    }
  }

  function requireOps(request: IncomingMessage): void {
    if (options.opsApiKeys && options.opsApiKeys.length > 0) {
      requireApiKey(request, options.opsApiKeys, 'this endpoint');
    }
  }

  async function route(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    path: string,
    headers: Record<string, string>,
  ): Promise<void> {
    let principal: Promise<Principal> | undefined;
    const auth = () => {
      principal ??= core.authenticate(connectionRequest(request));
      return principal;
    };
    /** Authenticates a read and takes it from the client's read budget. */
    const reader = async () => {
      const p = await auth();
      readLimiter?.take(request, p);
      return p;
    };
    switch (path) {
      case '/sse':
        requireMethod(request, ['GET']);
        return handleSse(core, await auth(), request, response, url, sseSettings, headers);
      case '/poll':
        requireMethod(request, ['GET', 'POST']);
        return handlePoll(core, await reader(), request, response, url, pollSettings, headers);
      case '/publish':
        requireMethod(request, ['POST']);
        return handlePublish(core, request, response, { apiKeys: options.publishApiKeys, maxBodyBytes }, headers);
      case '/stats':
        requireMethod(request, ['GET']);
        requireOps(request);
        return handleStats(core, response, headers);
      case '/healthz':
        requireMethod(request, ['GET']);
        return handleHealthz(response, headers);
      case '/readyz':
        requireMethod(request, ['GET']);
        return handleReadyz(core, response, headers);
      case '/metrics':
        requireMethod(request, ['GET']);
        requireOps(request);
        return handleMetrics(core, response, headers);
    }
    const read = /^\/channels\/(.+)\/(history|state)$/.exec(path);
    if (read) {
      requireMethod(request, ['GET']);
      let channel: string;
      try {
        channel = decodeURIComponent(read[1] as string);
      } catch {
        throw new TaskpulseError('bad_channel', 'channel in the path is not valid percent-encoding');
      }
      if (read[2] === 'history') {
        return handleHistory(core, await reader(), channel, url, response, { defaultLimit: 100, maxLimit }, headers);
      }
      return handleState(core, await reader(), channel, request, response, headers);
    }
    throw new TaskpulseError('not_found', `no endpoint ${base}${path}`);
  }

  const sseSettings = {
    heartbeatIntervalMs: options.sseHeartbeatIntervalMs ?? core.heartbeatIntervalMs,
    retryMs: options.sseRetryMs ?? 3000,
    track(transport: SseTransport) {
      streams.add(transport);
      return () => streams.delete(transport);
    },
  };
  const pollSettings = {
    maxWaitMs: options.maxPollWaitMs ?? 30_000,
    defaultLimit: 100,
    maxLimit,
    maxBodyBytes,
    waiters: new PollWaiters(),
    onClose(wake: () => void) {
      if (closed) queueMicrotask(wake);
      waiters.add(wake);
      return () => waiters.delete(wake);
    },
  };

  async function handleDialectRoute(
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    matches: Array<{ route: DialectRoute; params: Record<string, string> }>,
    headers: Record<string, string>,
  ): Promise<void> {
    const match = matches.find((m) => m.route.method === request.method);
    if (!match) {
      requireMethod(request, [...new Set(matches.map((m) => m.route.method))]);
      return;
    }
    const { route: r, params } = match;
    let principal: Promise<Principal> | undefined;
    const body = await r.handle({
      core,
      request,
      url,
      params,
      requireOpsKey: () => requireOps(request),
      principal: () => {
        principal ??= core.authenticate(connectionRequest(request));
        return principal;
      },
    });
    sendJson(response, 200, body, headers);
  }

  return {
    async handle(request, response) {
      const raw = request.url ?? '/';
      const url = parseRequestUrl(raw);
      if (!url) return false;
      const path = url.pathname;
      // Dialect routes first: they are exact paths, and a basePath of '/' must not hide them.
      const dialectMatches = dialectRoutes.flatMap((r) => {
        const params = matchRoutePath(r.path, path);
        return params ? [{ route: r, params }] : [];
      });
      const native = dialectMatches.length === 0 && (path === base || path.startsWith(`${base}/`));
      if (!native && dialectMatches.length === 0) return false;
      const originHeader = request.headers.origin;
      let headers: Record<string, string> = {};
      try {
        headers = corsHeaders(typeof originHeader === 'string' ? originHeader : undefined);
        if (Buffer.byteLength(raw) > maxUrlBytes) {
          throw httpError('bad_request', 414, `request URL is longer than ${maxUrlBytes} bytes`, { maxUrlBytes });
        }
        if (closed) throw new TaskpulseError('shutting_down', 'the hub is shutting down');
        if (request.method === 'OPTIONS') {
          response.writeHead(204, {
            ...headers,
            allow: 'GET, POST, OPTIONS',
            'access-control-allow-methods': 'GET, POST, OPTIONS',
            'access-control-allow-headers': ALLOW_HEADERS,
            'access-control-max-age': '600',
          });
          response.end();
          return true;
        }
        if (native) await route(request, response, url, path.slice(base.length) || '/', headers);
        else await handleDialectRoute(request, response, url, dialectMatches, headers);
      } catch (error) {
        sendError(core, response, error, headers);
      }
      return true;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const wake of [...waiters]) wake();
      for (const s of [...streams]) s.close(1001, 'server shutting down');
    },
  };
}
