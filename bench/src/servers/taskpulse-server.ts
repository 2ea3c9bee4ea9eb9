/**
 * taskpulse: `createHub` from `@taskpulse/ws-hub` on a `createRedisBroker` from
 * `@taskpulse/redis-bridge`; the publisher is the redis-bridge Publisher (offset, history and
 * pub/sub in one Lua script). Clients speak the native protocol on `/ws`.
 *
 * `taskpulse-unverified` is the same hub with `verifyLiveMessages: false` on the broker.
 *
 * The packages are imported lazily: the rest of the benchmark runs without them, and a missing
 * package or export fails with a message naming it (printed as "taskpulse: not available: …").
 * Types come from the packages themselves, so an API change breaks `npm run typecheck`.
 */
import type * as RedisBridge from '@taskpulse/redis-bridge';
import type * as WsHub from '@taskpulse/ws-hub';
import type { BenchPublisher, PublisherOptions, RunningServer, ServerStartOptions, Variant } from './types';

/** Thrown when the taskpulse packages are not there (yet); the runner prints it as "not available". */
export class TaskpulseUnavailableError extends Error {
  override name = 'TaskpulseUnavailableError';
}

async function load<T>(specifier: string, exportName: string, importer: () => Promise<unknown>): Promise<T> {
  let mod: Record<string, unknown>;
  try {
    mod = (await importer()) as Record<string, unknown>;
  } catch (err) {
    const first = (err as Error).message.split('\n')[0];
    throw new TaskpulseUnavailableError(`${specifier} could not be loaded (${first})`);
  }
  if (typeof mod[exportName] !== 'function') {
    throw new TaskpulseUnavailableError(`${specifier} does not export ${exportName}() yet`);
  }
  return mod as T;
}

/** Loads `@taskpulse/redis-bridge` alone or throws {@link TaskpulseUnavailableError}. */
export function loadBridge(): Promise<typeof RedisBridge> {
  return load<typeof RedisBridge>(
    '@taskpulse/redis-bridge',
    'createRedisBroker',
    () => import('@taskpulse/redis-bridge'),
  );
}

/** Loads both packages or throws {@link TaskpulseUnavailableError}; the runner probes with it. */
export async function loadTaskpulse(): Promise<{ hub: typeof WsHub; bridge: typeof RedisBridge }> {
  const hub = await load<typeof WsHub>('@taskpulse/ws-hub', 'createHub', () => import('@taskpulse/ws-hub'));
  return { hub, bridge: await loadBridge() };
}

/**
 * Fan-out channels are `bench:…` with the default history of 100 (seed 001's size); the recovery
 * scenario's channel is `recovery:…`, with room for the whole gap.
 */
function namespaces(recoveryHistorySize: number) {
  return {
    bench: { kind: 'events' as const, historySize: 100 },
    recovery: { kind: 'events' as const, historySize: recoveryHistorySize },
  };
}

async function startServer(options: ServerStartOptions, verifyLiveMessages = true): Promise<RunningServer> {
  const { hub: ws, bridge } = await loadTaskpulse();
  const broker = bridge.createRedisBroker({
    redis: options.redisUrl,
    namespaces: namespaces(options.historySize),
    verifyLiveMessages,
  });
  await broker.ready();
  const hub = ws.createHub({
    broker,
    host: '127.0.0.1',
    port: 0,
    path: '/ws',
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    limits: {
      maxConnections: options.maxConnections,
      // every benchmark client is anonymous, i.e. the same "user"
      maxConnectionsPerUser: options.maxConnections,
      // closed-loop runs queue more than the 1 MiB default for a moment; the peers have no such
      // limit, so a cut here would measure the limit, not the hub (cuts are still counted)
      maxBufferedBytes: 16 * 1024 * 1024,
    },
    // every benchmark client reads from 127.0.0.1: the per-address read limit (50/s) would
    // measure the limit, not the hub's polling cost
    http: { readRateLimit: false },
  });
  await hub.listening;
  const address = hub.address();
  if (!address) throw new Error('taskpulse hub has no address after listening');
  return {
    port: address.port,
    path: '/ws',
    connections: () => hub.stats().total_clients,
    async close() {
      await hub.close();
      await broker.close();
    },
  };
}

async function createPublisher(options: PublisherOptions): Promise<BenchPublisher> {
  const { bridge } = await loadTaskpulse();
  const publisher = bridge.createPublisher({ redis: options.redisUrl, namespaces: namespaces(options.historySize) });
  return {
    publish: (channel, payload) => publisher.publish(channel, 'progress', payload),
    close: () => publisher.close(),
  };
}

/** The taskpulse variant. */
export const taskpulseVariant: Variant = { name: 'taskpulse', startServer: (o) => startServer(o), createPublisher };

/**
 * The same hub with `verifyLiveMessages: false` on the Redis broker (live publications are
 * delivered without reading them back from history): the cost of verification, in the same run.
 */
export const taskpulseUnverifiedVariant: Variant = {
  name: 'taskpulse-unverified',
  startServer: (o) => startServer(o, false),
  createPublisher,
};
