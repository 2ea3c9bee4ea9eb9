/**
 * The hub's system namespace: where hub nodes publish their own figures for the operations
 * dashboard. It is reserved: every broker resolves it with {@link SYSTEM_NAMESPACE_OPTIONS}
 * whatever its namespace table says, and hubs let only the operations credential subscribe to it
 * or read it (nobody publishes into it but the hubs themselves).
 * @module
 */
import { z } from 'zod';
import type { NamespaceOptions } from './channel';

/** The reserved namespace of the hubs' own channels. */
export const SYSTEM_NAMESPACE = 'taskpulse-system';

/**
 * The options every broker resolves for {@link SYSTEM_NAMESPACE} (a table entry for it is
 * ignored): an events log of the last 120 figures (2 minutes of one node at one a second, or a
 * minute of two), gone from Redis a minute after the last node stopped publishing, closed to
 * every client by default authorization.
 */
export const SYSTEM_NAMESPACE_OPTIONS: Readonly<NamespaceOptions> = Object.freeze({
  kind: 'events',
  historySize: 120,
  historyTtlMs: 60_000,
  access: 'none',
  clientPublish: false,
  maxPayloadBytes: 64 * 1024,
});

/** The channel on which every hub node publishes its figures (events `node.figures`, `node.stopped`). */
export const SYSTEM_NODES_CHANNEL = `${SYSTEM_NAMESPACE}:nodes`;

/**
 * The token the dashboard page presents (`?token=` on WebSocket and SSE, `Authorization: Bearer`
 * over HTTP) to have the hub use its session cookie. Not a secret: it only says "this request is
 * the dashboard's", so that a browser which holds the cookie and also uses an application on the
 * same origin keeps the application's own identity on the application's connections.
 */
export const OPS_SESSION_TOKEN = 'taskpulse-ops-session';

/** Event names on {@link SYSTEM_NODES_CHANNEL}. */
export const SystemEvents = {
  /** A node's figures, data {@link NodeFigures}, every `intervalMs`. */
  NODE_FIGURES: 'node.figures',
  /** A node is shutting down, data `{ nodeId }`: dashboards drop it at once. */
  NODE_STOPPED: 'node.stopped',
} as const;

/** Whether a channel name belongs to the reserved {@link SYSTEM_NAMESPACE} (no validation). */
export function isSystemChannel(channel: string): boolean {
  return channel === SYSTEM_NAMESPACE || channel.startsWith(`${SYSTEM_NAMESPACE}:`);
}

const count = z.number().int().nonnegative();
const rate = z.number().nonnegative();
const countsByName = z.record(z.string(), count);

/** One channel among a node's busiest. */
export const channelFiguresSchema = z.object({
  /** The channel name (figures are readable by the operations credential only). */
  channel: z.string(),
  /** Local subscribers (connections and waiting polls) on this node. */
  subscribers: count,
  /** Publications received from the broker per second, over the last interval. */
  publicationsPerSec: rate,
  /** Deliveries to local subscribers per second (publications × subscribers), over the last interval. */
  deliveriesPerSec: rate,
});

/** What one hub node publishes about itself on {@link SYSTEM_NODES_CHANNEL}. */
export const nodeFiguresSchema = z.object({
  /** Version of this payload. */
  v: z.literal(1),
  /** The node's id (`dashboard.nodeId`, default host name, process id and a random suffix). */
  nodeId: z.string().min(1).max(200),
  /** When the node started, in ms since the Unix epoch. */
  startedAt: z.number(),
  /** When these figures were taken, in ms since the Unix epoch. */
  at: z.number(),
  /** How often the node publishes, in ms (dashboards call a node stale after three intervals). */
  intervalMs: z.number().int().positive(),
  /** Open connections (as `/stats`): in total and per transport (`websocket`, `sse`, dialect names). */
  connections: z.object({
    /** Open connections. */
    total: count,
    /** Open connections per transport. */
    byTransport: countsByName,
    /** Long polls waiting right now (they hold no connection between polls). */
    waitingPolls: count,
  }),
  /** Distinct user ids among the open connections. */
  users: count,
  /** Channels: broker subscriptions of this node and its busiest channels. */
  channels: z.object({
    /** Channels with a broker subscription on this node. */
    subscribed: count,
    /** Channel subscriptions of connections. */
    subscriptions: count,
    /** The busiest channels by delivery rate (system channels left out), at most `dashboard.topChannels`. */
    top: z.array(channelFiguresSchema),
  }),
  /** Rates over the last interval, per second. */
  rates: z.object({
    /** Publications received from the broker. */
    publicationsIn: rate,
    /** Publications delivered to clients (one per recipient, every transport). */
    deliveriesOut: rate,
    /** Publications made through this node (client publish, HTTP publish, server side), its own figures left out. */
    publishes: rate,
    /** Subscribes that recovered missed publications from history. */
    recoveryReads: rate,
    /** HTTP poll requests. */
    pollRequests: rate,
  }),
  /** Counters since the node started. */
  totals: z.object({
    /** Publications received from the broker. */
    publicationsIn: count,
    /** Deliveries per transport. */
    deliveriesByTransport: countsByName,
    /** Connections cut for reading too slowly (close 4509). */
    slowConsumerCuts: count,
    /** Subscribe outcomes: `fresh`, `recovered`, `not_recovered`, `reset`. */
    subscribeOutcomes: countsByName,
    /** Connections refused or closed by a limit or check, by reason (`rate_limited`, `max_connections`…). */
    refusals: countsByName,
    /** Errors sent to clients, by code (`too_many_channels`, `forbidden`, `unavailable`…). */
    errors: countsByName,
  }),
  /** The backplane as this node sees it. */
  broker: z.object({
    /** `ready`, `connecting`, `down` or `closed`. */
    status: z.enum(['ready', 'connecting', 'down', 'closed']),
    /** Times the broker went from ready to not ready since the node started. */
    outages: count,
    /** Since when the broker is not ready, in ms since the Unix epoch; null while ready. */
    downSince: z.number().nullable(),
    /** Times the epoch of the system channel changed under this node (the broker lost its history). */
    epochResets: count,
    /** The current epoch of the system channel, null before the first publication. */
    epoch: z.string().nullable(),
  }),
  /** Event-loop delay over the last interval (`perf_hooks.monitorEventLoopDelay`), in ms. */
  eventLoop: z.object({
    /** Mean delay. */
    meanMs: rate,
    /** 99th percentile. */
    p99Ms: rate,
    /** Largest delay. */
    maxMs: rate,
  }),
  /** The process's memory (`process.memoryUsage()`), in bytes; nodes in one process share it. */
  memory: z.object({
    /** Resident set size. */
    rssBytes: count,
    /** V8 heap in use. */
    heapUsedBytes: count,
    /** V8 heap reserved. */
    heapTotalBytes: count,
  }),
});

/** A node's figures (see {@link nodeFiguresSchema}). */
export type NodeFigures = z.infer<typeof nodeFiguresSchema>;

/** A node's busiest channel (see {@link channelFiguresSchema}). */
export type ChannelFigures = z.infer<typeof channelFiguresSchema>;
