/**
 * Fan-out: one server variant, N clients on one channel or spread over many, then each offered
 * load in turn (fixed rates, then closed-loop max) on the same connections.
 */
import { join } from 'node:path';
import type { PublishRunArgs, PublishRunResult } from '../children/publisher-child';
import type { ProcessSample } from '../children/server-child';
import type { HotFunction } from '../children/window-profiler';
import type { Layout, Load } from '../options';
import { PerfRecording } from '../perf-record';
import { processRssBytes } from '../proc-stats';
import type { VariantName } from '../servers/types';
import {
  assertConnected,
  connectClients,
  endCycle,
  failedConnects,
  historySize,
  type RunContext,
  type ServerProcess,
  sleep,
  startServerProcess,
  takeMarks,
} from './context';
import { type LoadResult, summarize } from './load-figures';

export type { LoadResult };

/** Figures of one variant × N × layout cycle. */
export interface CycleResult {
  variant: VariantName;
  n: number;
  layout: Layout;
  rep: number;
  channels: number;
  fanout: number;
  connectMs: number;
  connectFailed: number;
  idleRss0Bytes: number;
  idleRssBytes: number;
  idleHeap0Bytes: number;
  idleHeapBytes: number;
  bytesPerConnection: number;
  heapBytesPerConnection: number;
  loads: LoadResult[];
  /** Wall time of each phase of the cycle, ms (where the run's minutes go). */
  phaseMs: Record<string, number>;
  error: string | null;
}

/** The channel names of a layout. */
export function channelsFor(layout: Layout, n: number, clientsPerChannel: number, prefix: string): string[] {
  if (layout === 'one') return [`bench:${prefix}-all`];
  const count = Math.max(1, Math.round(n / clientsPerChannel));
  return Array.from({ length: count }, (_, i) => `bench:${prefix}-c${i}`);
}

/** How a cycle differs from the default (a fresh server child of the variant, the run's loads). */
export interface CycleOverrides {
  /** Starts the server instead of a benchmark child of the variant (e.g. `taskpulse-hub --workers 2`). */
  start?: () => Promise<ServerProcess>;
  /** The offered loads (default: the run's `--loads`). */
  loads?: Load[];
  /** Prefix of the channel names and profile files (default: the layout). */
  label?: string;
}

/** Runs one cycle. Never throws: failures are recorded in `error` so the run goes on. */
export async function runFanoutCycle(
  ctx: RunContext,
  variant: VariantName,
  n: number,
  layout: Layout,
  rep: number,
  overrides: CycleOverrides = {},
): Promise<CycleResult> {
  const o = ctx.options;
  const prefix = overrides.label ?? layout;
  const channels = channelsFor(layout, n, o.clientsPerChannel, `${prefix}${n}`);
  const fanout = n / channels.length;
  const result: CycleResult = {
    variant,
    n,
    layout,
    rep,
    channels: channels.length,
    fanout,
    connectMs: Number.NaN,
    connectFailed: 0,
    idleRss0Bytes: Number.NaN,
    idleRssBytes: Number.NaN,
    idleHeap0Bytes: Number.NaN,
    idleHeapBytes: Number.NaN,
    bytesPerConnection: Number.NaN,
    heapBytesPerConnection: Number.NaN,
    loads: [],
    phaseMs: {},
    error: null,
  };
  let phaseStart = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    result.phaseMs[name] = now - phaseStart;
    phaseStart = now;
  };
  let server: ServerProcess | null = null;
  const loadgens = ctx.loadgens.slice(0, Math.min(ctx.loadgens.length, n));
  try {
    server = overrides.start ? await overrides.start() : await startServerProcess(ctx, variant);
    await ctx.publisher.call('setup', { variant, redisUrl: ctx.redisUrl, historySize: historySize(ctx) }, 30_000);
    const idle0 = await gcSample(server);
    phase('start');
    result.idleRss0Bytes = idle0.rssBytes;
    result.idleHeap0Bytes = idle0.heapUsedBytes;

    const t0 = performance.now();
    const connects = await connectClients(
      ctx,
      loadgens,
      server,
      variant,
      Array.from({ length: n }, (_, i) => [channels[i % channels.length] as string]),
    );
    result.connectMs = performance.now() - t0;
    phase('connect');
    result.connectFailed = failedConnects(connects);
    assertConnected(connects, n);
    // let handshake garbage and subscriptions settle, then measure idle memory
    await sleep(Math.min(2000, 300 + n / 10));
    const idle = await gcSample(server);
    result.idleRssBytes = idle.rssBytes;
    result.idleHeapBytes = idle.heapUsedBytes;
    result.bytesPerConnection = (idle.rssBytes - idle0.rssBytes) / n;
    result.heapBytesPerConnection = (idle.heapUsedBytes - idle0.heapUsedBytes) / n;
    phase('idle');

    const label = `${variant}-${n}-${prefix}-rep${rep}`;
    if (o.jitWarmupMs > 0) {
      // unmeasured: the server's per-publication code reaches V8's optimizing tier
      const warm = await runLoad(ctx, server, loadgens, channels, fanout, 'max', label, {
        warmupMs: o.jitWarmupMs,
        measureMs: 100,
        record: false,
      });
      if (warm.undelivered > 0 || warm.excess > 0) {
        ctx.log(
          `    ! ${variant} N=${n} ${layout}: JIT warm-up: ${warm.undelivered} undelivered, ${warm.excess} twice`,
        );
      }
      phase('jit-warmup');
    }
    for (const load of overrides.loads ?? o.loads) {
      result.loads.push(await runLoad(ctx, server, loadgens, channels, fanout, load, label));
      phase(`load-${load}`);
    }
  } catch (err) {
    result.error = (err as Error).message.split('\n')[0] ?? String(err);
    ctx.log(`    ! ${variant} N=${n} ${layout}: ${result.error}`);
  } finally {
    await endCycle(ctx, server, loadgens);
    phase('stop');
  }
  return result;
}

/** Idle memory after a full GC (a benchmark child), or RSS from /proc (an external command). */
async function gcSample(server: ServerProcess): Promise<{ rssBytes: number; heapUsedBytes: number }> {
  if (server.child) return server.child.call<ProcessSample>('gcSample');
  const rssBytes = server.pids().reduce((a, pid) => a + processRssBytes(pid), 0);
  return { rssBytes, heapUsedBytes: Number.NaN };
}

async function runLoad(
  ctx: RunContext,
  server: ServerProcess,
  loadgens: RunContext['loadgens'],
  channels: string[],
  fanout: number,
  load: Load,
  label: string,
  timing: { warmupMs: number; measureMs: number; record: boolean } = {
    warmupMs: ctx.options.warmupMs,
    measureMs: ctx.options.measureMs,
    record: true,
  },
): Promise<LoadResult> {
  const o = ctx.options;
  const closed = load === 'max';
  const pubsPerSec = closed ? 0 : load / fanout;
  const before = await takeMarks(ctx, server, loadgens);

  // closed loop: relay the load generators' received counts to the publisher
  const base = before.loadgens.map((m) => m.received);
  const latest = [...base];
  const unsubscribers = loadgens.map((lg, k) =>
    lg.on('progress', (received) => {
      latest[k] = received as number;
      let sum = 0;
      for (let i = 0; i < latest.length; i++) sum += (latest[i] as number) - (base[i] as number);
      ctx.publisher.notify('progress', { received: sum });
    }),
  );
  if (closed) await Promise.all(loadgens.map((lg) => lg.call('progress', { on: true, intervalMs: 10 })));

  const runArgs: PublishRunArgs = {
    mode: closed ? 'closed' : 'rate',
    channels,
    fanout,
    pubsPerSec,
    durationMs: timing.warmupMs + timing.measureMs + 100,
    windowDeliveries: o.windowDeliveries,
    maxInFlight: 2000,
  };
  const run = ctx.publisher.call<PublishRunResult>('run', runArgs, runArgs.durationMs + 30_000);
  await sleep(timing.warmupMs);
  const m0 = await takeMarks(ctx, server, loadgens);
  const profiling = o.profile && timing.record && server.child ? server.child.call('profileStart', {}, 60_000) : null;
  const perf =
    o.perf && timing.record
      ? new PerfRecording(server.pids(), join(ctx.profileDir, `${label}-${load}-${server.pids()[0]}.perf.data`))
      : null;
  await sleep(Math.max(0, m0.atMs + timing.measureMs - performance.now()));
  const m1 = await takeMarks(ctx, server, loadgens);
  const perfProfile = perf ? await perf.stop() : undefined;
  let hot: HotFunction[] | undefined;
  if (profiling && server.child) {
    await profiling;
    const file = join(ctx.profileDir, `${label}-${load}.cpuprofile`);
    hot = await server.child.call<HotFunction[]>('profileStop', { file }, 60_000);
  }
  const published = await run;

  // drain: wait until everything published arrived, or nothing moved for a second
  const expected = published.published * fanout;
  const startReceived = before.loadgens.reduce((a, m) => a + m.received, 0);
  let last = -1;
  let stillSince = performance.now();
  let total = 0;
  for (const deadline = performance.now() + 15_000; performance.now() < deadline; ) {
    const counts = await Promise.all(loadgens.map((lg) => lg.call<number>('received')));
    total = counts.reduce((a, b) => a + b, 0) - startReceived;
    if (total >= expected) break;
    if (total !== last) {
      last = total;
      stillSince = performance.now();
    } else if (performance.now() - stillSince > 1000) break;
    await sleep(20);
  }
  if (closed) await Promise.all(loadgens.map((lg) => lg.call('progress', { on: false })));
  for (const u of unsubscribers) u();
  const after = await takeMarks(ctx, server, loadgens);
  const [s0, s1] = await Promise.all([m0.serverSample, m1.serverSample]);
  const result = summarize(load, pubsPerSec, published, m0, m1, s0, s1, expected - total, before, after);
  result.excess = Math.max(0, after.loadgens.reduce((a, m) => a + m.received, 0) - startReceived - expected);
  if (hot) result.hotFunctions = hot;
  if (perfProfile) result.perf = perfProfile;
  return result;
}
