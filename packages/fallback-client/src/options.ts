/**
 * Options with their defaults applied, the transport order (including the support-staff URL
 * override), and the hub's URLs.
 * @module
 */
import { DEFAULT_BACKOFF, type ResolvedBackoff } from './backoff';
import type { ClientLogger, ClientOptions, PollingOptions, TransportName } from './types';

/** The defaults of {@link PollingOptions}. */
export const DEFAULT_POLLING: Readonly<Required<Omit<PollingOptions, 'userIntervalMs'>>> = Object.freeze({
  intervalMs: 5000,
  intervals: {},
  idleBackoffFactor: 1.5,
  maxIntervalMs: 30_000,
  whenHidden: 'slow',
  hiddenMultiplier: 2,
  waitMs: 0,
  limit: 100,
});

/** Bounds of a user-chosen polling interval (`polling.userIntervalMs`), in ms: 3 s to 30 s. */
export const USER_POLLING_INTERVAL_BOUNDS_MS: Readonly<{
  /** Shortest user-chosen interval (ms). */
  min: number;
  /** Longest user-chosen interval (ms). */
  max: number;
}> = Object.freeze({
  min: 3000,
  max: 30_000,
});

/** Name of the page query parameter that overrides the transports (for support staff). */
export const TRANSPORT_OVERRIDE_PARAM = 'taskpulse-transport';

const ALL: readonly TransportName[] = ['websocket', 'sse', 'polling'];

/** @internal */
export interface ResolvedOptions {
  /** `http(s)://host[:port]/prefix` + basePath, without a trailing slash. */
  httpBase: string;
  /** The native WebSocket endpoint. */
  wsUrl: string;
  order: TransportName[];
  /** True when the order came from `auto` (fallback notices apply). */
  auto: boolean;
  connectTimeoutMs: number;
  failuresBeforeFallback: number;
  probeIntervalMs: number;
  backoff: ResolvedBackoff;
  polling: Required<Omit<PollingOptions, 'userIntervalMs'>>;
  withCredentials: boolean;
  logger: ClientLogger | undefined;
}

function positive(value: number | undefined, fallback: number, name: string, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min) {
    throw new TypeError(`createClient: ${name} must be a number ≥ ${min} (got ${String(value)})`);
  }
  return value;
}

function readOverride(): string | null {
  const search = (globalThis as { location?: { search?: unknown } }).location?.search;
  if (typeof search !== 'string' || !search) return null;
  try {
    return new URLSearchParams(search).get(TRANSPORT_OVERRIDE_PARAM);
  } catch {
    return null;
  }
}

/** The transport order from the options and the override. @internal */
export function transportOrder(options: ClientOptions): { order: TransportName[]; auto: boolean } {
  let mode: ClientOptions['transports'] = options.transports ?? 'auto';
  if (options.allowUrlOverride !== false) {
    const override = readOverride();
    if (override === 'auto' || (override !== null && (ALL as string[]).includes(override))) {
      mode = override as 'auto' | TransportName;
    }
  }
  if (options.forcePolling) mode = 'polling';
  if (mode === 'auto') return { order: [...ALL], auto: true };
  const list = typeof mode === 'string' ? [mode] : [...mode];
  if (list.length === 0 || list.some((t) => !(ALL as string[]).includes(t))) {
    throw new TypeError(
      `createClient: transports must be 'auto', 'websocket', 'sse', 'polling' or a list of them (got ${JSON.stringify(mode)})`,
    );
  }
  const order = [...new Set(list)];
  return { order, auto: order.length > 1 };
}

/** Applies defaults and checks types; throws a TypeError naming a bad option. @internal */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('createClient: options must be an object');
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new TypeError(`createClient: url must be an absolute http(s) URL (got ${JSON.stringify(options.url)})`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(`createClient: url must use http or https (got ${base.protocol})`);
  }
  const basePath = options.basePath ?? '/taskpulse';
  if (typeof basePath !== 'string' || (basePath !== '' && !basePath.startsWith('/'))) {
    throw new TypeError('createClient: basePath must start with "/"');
  }
  const prefix = base.pathname.replace(/\/+$/, '');
  const httpBase = `${base.origin}${prefix}${basePath.replace(/\/+$/, '')}`;
  const wsUrl = `${base.protocol === 'https:' ? 'wss:' : 'ws:'}//${base.host}${prefix}${basePath.replace(/\/+$/, '')}/ws`;
  const { order, auto } = transportOrder(options);
  const backoff: ResolvedBackoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  positive(backoff.initialDelayMs, 0, 'backoff.initialDelayMs');
  positive(backoff.maxDelayMs, 0, 'backoff.maxDelayMs');
  positive(backoff.multiplier, 1, 'backoff.multiplier', 1);
  positive(backoff.healthyAfterMs, 0, 'backoff.healthyAfterMs');
  positive(backoff.maxAttempts, 1, 'backoff.maxAttempts', 1);
  const { userIntervalMs, ...pollingOptions } = options.polling ?? {};
  const polling: Required<Omit<PollingOptions, 'userIntervalMs'>> = { ...DEFAULT_POLLING, ...pollingOptions };
  positive(polling.intervalMs, 0, 'polling.intervalMs', 10);
  if (userIntervalMs !== undefined) {
    const { min, max } = USER_POLLING_INTERVAL_BOUNDS_MS;
    polling.intervalMs = Math.min(max, Math.max(min, positive(userIntervalMs, 0, 'polling.userIntervalMs')));
  }
  positive(polling.maxIntervalMs, 0, 'polling.maxIntervalMs', 10);
  positive(polling.idleBackoffFactor, 1, 'polling.idleBackoffFactor', 1);
  positive(polling.hiddenMultiplier, 1, 'polling.hiddenMultiplier', 1);
  positive(polling.waitMs, 0, 'polling.waitMs');
  positive(polling.limit, 1, 'polling.limit', 1);
  for (const [key, ms] of Object.entries(polling.intervals)) positive(ms, 0, `polling.intervals[${key}]`, 10);
  if (!['slow', 'pause', 'none'].includes(polling.whenHidden)) {
    throw new TypeError("createClient: polling.whenHidden must be 'slow', 'pause' or 'none'");
  }
  return {
    httpBase,
    wsUrl,
    order,
    auto,
    connectTimeoutMs: positive(options.connectTimeoutMs, 10_000, 'connectTimeoutMs', 1),
    failuresBeforeFallback: positive(options.failuresBeforeFallback, 3, 'failuresBeforeFallback', 1),
    probeIntervalMs: positive(options.probeIntervalMs, 60_000, 'probeIntervalMs'),
    backoff,
    polling,
    withCredentials: options.withCredentials === true,
    logger: options.logger,
  };
}
