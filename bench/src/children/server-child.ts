/**
 * A benchmarked server in its own process. It reports its own resource use on request:
 * CPU (`process.cpuUsage`, µs), event-loop utilisation, GC time (PerformanceObserver 'gc'),
 * RSS and heap — cumulative counters; the orchestrator takes differences between marks.
 */
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';
import { serveIpc } from '../ipc';
import { loadVariant } from '../servers/index';
import type { PollPeerOptions } from '../servers/poll-peer';
import type { RunningServer, ServerStartOptions, VariantName } from '../servers/types';
import { startWindowProfile, stopWindowProfile } from './window-profiler';

/** Cumulative counters of one process at one instant. */
export interface ProcessSample {
  /** user + system CPU since the process started, µs */
  cpuUs: number;
  /** user CPU alone since the process started, µs (the rest of `cpuUs` is the kernel's) */
  userUs: number;
  /** event-loop active and idle time since start, ms */
  eluActiveMs: number;
  eluIdleMs: number;
  /** GC pause time since start, ms, and number of GCs */
  gcMs: number;
  gcCount: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** connections the server counts (-1 when unknown) */
  connections: number;
  /** hrtime of the sample, µs */
  atUs: number;
  /** longest event-loop block since the last sample that reset it, ms */
  maxLoopDelayMs: number;
}

let gcMs = 0;
let gcCount = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcMs += entry.duration;
    gcCount++;
  }
}).observe({ entryTypes: ['gc'] });

let server: RunningServer | null = null;
// 50 ms, not 10: the sampling timer's wake-ups (100 a second at 10 ms, ~6 ms of CPU per second)
// would be counted in every server's CPU; a block still shows as the delay of the next sample.
const LOOP_SAMPLE_MS = 50;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_SAMPLE_MS });
loopDelay.enable();

function sample(args: { resetLoopDelay?: boolean } = {}): ProcessSample {
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const mem = process.memoryUsage();
  const [s, ns] = process.hrtime();
  const result: ProcessSample = {
    cpuUs: cpu.user + cpu.system,
    userUs: cpu.user,
    eluActiveMs: elu.active,
    eluIdleMs: elu.idle,
    gcMs,
    gcCount,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    connections: server?.connections() ?? 0,
    atUs: s * 1e6 + ns / 1e3,
    // The histogram records the time between samples: the block is what exceeds the interval.
    maxLoopDelayMs: Math.max(0, loopDelay.max / 1e6 - LOOP_SAMPLE_MS),
  };
  if (args.resetLoopDelay) loopDelay.reset();
  return result;
}

serveIpc({
  async start(args: { variant: VariantName; options: ServerStartOptions }) {
    const variant = await loadVariant(args.variant);
    server = await variant.startServer(args.options);
    return { port: server.port, path: server.path, pid: process.pid };
  },
  /** Starts the bare `node:http` polling peer (see servers/poll-peer.ts) instead of a variant. */
  async startPollPeer(args: PollPeerOptions) {
    const { startPollPeer } = await import('../servers/poll-peer');
    const peer = await startPollPeer(args);
    server = { port: peer.port, path: peer.path, connections: () => -1, close: () => peer.close() };
    return { port: peer.port, path: peer.path, pid: process.pid };
  },
  sample,
  /** Full GC twice (to also collect what the first one made unreachable), then a sample. */
  async gcSample() {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    await new Promise((r) => setImmediate(r));
    gc?.();
    return sample({});
  },
  profileStart: () => startWindowProfile(),
  profileStop: (args: { file: string }) => stopWindowProfile(args.file),
  async close() {
    await server?.close();
    server = null;
    return true;
  },
});
