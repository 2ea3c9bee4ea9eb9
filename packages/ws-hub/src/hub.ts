/**
 * `createHub`: the hub core with its WebSocket and HTTP bindings, attached to a Node
 * `http.Server` (beside Express, Fastify or plain handlers) or listening on its own.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type Broker, TaskpulseError } from '@taskpulse/protocol';
import type { PerMessageDeflateOptions } from 'ws';
import { nativeCodec } from './core/codec';
import { createHubCore, type HubCore, type HubStats } from './core/hub-core';
import type { HubMetrics } from './core/metrics';
import type { HubCoreOptions } from './core/options';
import type { HubDialect } from './dialects/dialect';
import { createHttpHandler, type HttpOptions } from './http/http-handler';
import { createDashboard } from './ops/dashboard';
import { type DashboardOptions, resolveDashboardOptions } from './ops/dashboard-options';
import { rejectUpgrade } from './ws/reject-upgrade';
import { createWsBinding, type WsMount, type WsStats } from './ws/ws-binding';

/** A WebSocket dialect: a codec on its own path; a full {@link HubDialect} also brings REST routes. */
export type WsDialect = WsMount & Partial<Pick<HubDialect, 'name' | 'routes' | 'bind'>>;

/** Options of {@link createHub}: the core's options plus where and how to serve. */
export interface HubOptions extends HubCoreOptions {
  /**
   * Attach to this server: the hub takes upgrades on its WebSocket paths (other upgrades are left
   * to other listeners) and answers its HTTP paths before the server's own request listeners.
   * Create the hub after your app's request listener is attached (`http.createServer(app)`).
   */
  server?: Server | HttpsServer;
  /** Listen on this port with a server of the hub's own (0 picks a free port). Ignored with `server`. */
  port?: number;
  /**
   * Interface to listen on in standalone mode.
   * @default Node's default (all interfaces)
   */
  host?: string;
  /**
   * Path of the native WebSocket endpoint.
   * @default '/taskpulse/ws'
   */
  path?: string;
  /**
   * Dialects: other codecs on other WebSocket paths. Those that are full {@link HubDialect}s (with a
   * `name`) also have their REST routes served, unless `http.dialects` is given.
   */
  dialects?: readonly WsDialect[];
  /** Options of the HTTP side (SSE, polling, reads, stats, metrics). */
  http?: HttpOptions;
  /**
   * Whether to answer the hub's HTTP paths on an attached server (by wrapping its request
   * listeners). Turn it off to route requests yourself with {@link Hub.handleRequest}.
   * @default true
   */
  interceptRequests?: boolean;
  /**
   * Per-message compression on WebSocket connections.
   * @default false (it costs CPU per message per socket and disables the pre-framed fast path)
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /**
   * How long `close()` waits for clients to answer the closing handshake before cutting them, in ms.
   * @default 3000
   */
  closeTimeoutMs?: number;
  /**
   * The operations dashboard: this node publishes its figures on the system channel
   * `taskpulse-system:nodes` and serves the page at `{http.basePath}/dashboard` (with
   * `assetsDir`). Needs `http.opsApiKeys`; see `docs/hub.md#operations-dashboard`.
   * @default false
   */
  dashboard?: boolean | DashboardOptions;
}

/** A running hub. */
export interface Hub {
  /** The transport-independent core. */
  readonly core: HubCore;
  /** The backplane. */
  readonly broker: Broker;
  /** Prometheus metrics (`await hub.metrics.registry.metrics()`). */
  readonly metrics: HubMetrics;
  /** The HTTP server: the attached one, the standalone one, or undefined without either. */
  readonly server: Server | HttpsServer | undefined;
  /** Resolves once the standalone server listens (at once otherwise); rejects when it cannot. */
  readonly listening: Promise<void>;
  /** The server's address (null before it listens or without a server). */
  address(): AddressInfo | null;
  /** Connection statistics. */
  stats(): HubStats;
  /** WebSocket backlog numbers (queued bytes, slow consumers). */
  wsStats(): WsStats;
  /** Whether the broker is reachable and the hub open (for readiness probes). */
  ready(): boolean;
  /**
   * Answers a request when its path is one of the hub's HTTP endpoints; resolves false otherwise
   * (pass it on). For servers where the hub does not wrap the request listeners.
   */
  handleRequest(request: IncomingMessage, response: ServerResponse): Promise<boolean>;
  /**
   * Takes an upgrade request on one of the hub's WebSocket paths (returns true), or returns false.
   * For servers whose `upgrade` event you dispatch yourself.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /**
   * Stops accepting, closes WebSocket connections with 1001 (after writing what is pending),
   * ends SSE and long polls, releases the broker subscriptions, closes the broker when the hub
   * created it, closes the standalone server and detaches from an attached one. Idempotent.
   */
  close(): Promise<void>;
}

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

function notFound(response: ServerResponse): void {
  if (response.headersSent) return;
  const body = JSON.stringify(new TaskpulseError('not_found', 'no such endpoint').toJSON());
  response.writeHead(404, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  response.end(body);
}

function internalError(response: ServerResponse): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const body = JSON.stringify(new TaskpulseError('internal', 'internal error').toJSON());
  response.writeHead(500, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  response.end(body);
}

/** Request head limit of the standalone server, in bytes (URL + Last-Event-ID + the usual headers). */
const STANDALONE_MAX_HEADER_BYTES = 64 * 1024;

/**
 * Creates a hub: the core, the WebSocket endpoint (native protocol on `path`, dialects on theirs)
 * and the HTTP endpoints, on an existing server, on its own server, or on none (dispatch with
 * {@link Hub.handleRequest} / {@link Hub.handleUpgrade}).
 *
 * @example beside Express
 * ```ts
 * const app = express();
 * const server = http.createServer(app);
 * const hub = createHub({ server, authenticate: createJwtAuthenticator({ secret }) });
 * server.listen(8080);
 * ```
 * @example standalone
 * ```ts
 * const hub = createHub({ port: 8080 });
 * await hub.listening;
 * ```
 */
export function createHub(options: HubOptions = {}): Hub {
  const dashboardOptions = options.dashboard
    ? resolveDashboardOptions(options.dashboard, options.http?.opsApiKeys)
    : undefined;
  const core = createHubCore(options);
  const { logger } = core;
  const dialects = options.dialects ?? [];
  const mounts: WsMount[] = [{ path: options.path ?? '/taskpulse/ws', codec: nativeCodec }];
  for (const d of dialects) mounts.push({ path: d.path, codec: d.codec });
  const ws = createWsBinding(core, {
    mounts,
    ...(options.perMessageDeflate !== undefined ? { perMessageDeflate: options.perMessageDeflate } : {}),
  });
  const httpDialects = dialects.filter((d): d is WsDialect & HubDialect => typeof d.name === 'string');
  const baseHttp = createHttpHandler(core, {
    ...options.http,
    ...(options.http?.dialects === undefined && httpDialects.length > 0 ? { dialects: httpDialects } : {}),
  });
  const dashboard = dashboardOptions
    ? createDashboard(core, dashboardOptions, {
        basePath: (options.http?.basePath ?? '/taskpulse').replace(/\/+$/, ''),
        wsPath: options.path ?? '/taskpulse/ws',
      })
    : undefined;
  const http = dashboard ? dashboard.wrap(baseHttp) : baseHttp;

  const standalone = options.server === undefined && options.port !== undefined;
  const server: Server | HttpsServer | undefined =
    options.server ??
    (standalone
      ? // An SSE resume sends its URL (up to `maxUrlBytes`) and a Last-Event-ID naming every one of
        // its channels' positions: more than Node's default 16 KiB of request head (a 431 there
        // ends the browser's EventSource for good).
        createServer({ maxHeaderSize: STANDALONE_MAX_HEADER_BYTES }, (request, response) => {
          http.handle(request, response).then(
            (handled) => {
              if (!handled) notFound(response);
            },
            (error) => {
              logger.error('request failed', { url: request.url, error: String(error) });
              internalError(response);
            },
          );
        })
      : undefined);

  // Upgrades: only the hub's paths; others belong to other listeners (or get a 404 when there
  // are none, instead of hanging).
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (ws.handleUpgrade(request, socket, head)) return;
    if (standalone || (server?.listenerCount('upgrade') ?? 0) <= 1) {
      socket.on('error', () => {});
      rejectUpgrade(socket, new TaskpulseError('not_found', 'no WebSocket endpoint on this path'));
    }
  };

  // Requests on an attached server: the hub's endpoints first, then the server's own listeners.
  let previousListeners: RequestListener[] = [];
  let onRequest: RequestListener | undefined;
  if (server && !standalone && options.interceptRequests !== false) {
    previousListeners = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    const attached = server;
    onRequest = (request, response) => {
      http.handle(request, response).then(
        (handled) => {
          if (handled) return;
          if (previousListeners.length === 0 && attached.listenerCount('request') <= 1) {
            notFound(response);
            return;
          }
          for (const listener of previousListeners) listener.call(attached, request, response);
        },
        (error) => {
          logger.error('request failed', { url: request.url, error: String(error) });
          internalError(response);
        },
      );
    };
    server.on('request', onRequest);
  }
  server?.on('upgrade', onUpgrade);

  let listening: Promise<void> = Promise.resolve();
  if (standalone && server) {
    listening = new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => {
        logger.error('hub server could not listen', { error: error.message });
        reject(error);
      };
      server.once('error', onError);
      server.listen(options.port, options.host, () => {
        server.off('error', onError);
        const address = server.address() as AddressInfo;
        logger.info?.('hub listening', { address: address.address, port: address.port });
        resolve();
      });
    });
    // Callers that never await `listening` must not get an unhandled rejection.
    listening.catch(() => {});
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info?.('hub closing');
      await dashboard?.close();
      server?.off('upgrade', onUpgrade);
      await Promise.allSettled([ws.close(1001, 'server shutting down', options.closeTimeoutMs), http.close()]);
      await core.close();
      if (server && onRequest) {
        server.off('request', onRequest);
        for (const listener of previousListeners) server.on('request', listener);
      }
      if (standalone && server?.listening) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
    })();
    return closing;
  };

  return {
    core,
    broker: core.broker,
    metrics: core.metrics,
    server,
    listening,
    address() {
      const address = server?.address();
      return address && typeof address === 'object' ? address : null;
    },
    stats: () => core.stats(),
    wsStats: () => ws.stats(),
    ready: () => core.ready(),
    handleRequest: (request, response) => http.handle(request, response),
    handleUpgrade: (request, socket, head) => ws.handleUpgrade(request, socket, head),
    close,
  };
}
