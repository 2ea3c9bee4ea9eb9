/**
 * Prometheus metrics of one hub (its own registry, so several hubs in one process don't clash).
 * @module
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** The metrics of a hub. Names are prefixed with `taskpulse_`. */
export interface HubMetrics {
  /** The registry to expose (`await registry.metrics()`). */
  readonly registry: Registry;
  /** Open connections by transport (`websocket`, `sse`, dialect names). */
  readonly connections: Gauge<'transport'>;
  /** Active channel subscriptions of connections. */
  readonly subscriptions: Gauge;
  /** Channels with a broker subscription in this process. */
  readonly channels: Gauge;
  /** Publications received from the broker. */
  readonly publicationsIn: Counter;
  /** Publications delivered to connections (one per recipient). */
  readonly deliveries: Counter<'transport'>;
  /** Publications made through this hub (client publish, HTTP publish). */
  readonly publishes: Counter<'source'>;
  /** Connections cut for reading too slowly. */
  readonly slowConsumerDisconnects: Counter;
  /** Subscribe outcomes: `fresh`, `recovered`, `not_recovered`, `reset`. */
  readonly recoveries: Counter<'outcome'>;
  /** Errors sent to clients or answered over HTTP, by code. */
  readonly errors: Counter<'code'>;
  /** Connections refused or closed, by reason. */
  readonly rejections: Counter<'reason'>;
}

/** How often the process metrics sample the event-loop lag, in ms. */
const EVENT_LOOP_SAMPLE_MS = 100;

/** Options of {@link createHubMetrics}. */
export interface HubMetricsOptions {
  /** Use this registry instead of a new one. */
  registry?: Registry;
  /**
   * Also collect Node process metrics (CPU, memory, event loop lag sampled every 100 ms, GC).
   * @default true
   */
  processMetrics?: boolean;
  /** Reports the number of channels with a broker subscription, read at scrape time. */
  channelCount?: () => number;
  /**
   * Hands over the publications received since its last call, added to
   * `taskpulse_publications_in_total` at scrape time: the hub counts them in a plain number, not
   * with a prom-client call per publication.
   */
  takePublicationsIn?: () => number;
  /**
   * Adds the deliveries counted since its last call to `taskpulse_deliveries_total`, called at
   * scrape time: the hub counts deliveries in plain numbers, not with a prom-client call per
   * flush of its outbound queues.
   */
  commitDeliveries?: () => void;
}

/** Creates the metrics of a hub. */
export function createHubMetrics(options: HubMetricsOptions = {}): HubMetrics {
  const registry = options.registry ?? new Registry();
  if (options.processMetrics !== false) {
    // Event-loop lag sampled every 100 ms, not prom-client's default 10 ms: that timer woke an idle
    // hub 100 times a second (about 6 ms of CPU per second, measured with 1,000 idle connections),
    // a cost no scrape interval needs.
    collectDefaultMetrics({
      register: registry,
      prefix: 'taskpulse_process_',
      eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
    });
  }
  const registers = [registry];
  return {
    registry,
    connections: new Gauge({
      name: 'taskpulse_connections',
      help: 'Open connections by transport',
      labelNames: ['transport'],
      registers,
    }),
    subscriptions: new Gauge({ name: 'taskpulse_subscriptions', help: 'Active channel subscriptions', registers }),
    channels: new Gauge({
      name: 'taskpulse_channels',
      help: 'Channels with a broker subscription in this process',
      registers,
      collect() {
        if (options.channelCount) this.set(options.channelCount());
      },
    }),
    publicationsIn: new Counter({
      name: 'taskpulse_publications_in_total',
      help: 'Publications received from the broker',
      registers,
      collect() {
        const received = options.takePublicationsIn?.() ?? 0;
        if (received > 0) this.inc(received);
      },
    }),
    deliveries: new Counter({
      name: 'taskpulse_deliveries_total',
      help: 'Publications delivered to connections',
      labelNames: ['transport'],
      registers,
      collect() {
        options.commitDeliveries?.();
      },
    }),
    publishes: new Counter({
      name: 'taskpulse_publishes_total',
      help: 'Publications made through this hub',
      labelNames: ['source'],
      registers,
    }),
    slowConsumerDisconnects: new Counter({
      name: 'taskpulse_slow_consumer_disconnects_total',
      help: 'Connections cut for reading too slowly',
      registers,
    }),
    recoveries: new Counter({
      name: 'taskpulse_subscribe_outcomes_total',
      help: 'Subscribe outcomes: fresh, recovered, not_recovered, reset',
      labelNames: ['outcome'],
      registers,
    }),
    errors: new Counter({
      name: 'taskpulse_errors_total',
      help: 'Errors sent to clients, by code',
      labelNames: ['code'],
      registers,
    }),
    rejections: new Counter({
      name: 'taskpulse_rejections_total',
      help: 'Connections refused or closed, by reason',
      labelNames: ['reason'],
      registers,
    }),
  };
}
