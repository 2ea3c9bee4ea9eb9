/**
 * The Celery event bridge: reads a Celery app's own event stream out of Redis (no change to the
 * app) and republishes it natively behind the bridge lease.
 * @module
 */
import { randomUUID } from 'node:crypto';
import { silentLogger } from '@taskpulse/protocol';
import { type CeleryWorker, celeryChannels } from '@taskpulse/protocol/payloads';
import { Redis } from 'ioredis';
import { type BridgeContext, type BridgeRunner, type BridgeRunnerOptions, createBridgeRunner } from '../bridge-runner';
import { isCluster, type RedisClient, reportRedisErrors } from '../connection';
import { type CeleryChannelNames, type CeleryTransportOptions, celeryChannelNames, escapeGlob } from './broker-options';
import { CeleryDecodeError, type CeleryRejectReason, decodeCeleryMessage } from './decode';
import { sourceId } from './task-record';
import { type CeleryOutput, CeleryTracker, type TrackerResult } from './tracker';

/** Options of {@link createCeleryBridge}. */
export interface CeleryBridgeOptions extends Omit<BridgeRunnerOptions, 'source'> {
  /** The Celery app's `broker_url` (`redis://host:6379/0`); its DB number is part of the channel names. */
  brokerUrl: string;
  /** The Celery app's `broker_transport_options` (`fanout_prefix`, `fanout_patterns`, `global_keyprefix`). @default {} */
  transportOptions?: CeleryTransportOptions;
  /** The Celery app's `event_exchange`. @default 'celeryev' */
  eventExchange?: string;
  /**
   * A client connected to the Celery broker's Redis server (duplicated for the subscription).
   * @default a connection opened from `brokerUrl`
   */
  celeryRedis?: RedisClient;
  /**
   * Prefix of the result backend's channels (`update_state` progress arrives there), or null to
   * ignore the result backend (for a backend on another server).
   * @default 'celery-task-meta-'
   */
  resultBackendChannelPrefix?: string | null;
  /** Custom task events republished as `progress` (`self.send_event('task-progress', …)`). @default ['task-progress'] */
  progressEvents?: string[];
  /**
   * How long a worker may stay silent before it counts as `lost` and its running tasks end with
   * a `lost` event, in ms.
   * @default max(3 × the worker's heartbeat interval, 6000) — 6000 for Celery's default 2 s
   */
  heartbeatTimeoutMs?: number;
  /** How often heartbeat timeouts are checked, in ms. @default 1000 */
  expireIntervalMs?: number;
  /** How long a finished task's name and arguments are remembered, in ms. @default 3_600_000 */
  taskTtlMs?: number;
  /** Most tasks tracked at once. @default 10000 */
  maxTasks?: number;
  /** Most workers tracked at once. @default 1000 */
  maxWorkers?: number;
  /** Largest Celery message accepted, in bytes. @default 1_048_576 */
  maxMessageBytes?: number;
  /**
   * How far back a takeover republishes task events, in ms. Every instance follows the events, so
   * the one that takes the lease over republishes the task events of this last stretch (the newest
   * 10,000 at most): those that came while no instance held the lease are not lost, and those the
   * previous holder published carry the same publication ids and are dropped as duplicates by the
   * publish script (its deduplication window is 5 minutes). 0 disables it; at most 240000.
   * @default 60000
   */
  takeoverReplayMs?: number;
}

/** Most task events a takeover republishes (see {@link CeleryBridgeOptions.takeoverReplayMs}). */
const CELERY_REPLAY_MAX = 10_000;

/** Counters and state of a Celery bridge. */
export interface CeleryBridgeStatus {
  /** Whether this instance holds the lease and republishes. */
  active: boolean;
  /** Whether the Celery subscription is established. */
  subscribed: boolean;
  /** Celery messages received (events, control, result backend). */
  received: number;
  /** Celery events decoded. */
  events: number;
  /** Rejected messages by reason. */
  rejected: Record<CeleryRejectReason, number>;
  /** Running tasks ended with `lost`. */
  lost: number;
  /**
   * Task events this instance republished at a takeover that no instance had published: they
   * came while no instance held the lease (see {@link CeleryBridgeOptions.takeoverReplayMs}).
   */
  replayed: number;
  /** Every worker seen. */
  workers: CeleryWorker[];
  /**
   * Online workers that send no task events (no `-E`): the bridge can show their heartbeats
   * only. Empty when every worker sends task events.
   */
  workersWithoutTaskEvents: string[];
}

/** A running Celery bridge. */
export interface CeleryBridge {
  /** The lease runner (lease, runner counters). */
  readonly runner: BridgeRunner;
  /** The Celery channel names in use. */
  readonly names: CeleryChannelNames;
  /** Resolves once the Celery subscription is established (start workers after it in tests). */
  ready(): Promise<void>;
  /** Whether this instance is the active one. */
  isActive(): boolean;
  /** Counters and the workers' state (a readiness field for health endpoints). */
  status(): CeleryBridgeStatus;
  /** Stops everything. Idempotent. */
  close(): Promise<void>;
}

/**
 * Creates a Celery bridge. Every instance follows the events (so a standby has the state at
 * takeover); only the lease holder republishes:
 *
 * - `celery:tasks` and `celery-task:{id}`: lifecycle events (`received`, `started`, `progress`,
 *   `retried`, `succeeded`, `failed`, `revoked`, `rejected`, `lost`, and `sent` when the client
 *   sends it), data `CeleryTaskEvent` (`@taskpulse/protocol`);
 * - `celery-state:queue`: active / scheduled / reserved per worker, on every change;
 * - `celery-state:workers`: online, heartbeat, offline, lost, and whether task events are on.
 *
 * Publication ids are derived from the Celery message, so two instances publish the same ids.
 *
 * @example
 * ```ts
 * const bridge = createCeleryBridge({
 *   redis: 'redis://127.0.0.1:6379',
 *   namespaces: SEED_NAMESPACES,
 *   brokerUrl: 'redis://127.0.0.1:6379/0',          // the Celery app's broker_url
 *   transportOptions: { global_keyprefix: 'myapp:' }, // its broker_transport_options
 * });
 * await bridge.ready();
 * ```
 */
export function createCeleryBridge(options: CeleryBridgeOptions): CeleryBridge {
  const {
    brokerUrl,
    transportOptions,
    eventExchange,
    celeryRedis,
    resultBackendChannelPrefix,
    progressEvents,
    heartbeatTimeoutMs,
    expireIntervalMs,
    taskTtlMs,
    maxTasks,
    maxWorkers,
    maxMessageBytes: maxBytes,
    takeoverReplayMs,
    ...runnerOptions
  } = options;
  const replayMs = takeoverReplayMs ?? 60_000;
  if (!Number.isSafeInteger(replayMs) || replayMs < 0 || replayMs > 240_000) {
    throw new TypeError('takeoverReplayMs must be an integer number of milliseconds from 0 to 240000');
  }
  const names = celeryChannelNames(brokerUrl, transportOptions, eventExchange);
  const backendPrefix = resultBackendChannelPrefix === undefined ? 'celery-task-meta-' : resultBackendChannelPrefix;
  const maxMessageBytes = maxBytes ?? 1024 * 1024;
  const tracker = new CeleryTracker({
    progressEvents: progressEvents ?? ['task-progress'],
    heartbeatTimeoutMs: (freq) => heartbeatTimeoutMs ?? Math.max(3 * (freq ?? 2) * 1000, 6000),
    taskTtlMs: taskTtlMs ?? 3_600_000,
    maxTasks: maxTasks ?? 10_000,
    maxWorkers: maxWorkers ?? 1000,
  });
  const counters = { received: 0, events: 0, lost: 0, replayed: 0 };
  // Task events of the last `replayMs`, oldest first from `recentStart`, for a takeover to replay.
  let recent: Array<{ at: number; output: CeleryOutput }> = [];
  let recentStart = 0;
  const remember = (outputs: CeleryOutput[], now: number) => {
    if (replayMs === 0) return;
    for (const output of outputs) {
      if (output.channel !== celeryChannels.queue && output.channel !== celeryChannels.workers) {
        recent.push({ at: now, output });
      }
    }
    while (
      recentStart < recent.length &&
      ((recent[recentStart] as { at: number }).at < now - replayMs || recent.length - recentStart > CELERY_REPLAY_MAX)
    ) {
      recentStart++;
    }
    if (recentStart > 1024 && recentStart * 2 > recent.length) {
      recent = recent.slice(recentStart);
      recentStart = 0;
    }
  };
  const rejected: Record<CeleryRejectReason, number> = { oversize: 0, undecodable: 0, unknown_event: 0 };
  let context: BridgeContext | null = null;
  let chain: Promise<unknown> = Promise.resolve();
  let subscribed = false;
  let closed = false;
  const logger = options.logger;

  /** Publishes one output; a failure is reported and resolves null. */
  const publishOne = (ctx: BridgeContext, o: CeleryOutput, phase: string) =>
    ctx.publish(o.channel, o.event, o.data, { id: o.id }).catch((error) => {
      ctx.error(error, { phase, channel: o.channel });
      return null;
    });
  const publish = (outputs: CeleryOutput[]) => {
    const ctx = context;
    if (!ctx || outputs.length === 0) return;
    chain = chain.then(async () => {
      for (const o of outputs) await publishOne(ctx, o, 'republish');
    });
  };
  const apply = (result: TrackerResult) => {
    counters.lost += result.outputs.filter((o) => o.event === 'lost' && o.channel === celeryChannels.tasks).length;
    remember(result.outputs, Date.now());
    for (const warning of result.warnings) if (context) logger?.warn(`celery bridge: ${warning}`);
    for (const type of result.unknown) reject('unknown_event', `unknown Celery event type ${JSON.stringify(type)}`);
    publish(result.outputs);
  };
  const reject = (reason: CeleryRejectReason, message: string, details?: Record<string, unknown>) => {
    rejected[reason]++;
    context?.invalid(message, { celery: reason, ...details });
  };

  const handle = (channel: string, payload: string) => {
    try {
      counters.received++;
      context?.received();
      const message = decodeCeleryMessage(channel, payload, { names, backendPrefix, maxMessageBytes });
      const now = Date.now();
      if (message.kind === 'events') {
        counters.events += message.events.length;
        apply(tracker.events(message.events, now));
      } else if (message.kind === 'backend') apply(tracker.backend(message.message, now));
      else if (message.kind === 'control')
        apply(tracker.control(message.method, message.destination, now, message.arguments));
    } catch (error) {
      if (error instanceof CeleryDecodeError) {
        reject(error.reason, error.message, { channel: channel.slice(0, 200), sample: payload.slice(0, 200) });
      } else context?.error(error, { phase: 'handle', channel: channel.slice(0, 200) });
    }
  };

  // The subscription runs on every instance (warm standby); only the lease holder publishes.
  const base: RedisClient = celeryRedis ?? new Redis(brokerUrl, { lazyConnect: true });
  const sub: RedisClient = isCluster(base) ? base.duplicate() : base.duplicate({ lazyConnect: false });
  // Counted, and logged at most once per distinct message every 30 s (ioredis repeats it on every retry).
  reportRedisErrors(sub, { logger: logger ?? silentLogger, errors: { count: 0 } }, 'celery-events');
  sub.on('pmessage', (_pattern: string, channel: string, message: string) => handle(channel, message));
  sub.on('message', (channel: string, message: string) => handle(channel, message));
  const channelsToSubscribe = [names.pidbox, ...(names.patterns ? [] : [names.events])];
  const patterns = [
    ...(names.patterns ? [`${escapeGlob(names.events)}/*`] : []),
    ...(backendPrefix !== null ? [`${escapeGlob(backendPrefix)}*`] : []),
  ];
  const readyPromise = (async () => {
    await sub.subscribe(...channelsToSubscribe);
    if (patterns.length > 0) await sub.psubscribe(...patterns);
    subscribed = true;
    // ioredis subscribes again by itself after a reconnect; events in between are lost.
    sub.on('close', () => {
      subscribed = false;
    });
    sub.on('ready', () => {
      subscribed = true;
    });
  })();
  readyPromise.catch((error) => logger?.error(`celery bridge: subscribing failed: ${String(error)}`));

  const expireTimer = setInterval(() => apply(tracker.expire(Date.now())), expireIntervalMs ?? 1000);
  expireTimer.unref?.();

  const runner = createBridgeRunner({
    ...runnerOptions,
    source: {
      name: `celery:${names.events}`,
      async start(ctx) {
        await readyPromise;
        context = ctx;
        // The task events of the last `replayMs`, which this instance followed while standing by:
        // those the previous holder published are duplicates (same ids), the others were lost.
        const since = Date.now() - replayMs;
        const replay = recent.slice(recentStart).filter((r) => r.at >= since);
        if (replay.length > 0) {
          chain = chain.then(async () => {
            let fresh = 0;
            for (const { output } of replay) {
              const result = await publishOne(ctx, output, 'replay');
              if (result && !result.duplicate) fresh++;
            }
            counters.replayed += fresh;
            logger?.info(
              `celery bridge: takeover replayed ${replay.length} task events of the last ${replayMs} ms, ${fresh} of them not published before`,
            );
          });
        }
        // Then the fresh state: what this instance followed while standing by.
        const id = sourceId('takeover', randomUUID());
        publish([tracker.workersOutput(`w.${id}`), tracker.queueOutput(id)]);
      },
      async stop() {
        context = null;
      },
    },
  });

  return {
    runner,
    names,
    ready: () => readyPromise,
    isActive: () => runner.isActive(),
    status() {
      const workers = tracker.workers.list();
      return {
        active: runner.isActive(),
        subscribed,
        ...counters,
        rejected: { ...rejected },
        workers,
        workersWithoutTaskEvents: workers
          .filter((w) => w.status === 'online' && w.task_events === 'disabled')
          .map((w) => w.hostname),
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(expireTimer);
      await runner.close();
      await chain.catch(() => {});
      sub.removeAllListeners('pmessage');
      sub.removeAllListeners('message');
      sub.disconnect();
      if (!celeryRedis) base.disconnect();
    },
  };
}
