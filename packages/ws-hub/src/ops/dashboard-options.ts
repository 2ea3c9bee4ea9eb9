/**
 * Options of the operations dashboard (`createHub({ dashboard })`).
 * @module
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * The operations dashboard of a hub node: the node publishes its figures on the system channel
 * `taskpulse-system:nodes` every `intervalMs`, and serves the dashboard page at
 * `{http.basePath}/dashboard` when `assetsDir` is given. Needs `http.opsApiKeys`: the figures and
 * the page are for the operations credential only.
 *
 * @example
 * ```ts
 * import { dashboardAssetsDir } from '@taskpulse/dashboard';
 *
 * createHub({ broker, http: { opsApiKeys: [process.env.OPS_KEY!] }, dashboard: { assetsDir: dashboardAssetsDir } });
 * ```
 */
export interface DashboardOptions {
  /**
   * Directory of the built page (`index.html` and `assets/`), usually `dashboardAssetsDir` of
   * `@taskpulse/dashboard`. Without it the node still publishes its figures (another node, or
   * another process, can show them), and `{basePath}/dashboard` answers 404 saying so.
   */
  assetsDir?: string;
  /**
   * How often the node publishes its figures, in ms (250 to 60000).
   * @default 1000
   */
  intervalMs?: number;
  /**
   * The node's name on the dashboard (1 to 200 characters).
   * @default `{hostname}-{pid}-{4 random hex digits}`
   */
  nodeId?: string;
  /**
   * How many of the busiest channels each node lists (0 to 100).
   * @default 10
   */
  topChannels?: number;
  /**
   * How long a dashboard login lasts, in ms (1 minute to 30 days).
   * @default 43200000 (12 h)
   */
  sessionTtlMs?: number;
}

/** Options with every default applied. @internal */
export interface ResolvedDashboardOptions {
  assetsDir: string | undefined;
  intervalMs: number;
  nodeId: string;
  topChannels: number;
  sessionTtlMs: number;
  opsApiKeys: readonly string[];
}

function intIn(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`createHub: dashboard.${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * Applies defaults and checks every field; throws a `TypeError` naming the option.
 * @internal
 */
export function resolveDashboardOptions(
  option: boolean | DashboardOptions,
  opsApiKeys: readonly string[] | undefined,
): ResolvedDashboardOptions {
  const o: DashboardOptions = option === true ? {} : option === false ? {} : option;
  if (typeof o !== 'object' || o === null) {
    throw new TypeError('createHub: dashboard must be true or an object of dashboard options');
  }
  if (!opsApiKeys || opsApiKeys.length === 0 || opsApiKeys.some((k) => typeof k !== 'string' || k.length === 0)) {
    throw new TypeError(
      'createHub: dashboard needs http.opsApiKeys (non-empty strings): the system channels and the page are for the operations credential only',
    );
  }
  if (o.assetsDir !== undefined && (typeof o.assetsDir !== 'string' || o.assetsDir === '')) {
    throw new TypeError('createHub: dashboard.assetsDir must be a directory path');
  }
  const nodeId = o.nodeId ?? `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
  if (typeof nodeId !== 'string' || nodeId.length === 0 || nodeId.length > 200) {
    throw new TypeError('createHub: dashboard.nodeId must be a string of 1 to 200 characters');
  }
  return {
    assetsDir: o.assetsDir,
    intervalMs: intIn(o.intervalMs, 'intervalMs', 250, 60_000, 1000),
    nodeId,
    topChannels: intIn(o.topChannels, 'topChannels', 0, 100, 10),
    sessionTtlMs: intIn(o.sessionTtlMs, 'sessionTtlMs', 60_000, 30 * 24 * 3600 * 1000, 12 * 3600 * 1000),
    opsApiKeys,
  };
}
