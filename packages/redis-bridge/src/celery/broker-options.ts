/**
 * Where a Celery app's events appear on Redis, computed from the same broker URL and transport
 * options the app uses (kombu's `keyprefix_fanout`, `fanout_patterns`, `global_keyprefix`).
 * @module
 */

/** The broker transport options that change channel names (Celery's `broker_transport_options`). */
export interface CeleryTransportOptions {
  /**
   * kombu's `fanout_prefix`: `true` prefixes fanout channels with `/{db}.`, `false` with nothing,
   * a string is used as the prefix (with `{db}` replaced by the DB number).
   * @default true
   */
  fanout_prefix?: boolean | string;
  /**
   * kombu's `fanout_patterns`: `true` appends `/<routing key>` to fanout channels
   * (`/0.celeryev/task.multi`), `false` publishes every event on the exchange's channel (`/0.celeryev`).
   * @default true
   */
  fanout_patterns?: boolean;
  /** kombu's `global_keyprefix`: prefixes every broker key and channel (`myapp:`). @default none */
  global_keyprefix?: string;
}

/** The channels of one Celery app, as {@link celeryChannelNames} computes them. */
export interface CeleryChannelNames {
  /** The broker DB number (from the URL path or `virtual_host`). */
  db: number;
  /** The fanout prefix in use, e.g. `/0.` or `myapp:/0.` (global key prefix included). */
  prefix: string;
  /** The events channel without routing key, e.g. `/0.celeryev`. */
  events: string;
  /** Whether events carry their routing key in the channel (`fanout_patterns`). */
  patterns: boolean;
  /** The remote-control channel, e.g. `/0.celery.pidbox`. */
  pidbox: string;
}

/**
 * Parses the DB number from a Celery broker URL (`redis://:pw@host:6379/3`, `rediss://…`,
 * `redis+socket:///run/redis.sock?virtual_host=2`, `unix:///…?db=2`).
 * @throws TypeError for a URL that is not a Redis URL or has an invalid DB number
 */
export function brokerDbFromUrl(brokerUrl: string): number {
  let url: URL;
  try {
    url = new URL(brokerUrl);
  } catch {
    throw new TypeError(`brokerUrl: not a URL: ${JSON.stringify(brokerUrl.slice(0, 200))}`);
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (!['redis', 'rediss', 'redis+socket', 'unix'].includes(scheme)) {
    throw new TypeError(`brokerUrl: expected a redis://, rediss:// or redis+socket:// URL, got ${scheme}://`);
  }
  const fromQuery = url.searchParams.get('virtual_host') ?? url.searchParams.get('db');
  let text: string;
  if (fromQuery !== null) text = fromQuery.replace(/^\//, '');
  else if (scheme === 'redis' || scheme === 'rediss') text = url.pathname.replace(/^\//, '');
  else text = '';
  if (text === '') return 0;
  if (!/^\d{1,5}$/.test(text)) throw new TypeError(`brokerUrl: invalid DB number ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * Computes the channel names of a Celery app's events and control broadcasts, as kombu's Redis
 * transport builds them (`Channel._get_publish_topic`).
 *
 * @example
 * ```ts
 * celeryChannelNames('redis://localhost:6379/3', { global_keyprefix: 'myapp:' }).events // 'myapp:/3.celeryev'
 * ```
 */
export function celeryChannelNames(
  brokerUrl: string,
  transportOptions: CeleryTransportOptions = {},
  eventExchange = 'celeryev',
): CeleryChannelNames {
  const db = brokerDbFromUrl(brokerUrl);
  const fp = transportOptions.fanout_prefix ?? true;
  if (typeof fp !== 'boolean' && typeof fp !== 'string') {
    throw new TypeError('transportOptions.fanout_prefix must be a boolean or a string');
  }
  const fanout = fp === true ? `/${db}.` : fp === false ? '' : fp.replaceAll('{db}', String(db));
  const patterns = transportOptions.fanout_patterns ?? true;
  if (typeof patterns !== 'boolean') throw new TypeError('transportOptions.fanout_patterns must be a boolean');
  const global = transportOptions.global_keyprefix ?? '';
  if (typeof global !== 'string') throw new TypeError('transportOptions.global_keyprefix must be a string');
  const prefix = `${global}${fanout}`;
  return { db, prefix, events: `${prefix}${eventExchange}`, patterns, pidbox: `${prefix}celery.pidbox` };
}

/** Escapes Redis glob characters so that `text` matches itself in a PSUBSCRIBE pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
