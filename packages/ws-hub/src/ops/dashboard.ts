/**
 * The operations dashboard of one hub node: the figures publisher, the operations credential on
 * every transport, and the page. `createHub({ dashboard })` wires it in.
 * @module
 */
import type { HubCore } from '../core/hub-core';
import type { HttpHandler } from '../http/http-handler';
import { parseRequestUrl } from '../request-url';
import type { ResolvedDashboardOptions } from './dashboard-options';
import { createDashboardRoute } from './dashboard-route';
import { type FiguresPublisher, startFiguresPublisher } from './figures-publisher';
import { NodeFiguresCollector } from './node-figures';
import { createOpsCredential } from './ops-credential';

/** A running dashboard. @internal */
export interface Dashboard {
  /** The figures publisher. */
  readonly publisher: FiguresPublisher;
  /** The hub's HTTP handler with the dashboard's paths in front (and poll requests counted). */
  wrap(http: HttpHandler): HttpHandler;
  /** Stops publishing (announcing `node.stopped`) and detaches from the core. */
  close(): Promise<void>;
}

/** Where the hub serves. @internal */
export interface DashboardPaths {
  /** The HTTP base path, e.g. `/taskpulse` (no trailing slash). */
  basePath: string;
  /** The native WebSocket path, e.g. `/taskpulse/ws`. */
  wsPath: string;
}

/**
 * The session cookie must reach the page, the HTTP endpoints and the WebSocket path: the base
 * path when the WebSocket lives under it, else the whole site.
 */
function cookiePathFor({ basePath, wsPath }: DashboardPaths): string {
  if (basePath === '' || basePath === '/') return '/';
  return wsPath === basePath || wsPath.startsWith(`${basePath}/`) ? basePath : '/';
}

/**
 * Starts the dashboard of a hub node and installs its hooks on the core.
 * @internal
 */
export function createDashboard(core: HubCore, options: ResolvedDashboardOptions, paths: DashboardPaths): Dashboard {
  const credential = createOpsCredential({ apiKeys: options.opsApiKeys, sessionTtlMs: options.sessionTtlMs });
  let pollRequests = 0;
  let waitingPolls = 0;
  const collector = new NodeFiguresCollector(core, {
    nodeId: options.nodeId,
    intervalMs: options.intervalMs,
    topChannels: options.topChannels,
    waitingPolls: () => waitingPolls,
    pollRequests: () => pollRequests,
  });
  core.ops = {
    principalFor: (request) => credential.principalFor(request),
    onFanout: (publication, listeners) => collector.onFanout(publication, listeners),
    // Outages are counted on the core's own broker checks: no second timer polls the broker.
    onBrokerCheck: () => {
      collector.watchBroker();
    },
  };
  const publisher = startFiguresPublisher(core, collector, options);
  const route = createDashboardRoute({
    core,
    options,
    credential,
    publisher,
    basePath: paths.basePath,
    cookiePath: cookiePathFor(paths),
  });
  const pollPath = `${paths.basePath}/poll`;

  return {
    publisher,
    wrap(http) {
      return {
        async handle(request, response) {
          const path = parseRequestUrl(request.url)?.pathname;
          if (path === undefined) return http.handle(request, response);
          if (path === pollPath) {
            pollRequests++;
            waitingPolls++;
            response.once('close', () => waitingPolls--);
          }
          if (await route.handle(request, response, path)) return true;
          return http.handle(request, response);
        },
        close: () => http.close(),
      };
    },
    async close() {
      await publisher.close();
      core.ops = undefined;
    },
  };
}
