/**
 * What each benchmarked system provides: a server (run in its own child process) and a publisher
 * (run in the publisher process). Clients are the same plain `ws` load generator for all of them;
 * only the dialect spoken over the socket differs (see `loadgen/dialects.ts`).
 */
import type { BenchPayload } from '../payload';

/**
 * The systems compared. `taskpulse-unverified` is the same hub with `verifyLiveMessages: false`
 * on its Redis broker: beside `taskpulse` it shows what live verification costs (the goals judge
 * `taskpulse`). `ws-scripted` is the bare `ws` server fed by taskpulse's publisher (the same Redis
 * messages the hub gets): beside `ws` and `taskpulse` it splits the latency ratio into the publish
 * path's part and the hub's. `ws-twin` is a second, identical bare `ws` server: `ws-twin` ÷ `ws`
 * in the same run is what a ratio of two equal servers measures on this machine (the resolution of
 * every other ratio).
 */
export type VariantName = 'ws' | 'ws-twin' | 'ws-scripted' | 'socketio' | 'taskpulse' | 'taskpulse-unverified';

/** Every variant, in the default order. */
export const VARIANTS: readonly VariantName[] = [
  'ws',
  'ws-twin',
  'ws-scripted',
  'socketio',
  'taskpulse',
  'taskpulse-unverified',
];

/** Whether a variant is a taskpulse hub (native protocol, resumable, needs the packages). */
export function isTaskpulse(v: VariantName): boolean {
  return v === 'taskpulse' || v === 'taskpulse-unverified';
}

/** Whether a variant needs the taskpulse packages (a hub, or bare ws fed by taskpulse's publisher). */
export function needsTaskpulse(v: VariantName): boolean {
  return isTaskpulse(v) || v === 'ws-scripted';
}

/** Options every server gets. */
export interface ServerStartOptions {
  /** The run's private Redis, `redis://127.0.0.1:PORT`. */
  redisUrl: string;
  /** Upper bound of connections the run will open (limits must not get in the way). */
  maxConnections: number;
  /** Heartbeat/ping interval, the same for every server that has one. */
  heartbeatIntervalMs: number;
  /** History kept per `recovery:` channel where the server keeps one (≥ the recovery gap). */
  historySize: number;
}

/** A server started by a variant. */
export interface RunningServer {
  /** The loopback port it listens on. */
  port: number;
  /** The WebSocket path (`/`, `/socket.io/`, `/ws`). */
  path: string;
  /** Open client connections as the server counts them, or -1 when it cannot tell. */
  connections(): number;
  close(): Promise<void>;
}

/** A publisher that sends one payload through Redis to every client of `channel`. */
export interface BenchPublisher {
  /** Publishes; the returned promise (if any) settles when Redis accepted it. */
  publish(channel: string, payload: BenchPayload): Promise<unknown> | undefined;
  close(): Promise<void>;
}

/** Options of a variant's publisher. */
export interface PublisherOptions {
  redisUrl: string;
  historySize: number;
}

/** One benchmarked system. */
export interface Variant {
  name: VariantName;
  startServer(options: ServerStartOptions): Promise<RunningServer>;
  createPublisher(options: PublisherOptions): Promise<BenchPublisher>;
}
