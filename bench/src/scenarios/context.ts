/**
 * What every scenario shares: the run's Redis, the long-lived publisher and load-generator
 * processes, and helpers to start a server process and to take synchronized samples.
 */

import type { ConnectResult, LoadgenMark } from '../children/loadgen-child';
import type { ProcessSample } from '../children/server-child';
import type { ChildHandle } from '../ipc';
import type { BenchOptions } from '../options';
import { nowUs } from '../payload';
import { PERF_NODE_FLAGS } from '../perf-record';
import { type BoxCpu, boxCpu, processCpuUs, processRssBytes } from '../proc-stats';
import type { ServerStartOptions, VariantName } from '../servers/types';
import { type FdPlan, spawnChild } from '../spawn';

/** The shared state of one `npm run bench`. */
export interface RunContext {
  options: BenchOptions;
  redisUrl: string;
  redisPid: number;
  publisher: ChildHandle;
  loadgens: ChildHandle[];
  fd: FdPlan;
  profileDir: string;
  log(line: string): void;
}

/**
 * History kept per `recovery:` channel, by servers and publishers alike (the Lua script trims at
 * publish time, so both must agree): room for the recovery gap plus the live publications.
 */
export function historySize(ctx: RunContext): number {
  return Math.max(2000, ctx.options.recovery.publications * 3);
}

/**
 * A running server: a benchmark child (`child`, which reports its own ELU, GC and heap), or an
 * external command such as `taskpulse-hub --workers N` (`child` null: CPU and RSS from /proc only).
 */
export interface ServerProcess {
  child: ChildHandle | null;
  port: number;
  path: string;
  /** The processes whose CPU and RSS count as the server's (a cluster: the primary and its workers). */
  pids(): number[];
  /** Stops it for good (SIGKILL, every process). */
  kill(): Promise<void>;
}

/** A server run as a benchmark child. */
export type ChildServer = ServerProcess & { child: ChildHandle };

/** A {@link ServerProcess} for a benchmark child. */
export function childServer(child: ChildHandle, port: number, path: string): ChildServer {
  return { child, port, path, pids: () => [child.pid], kill: () => child.kill() };
}

/** Server-side counters that an external command cannot report: NaN, at the instant of `atUs`. */
function externalSample(atUs: number): ProcessSample {
  return {
    cpuUs: Number.NaN,
    userUs: Number.NaN,
    eluActiveMs: Number.NaN,
    eluIdleMs: Number.NaN,
    gcMs: Number.NaN,
    gcCount: Number.NaN,
    rssBytes: Number.NaN,
    heapUsedBytes: Number.NaN,
    connections: -1,
    atUs,
    maxLoopDelayMs: Number.NaN,
  };
}

/** Starts a server of `variant` in a fresh child process. */
export async function startServerProcess(
  ctx: RunContext,
  variant: VariantName,
  overrides: Partial<ServerStartOptions> = {},
): Promise<ChildServer> {
  const child = spawnChild({
    name: `${variant}-server`,
    entry: 'children/server-child.ts',
    fd: ctx.fd,
    nodeFlags: ctx.options.perf ? [...PERF_NODE_FLAGS] : [],
  });
  try {
    const started = await child.call<{ port: number; path: string }>(
      'start',
      {
        variant,
        options: {
          redisUrl: ctx.redisUrl,
          maxConnections: Math.max(...ctx.options.sizes, ctx.options.recovery.clients, ctx.options.http.clients) + 100,
          heartbeatIntervalMs: ctx.options.heartbeatIntervalMs,
          historySize: historySize(ctx),
          ...overrides,
        } satisfies ServerStartOptions,
      },
      30_000,
    );
    return childServer(child, started.port, started.path);
  } catch (err) {
    await child.kill();
    throw err;
  }
}

/**
 * Ends a cycle: the load generators stop counting closes as unexpected, the server goes (SIGKILL,
 * the fast way: the kernel closes its sockets, so the TIME_WAIT states stay on the server's side),
 * then the clients are released.
 */
export async function endCycle(ctx: RunContext, server: ServerProcess | null, loadgens = ctx.loadgens): Promise<void> {
  await Promise.all(loadgens.map((lg) => lg.call('expectClose', {}, 10_000).catch(() => {})));
  if (server) await server.kill();
  await Promise.all(loadgens.map((lg) => lg.call('closeAll', { waitMs: 5000 }, 30_000).catch(() => {})));
}

/**
 * One reading of everything that burns CPU during a measurement, taken at one instant.
 * CPU and RSS are read from /proc (exact at that instant even when a process's event loop is
 * blocked); the server's in-process figures (ELU, GC, heap) arrive whenever its loop gets to the
 * request, so they come as a promise with the server's own timestamp.
 */
export interface Marks {
  atMs: number;
  /** the same instant on the machine-wide monotonic clock, µs (comparable with the children's) */
  atUs: number;
  serverCpuUs: number;
  serverRssBytes: number;
  serverSample: Promise<ProcessSample>;
  loadgens: LoadgenMark[];
  loadgenCpuUs: number;
  publisherCpuUs: number;
  redisCpuUs: number;
  /** this orchestrator's own CPU, µs */
  orchestratorCpuUs: number;
  box: BoxCpu;
}

/** Samples the server, every load generator, the publisher, Redis and the machine at once. */
export async function takeMarks(ctx: RunContext, server: ServerProcess, loadgens = ctx.loadgens): Promise<Marks> {
  const atMs = performance.now();
  const atUs = nowUs();
  const box = boxCpu();
  const pids = server.pids();
  const serverCpuUs = pids.reduce((a, pid) => a + processCpuUs(pid), 0);
  const loadgenCpuUs = loadgens.reduce((a, lg) => a + processCpuUs(lg.pid), 0);
  const publisherCpuUs = processCpuUs(ctx.publisher.pid);
  const redisCpuUs = processCpuUs(ctx.redisPid);
  const own = process.cpuUsage();
  const serverRssBytes = pids.reduce((a, pid) => a + processRssBytes(pid), 0);
  const serverSample = server.child
    ? server.child.call<ProcessSample>('sample', { resetLoopDelay: true }, 120_000)
    : Promise.resolve(externalSample(atUs));
  serverSample.catch(() => {}); // awaited (and reported) by the caller
  const lgMarks = await Promise.all(loadgens.map((lg) => lg.call<LoadgenMark>('mark', {}, 10_000)));
  return {
    atMs,
    atUs,
    serverCpuUs,
    serverRssBytes,
    serverSample,
    loadgens: lgMarks,
    loadgenCpuUs,
    publisherCpuUs,
    redisCpuUs,
    orchestratorCpuUs: own.user + own.system,
    box,
  };
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Splits `items` round-robin over `parts` buckets. */
export function spread<T>(items: T[], parts: number): T[][] {
  const out: T[][] = Array.from({ length: parts }, () => []);
  items.forEach((item, i) => {
    out[i % parts]?.push(item);
  });
  return out;
}

/**
 * Connects clients to a server: `channelsPerClient[i]` are client i's channels, spread
 * round-robin over the load generators. Resolves with each load generator's result, failures
 * counted in them ({@link failedConnects}, {@link assertConnected}).
 */
export async function connectClients(
  ctx: RunContext,
  loadgens: ChildHandle[],
  server: ServerProcess,
  variant: VariantName,
  channelsPerClient: string[][],
  tracking = false,
): Promise<ConnectResult[]> {
  const assignments = spread(channelsPerClient, loadgens.length);
  return Promise.all(
    loadgens.map((lg, k) =>
      lg.call<ConnectResult>(
        'connect',
        {
          variant,
          port: server.port,
          path: server.path,
          clients: assignments[k],
          concurrency: ctx.options.connectConcurrency,
          tracking,
          timeoutMs: 30_000,
        },
        120_000,
      ),
    ),
  );
}

/** The clients that failed to connect. */
export function failedConnects(connects: ConnectResult[]): number {
  return connects.reduce((a, c) => a + c.failed, 0);
}

/** Throws, naming how many of `n` clients failed and the first reason, when any did. */
export function assertConnected(connects: ConnectResult[], n: number): void {
  const failed = failedConnects(connects);
  if (failed > 0) {
    throw new Error(`${failed} of ${n} clients failed to connect: ${connects.find((c) => c.firstError)?.firstError}`);
  }
}
