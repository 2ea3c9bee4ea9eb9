/**
 * The figures of one offered load, computed from the readings taken at the start and the end of
 * its measured window (and after the drain).
 */
import { availableParallelism } from 'node:os';
import type { PublishRunResult } from '../children/publisher-child';
import type { ProcessSample } from '../children/server-child';
import type { HotFunction } from '../children/window-profiler';
import { count, merge, quantile, subtract } from '../histogram';
import type { Load } from '../options';
import type { PerfProfile } from '../perf-record';
import { boxBusy, boxIrq } from '../proc-stats';
import type { Marks } from './context';

/** Figures of one offered load. */
export interface LoadResult {
  load: Load;
  /** Offered deliveries/s (null for max). */
  offered: number | null;
  pubsPerSec: number | null;
  published: number;
  publishErrors: number;
  /** Deliveries received in the measured window, and per second. */
  deliveries: number;
  deliveriesPerSec: number;
  /** Publish → receive latency in the window, µs. */
  p50Us: number;
  p95Us: number;
  p99Us: number;
  maxUs: number;
  /** Hub (server process) figures in the window. */
  serverCpuUs: number;
  cpuUsPerDelivery: number;
  /** The part of `cpuUsPerDelivery` spent in user space (the server's own window), µs. */
  userUsPerDelivery: number;
  elu: number;
  gcMs: number;
  gcCount: number;
  /** the server's own window for ELU and GC, ms */
  gcWindowMs: number;
  /** longest the server's event loop was blocked in the window, ms */
  maxLoopBlockMs: number;
  serverRssBytes: number;
  /** Everything else on the box, in the window (cores = CPU seconds per second). */
  loadgenCores: number;
  loadgenCpuUsPerDelivery: number;
  publisherCores: number;
  redisCores: number;
  /** Share of the whole machine busy (0–1), and the cores used by processes outside this run. */
  boxBusy: number;
  /**
   * Cores spent in interrupts, mostly loopback TCP in softirq. Without IRQ time accounting in the
   * kernel (as here) that time is also charged to whichever process was running, so it is part
   * of the figures above, not on top of them.
   */
  irqCores: number;
  /** Cores used by processes outside this run: box busy − every process of the run. */
  otherCores: number;
  windowMs: number;
  /**
   * After draining: deliveries still missing, and deliveries beyond published × clients (both
   * should be 0: nothing lost, nothing twice), and sockets closed by the server.
   */
  undelivered: number;
  excess: number;
  unexpectedCloses: number;
  closeCodes: Record<string, number>;
  /** With --profile: the server's functions with the most self time in the window. */
  hotFunctions?: HotFunction[];
  /** With --perf: the server's symbols with the most samples in the window, and samples by kind. */
  perf?: PerfProfile;
}

/** Computes a {@link LoadResult} from the window's readings. */
export function summarize(
  load: Load,
  pubsPerSec: number,
  published: PublishRunResult,
  m0: Marks,
  m1: Marks,
  s0: ProcessSample,
  s1: ProcessSample,
  undelivered: number,
  before: Marks,
  after: Marks,
): LoadResult {
  const windowMs = m1.atMs - m0.atMs;
  const sec = windowMs / 1000;
  const hist = merge(m1.loadgens.map((m, i) => subtract(m.histogram, m0.loadgens[i]?.histogram ?? [])));
  const deliveries = count(hist);
  const serverCpuUs = m1.serverCpuUs - m0.serverCpuUs;
  // in-process figures cover the server's own window (s0..s1), which lags when its loop was blocked
  const eluActive = s1.eluActiveMs - s0.eluActiveMs;
  const eluIdle = s1.eluIdleMs - s0.eluIdleMs;
  const maxLoopBlockMs = Math.max(s1.maxLoopDelayMs, (s0.atUs - m0.atUs) / 1000, (s1.atUs - m1.atUs) / 1000);
  const loadgenCpuUs = m1.loadgenCpuUs - m0.loadgenCpuUs;
  const closeCodes: Record<string, number> = {};
  let unexpectedCloses = 0;
  after.loadgens.forEach((m, i) => {
    unexpectedCloses += m.unexpectedCloses - (before.loadgens[i]?.unexpectedCloses ?? 0);
    for (const [code, c] of Object.entries(m.closeCodes)) {
      const prev = before.loadgens[i]?.closeCodes[code] ?? 0;
      if (c > prev) closeCodes[code] = (closeCodes[code] ?? 0) + c - prev;
    }
  });
  return {
    load,
    offered: load === 'max' ? null : load,
    pubsPerSec: load === 'max' ? null : pubsPerSec,
    published: published.published,
    publishErrors: published.errors,
    deliveries,
    deliveriesPerSec: deliveries / sec,
    p50Us: quantile(hist, 0.5),
    p95Us: quantile(hist, 0.95),
    p99Us: quantile(hist, 0.99),
    maxUs: quantile(hist, 1),
    serverCpuUs,
    cpuUsPerDelivery: deliveries > 0 ? serverCpuUs / deliveries : Number.NaN,
    userUsPerDelivery: deliveries > 0 ? (s1.userUs - s0.userUs) / deliveries : Number.NaN,
    elu: eluActive / (eluActive + eluIdle),
    gcMs: s1.gcMs - s0.gcMs,
    gcCount: s1.gcCount - s0.gcCount,
    gcWindowMs: (s1.atUs - s0.atUs) / 1000,
    maxLoopBlockMs,
    serverRssBytes: m1.serverRssBytes,
    loadgenCores: loadgenCpuUs / 1e6 / sec,
    loadgenCpuUsPerDelivery: deliveries > 0 ? loadgenCpuUs / deliveries : Number.NaN,
    publisherCores: (m1.publisherCpuUs - m0.publisherCpuUs) / 1e6 / sec,
    redisCores: (m1.redisCpuUs - m0.redisCpuUs) / 1e6 / sec,
    boxBusy: boxBusy(m0.box, m1.box),
    irqCores: boxIrq(m0.box, m1.box) * availableParallelism(),
    otherCores:
      boxBusy(m0.box, m1.box) * availableParallelism() -
      (serverCpuUs +
        loadgenCpuUs +
        m1.publisherCpuUs -
        m0.publisherCpuUs +
        m1.redisCpuUs -
        m0.redisCpuUs +
        m1.orchestratorCpuUs -
        m0.orchestratorCpuUs) /
        1e6 /
        sec,
    windowMs,
    undelivered: Math.max(0, undelivered),
    excess: 0,
    unexpectedCloses,
    closeCodes,
  };
}
