/**
 * A node's figures for the operations dashboard, read from the hub's own counters (the Prometheus
 * metrics), its sessions and router, the broker's status, the event loop and the process.
 * @module
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { type BrokerStatus, type ChannelFigures, isSystemChannel, type NodeFigures } from '@taskpulse/protocol';
import type { Counter, Gauge } from 'prom-client';
import type { HubCore } from '../core/hub-core';
import { SYSTEM_SOURCE } from './system-guard';

/** Options of {@link NodeFiguresCollector}. */
export interface NodeFiguresOptions {
  /** The node's id. */
  nodeId: string;
  /** How often figures are taken, in ms (rates are per second over this window). */
  intervalMs: number;
  /** How many channels to list among the busiest. */
  topChannels: number;
  /** Long polls waiting now. */
  waitingPolls: () => number;
  /** Poll requests answered or started so far. */
  pollRequests: () => number;
  /** The clock, in ms since the Unix epoch. @default Date.now */
  now?: () => number;
}

interface ChannelTraffic {
  publications: number;
  deliveries: number;
}

interface Totals {
  publicationsIn: number;
  deliveries: number;
  publishes: number;
  recovered: number;
  pollRequests: number;
  at: number;
}

type LabelledMetric = Counter<string> | Gauge<string>;

async function byLabel(metric: LabelledMetric, label: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { value, labels } of (await metric.get()).values) {
    const name = String(labels[label] ?? '');
    if (value > 0) out[name] = (out[name] ?? 0) + value;
  }
  return out;
}

async function total(metric: LabelledMetric): Promise<number> {
  let sum = 0;
  for (const { value } of (await metric.get()).values) sum += value;
  return sum;
}

const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);
const round = (value: number, digits = 2) => {
  const f = 10 ** digits;
  return Number.isFinite(value) ? Math.round(value * f) / f : 0;
};
const ms = (ns: number) => round(ns / 1e6, 3);

/**
 * Collects one node's figures. Feed it the router's fan-outs ({@link NodeFiguresCollector.onFanout})
 * and broker status samples ({@link NodeFiguresCollector.watchBroker}); {@link NodeFiguresCollector.sample}
 * returns the figures of the window since the previous sample.
 * @internal
 */
export class NodeFiguresCollector {
  readonly #core: HubCore;
  readonly #options: NodeFiguresOptions;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #loop: IntervalHistogram;
  #traffic = new Map<string, ChannelTraffic>();
  #previous: Totals;
  #brokerStatus: BrokerStatus;
  #outages = 0;
  #downSince: number | null = null;
  #epoch: string | null = null;
  #epochResets = 0;

  /**
   * @param core - the hub core to read
   * @param options - see {@link NodeFiguresOptions}
   */
  constructor(core: HubCore, options: NodeFiguresOptions) {
    this.#core = core;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#loop = monitorEventLoopDelay({ resolution: 10 });
    this.#loop.enable();
    this.#previous = {
      publicationsIn: 0,
      deliveries: 0,
      publishes: 0,
      recovered: 0,
      pollRequests: 0,
      at: this.#startedAt,
    };
    this.#brokerStatus = core.broker.status();
    if (this.#brokerStatus !== 'ready') this.#downSince = this.#startedAt;
  }

  /** Counts a publication fanned out to `listeners` local listeners. */
  onFanout(publication: { readonly channel: string }, listeners: number): void {
    let t = this.#traffic.get(publication.channel);
    if (!t) {
      // Bounded: a flood of one-off channels between two samples must not grow this without end.
      if (this.#traffic.size >= 10_000) return;
      t = { publications: 0, deliveries: 0 };
      this.#traffic.set(publication.channel, t);
    }
    t.publications++;
    t.deliveries += listeners;
  }

  /** Samples the broker's status; counts outages (ready → anything else). */
  watchBroker(): BrokerStatus {
    const status = this.#core.broker.status();
    if (status !== this.#brokerStatus) {
      if (this.#brokerStatus === 'ready') {
        this.#outages++;
        this.#downSince = this.#now();
      } else if (status === 'ready') {
        this.#downSince = null;
      }
      this.#brokerStatus = status;
    }
    return status;
  }

  /** Records the epoch of a publication of this node on the system channel; counts changes. */
  noteEpoch(epoch: string): void {
    if (this.#epoch !== null && this.#epoch !== epoch) this.#epochResets++;
    this.#epoch = epoch;
  }

  /**
   * The busiest channels: those with traffic in the window by delivery rate, then (when fewer
   * than `topChannels`) idle ones by subscribers. Idle channels are scanned without sorting them
   * all, so a node with a hundred thousand quiet channels does not stall its event loop each sample.
   */
  #topChannels(seconds: number): ChannelFigures[] {
    const limit = this.#options.topChannels;
    if (limit === 0) return [];
    const router = this.#core.router;
    const rows: ChannelFigures[] = [];
    for (const [channel, traffic] of this.#traffic) {
      if (isSystemChannel(channel)) continue;
      rows.push({
        channel,
        subscribers: router.listenerCount(channel),
        publicationsPerSec: round(traffic.publications / seconds),
        deliveriesPerSec: round(traffic.deliveries / seconds),
      });
    }
    rows.sort((a, b) => b.deliveriesPerSec - a.deliveriesPerSec || b.subscribers - a.subscribers);
    if (rows.length >= limit) return rows.slice(0, limit);
    const room = limit - rows.length;
    const idle: ChannelFigures[] = []; // the `room` best idle channels, most subscribers first
    for (const channel of router.channels().keys()) {
      if (this.#traffic.has(channel) || isSystemChannel(channel)) continue;
      const subscribers = router.listenerCount(channel);
      if (idle.length === room && subscribers <= (idle[room - 1] as ChannelFigures).subscribers) continue;
      let at = idle.length;
      while (at > 0 && (idle[at - 1] as ChannelFigures).subscribers < subscribers) at--;
      idle.splice(at, 0, { channel, subscribers, publicationsPerSec: 0, deliveriesPerSec: 0 });
      if (idle.length > room) idle.pop();
    }
    return [...rows, ...idle];
  }

  /** The figures now; rates cover the time since the previous call. */
  async sample(): Promise<NodeFigures> {
    const core = this.#core;
    const m = core.metrics;
    const at = this.#now();
    const seconds = Math.max(0.001, (at - this.#previous.at) / 1000);
    const [deliveriesByTransport, publicationsIn, publishes, slowConsumerCuts, outcomes, refusals, errors, subs] =
      await Promise.all([
        byLabel(m.deliveries, 'transport'),
        total(m.publicationsIn),
        byLabel(m.publishes, 'source').then((bySource) => sum(bySource) - (bySource[SYSTEM_SOURCE] ?? 0)),
        total(m.slowConsumerDisconnects),
        byLabel(m.recoveries, 'outcome'),
        byLabel(m.rejections, 'reason'),
        byLabel(m.errors, 'code'),
        total(m.subscriptions),
      ]);
    const byTransport: Record<string, number> = {};
    const users = new Set<string>();
    let connections = 0;
    for (const s of core.sessions()) {
      connections++;
      byTransport[s.transport.name] = (byTransport[s.transport.name] ?? 0) + 1;
      if (s.principal.userId !== undefined) users.add(s.principal.userId);
    }
    const deliveries = sum(deliveriesByTransport);
    const recovered = outcomes.recovered ?? 0;
    const pollRequests = this.#options.pollRequests();
    const prev = this.#previous;
    const rate = (now: number, before: number) => round(Math.max(0, now - before) / seconds);
    const figures: NodeFigures = {
      v: 1,
      nodeId: this.#options.nodeId,
      startedAt: this.#startedAt,
      at,
      intervalMs: this.#options.intervalMs,
      connections: { total: connections, byTransport, waitingPolls: this.#options.waitingPolls() },
      users: users.size,
      channels: { subscribed: core.router.channelCount, subscriptions: subs, top: this.#topChannels(seconds) },
      rates: {
        publicationsIn: rate(publicationsIn, prev.publicationsIn),
        deliveriesOut: rate(deliveries, prev.deliveries),
        publishes: rate(publishes, prev.publishes),
        recoveryReads: rate(recovered, prev.recovered),
        pollRequests: rate(pollRequests, prev.pollRequests),
      },
      totals: {
        publicationsIn,
        deliveriesByTransport,
        slowConsumerCuts,
        subscribeOutcomes: outcomes,
        refusals,
        errors,
      },
      broker: {
        status: this.watchBroker(),
        outages: this.#outages,
        downSince: this.#downSince,
        epochResets: this.#epochResets,
        epoch: this.#epoch,
      },
      eventLoop: {
        meanMs: ms(this.#loop.mean),
        p99Ms: ms(this.#loop.percentile(99)),
        maxMs: ms(this.#loop.max),
      },
      memory: (() => {
        const mem = process.memoryUsage();
        return { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed, heapTotalBytes: mem.heapTotal };
      })(),
    };
    this.#loop.reset();
    this.#traffic = new Map();
    this.#previous = { publicationsIn, deliveries, publishes, recovered, pollRequests, at };
    return figures;
  }

  /** Stops the event-loop monitor. */
  close(): void {
    this.#loop.disable();
  }
}
