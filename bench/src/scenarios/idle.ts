/**
 * Idle connections: N clients (50 per channel) stay connected and nothing is published, for a
 * few heartbeat intervals. What a server spends on holding them — its protocol pings and pongs,
 * its timers, any pass over its connections — shows as CPU per second and as event-loop blocks:
 * a delivery that arrives during a 100 ms pass waits 100 ms.
 *
 * The servers run with a short heartbeat (`--idle-heartbeat-ms`, 5 s) so that the window holds
 * two full intervals; bare ws sends no pings (it is the floor: what idle sockets cost by
 * themselves).
 */
import type { ProcessSample } from '../children/server-child';
import { fmt, median, table } from '../report-stats';
import type { VariantName } from '../servers/types';
import {
  assertConnected,
  type ChildServer,
  connectClients,
  endCycle,
  historySize,
  type RunContext,
  sleep,
  startServerProcess,
} from './context';

/** One server holding idle connections. */
export interface IdleResult {
  variant: VariantName;
  rep: number;
  clients: number;
  heartbeatIntervalMs: number;
  /** Per one-second window: server CPU (ms) and the longest event-loop block (ms). */
  windows: Array<{ cpuMs: number; blockMs: number }>;
  error: string | null;
}

/** The variants compared (the unverified taskpulse hub holds connections the same way). */
const IDLE_VARIANTS: readonly VariantName[] = ['ws', 'socketio', 'taskpulse'];

/** Runs the idle scenario once for every variant of the run it compares. */
export async function runIdle(ctx: RunContext, rep: number): Promise<IdleResult[]> {
  const { clients: n, heartbeatIntervalMs, windows } = ctx.options.idle;
  const out: IdleResult[] = [];
  for (const variant of IDLE_VARIANTS.filter((v) => ctx.options.variants.includes(v))) {
    const result: IdleResult = { variant, rep, clients: n, heartbeatIntervalMs, windows: [], error: null };
    const loadgens = ctx.loadgens.slice(0, Math.min(ctx.loadgens.length, n));
    let server: ChildServer | null = null;
    try {
      server = await startServerProcess(ctx, variant, { heartbeatIntervalMs });
      await ctx.publisher.call('setup', { variant, redisUrl: ctx.redisUrl, historySize: historySize(ctx) }, 30_000);
      const perChannel = ctx.options.clientsPerChannel;
      assertConnected(
        await connectClients(
          ctx,
          loadgens,
          server,
          variant,
          Array.from({ length: n }, (_, i) => [`bench:idle-${rep}-c${Math.floor(i / perChannel)}`]),
        ),
        n,
      );
      // the connect burst's garbage is collected before the windows start
      await sleep(1000);
      let last = await server.child.call<ProcessSample>('sample', { resetLoopDelay: true });
      for (let w = 0; w < windows; w++) {
        await sleep(1000);
        const now = await server.child.call<ProcessSample>('sample', { resetLoopDelay: true });
        result.windows.push({
          cpuMs: ((now.cpuUs - last.cpuUs) / (now.atUs - last.atUs)) * 1000,
          blockMs: now.maxLoopDelayMs,
        });
        last = now;
      }
    } catch (err) {
      result.error = (err as Error).message.split('\n')[0] ?? String(err);
    } finally {
      await endCycle(ctx, server, loadgens);
    }
    out.push(result);
  }
  return out;
}

/** One line for the progress log. */
export function idleLine(r: IdleResult): string {
  if (r.error) return `idle ${r.variant}: ${r.error}`;
  const s = idleStats(r);
  return (
    `idle ${r.variant.padEnd(9)} N=${r.clients}: ${fmt(s.cpuMs, 1)} ms CPU/s (worst second ${fmt(s.worstCpuMs, 1)}), ` +
    `longest block ${fmt(s.maxBlockMs, 1)} ms`
  );
}

/** Mean CPU per second, the worst second, and the longest and the median per-second block. */
export function idleStats(r: IdleResult): {
  cpuMs: number;
  worstCpuMs: number;
  maxBlockMs: number;
  medianBlockMs: number;
} {
  const cpu = r.windows.map((w) => w.cpuMs);
  const blocks = r.windows.map((w) => w.blockMs);
  return {
    cpuMs: cpu.reduce((a, b) => a + b, 0) / Math.max(1, cpu.length),
    worstCpuMs: Math.max(...cpu),
    maxBlockMs: Math.max(...blocks),
    medianBlockMs: median(blocks),
  };
}

/** The idle table, one row per server and repetition. */
export function idleTable(results: IdleResult[]): string {
  const rows = results.map((r) => {
    if (r.error) return [r.variant, String(r.rep), r.clients.toLocaleString('en-US'), '', '', '', '', `NO: ${r.error}`];
    const s = idleStats(r);
    return [
      r.variant,
      String(r.rep),
      r.clients.toLocaleString('en-US'),
      `${r.heartbeatIntervalMs.toLocaleString('en-US')} ms × ${fmt((r.windows.length * 1000) / r.heartbeatIntervalMs, 1)}`,
      fmt(s.cpuMs, 1),
      fmt(s.worstCpuMs, 1),
      fmt(s.maxBlockMs, 1),
      fmt(s.medianBlockMs, 1),
    ];
  });
  return `#### Idle connections (50 per channel, nothing published)\n\n${table(
    [
      'server',
      'rep',
      'clients',
      'heartbeat × intervals watched',
      'server CPU ms per s',
      'worst second, CPU ms',
      'longest event-loop block ms',
      'median of each second’s longest block ms',
    ],
    rows,
  )}\n\nbare ws sends no pings: its row is what idle sockets cost by themselves.`;
}
