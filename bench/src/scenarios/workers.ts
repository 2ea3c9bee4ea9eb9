/**
 * All cores: the `taskpulse-hub` command (`@taskpulse/cli`) with `--workers 1` and then
 * `--workers 2`, each under the same fan-out cycle (N clients on one channel, a fixed load, then
 * closed-loop max). The load generators connect to the one shared port; the hub's CPU is the sum
 * over the primary and every worker process (read from /proc), so the figures compare.
 *
 * The command runs from its TypeScript source (the same source condition and tsx as every other
 * process of the run) with a configuration file written for the run: the run's private Redis,
 * the `bench` namespace, limits that do not get in the way (as for the `taskpulse` variant).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Load } from '../options';
import { descendantPids } from '../proc-stats';
import { fmt, median, table } from '../report-stats';
import { FROM_SOURCE, killTree, spawnCommand } from '../spawn';
import type { RunContext, ServerProcess } from './context';
import { type CycleResult, runFanoutCycle } from './fanout';

/** One worker count under the fan-out cycle. */
export interface WorkersResult {
  workers: number;
  /** The cycle (variant `taskpulse`, layout `one`); its CPU figures sum every hub process. */
  cycle: CycleResult;
}

/** The worker counts compared. */
export const WORKER_COUNTS = [1, 2] as const;

/** The `taskpulse-hub` entry: the CLI package's build (its `bin`), or its source (`src/cli.ts`). */
function cliEntry(): string {
  const pkg = createRequire(import.meta.url).resolve('@taskpulse/cli/package.json');
  return FROM_SOURCE ? join(dirname(pkg), 'src', 'cli.ts') : join(dirname(pkg), 'dist', 'cli.js');
}

/** Starts `taskpulse-hub --workers N` and resolves when it prints its listening line. */
async function startCli(ctx: RunContext, workers: number, configFile: string): Promise<ServerProcess> {
  const proc = spawnCommand(cliEntry(), ['--config', configFile, '--workers', String(workers)], ctx.fd);
  let output = '';
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`taskpulse-hub did not listen within 60 s: ${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
      const m = /listening on http:\/\/[^\s]*:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`taskpulse-hub exited (code ${code}, signal ${signal}): ${output.trim().split('\n').pop()}`));
    });
  });
  const pid = proc.pid ?? -1;
  return {
    child: null,
    port,
    path: '/ws',
    pids: () => [pid, ...descendantPids(pid)],
    async kill() {
      killTree(proc);
      await exited;
    },
  };
}

/** Runs the cycle for each worker count. Never throws (failures land in each cycle's `error`). */
export async function runWorkers(ctx: RunContext, rep: number): Promise<WorkersResult[]> {
  const o = ctx.options;
  const n = o.workers.clients;
  const dir = mkdtempSync(join(tmpdir(), 'taskpulse-bench-'));
  const out: WorkersResult[] = [];
  try {
    for (const workers of WORKER_COUNTS) {
      const configFile = join(dir, `hub-${workers}.json`);
      // per process: every worker may get every client (round-robin is not exact)
      const maxConnections = n + 100;
      writeFileSync(
        configFile,
        JSON.stringify({
          server: { host: '127.0.0.1', port: 0, path: '/ws' },
          redis: { url: ctx.redisUrl },
          seedNamespaces: false,
          namespaces: { bench: { kind: 'events', historySize: 100 } },
          limits: { maxConnections, maxConnectionsPerUser: maxConnections, maxBufferedBytes: 16 * 1024 * 1024 },
          log: { level: 'error' },
        }),
      );
      const loads: Load[] = o.workers.loads;
      const cycle = await runFanoutCycle(ctx, 'taskpulse', n, 'one', rep, {
        start: () => startCli(ctx, workers, configFile),
        loads,
        label: `workers${workers}-`,
      });
      out.push({ workers, cycle });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** The closed-loop max of a worker count (median over repetitions), deliveries/s. */
export function workersMax(results: WorkersResult[], workers: number): number {
  return median(
    results
      .filter((r) => r.workers === workers && !r.cycle.error)
      .map((r) => r.cycle.loads.find((l) => l.load === 'max')?.deliveriesPerSec ?? Number.NaN),
  );
}

/** The workers table: one row per worker count and load. */
export function workersTable(results: WorkersResult[], nproc: number): string {
  const rows: string[][] = [];
  for (const workers of WORKER_COUNTS) {
    const mine = results.filter((r) => r.workers === workers);
    const err = mine.find((r) => r.cycle.error)?.cycle.error;
    if (err && mine.every((r) => r.cycle.error)) {
      rows.push([String(workers), '', '', '', '', '', '', `failed: ${err}`]);
      continue;
    }
    const loads = [...new Set(mine.flatMap((r) => r.cycle.loads.map((l) => l.load)))];
    for (const load of loads) {
      const ls = mine.flatMap((r) => r.cycle.loads.filter((l) => l.load === load));
      const m = (f: (l: (typeof ls)[number]) => number) => median(ls.map(f));
      rows.push([
        String(workers),
        (mine[0]?.cycle.n ?? 0).toLocaleString('en-US'),
        load === 'max' ? 'closed-loop max' : `${load / 1000}k/s`,
        fmt(
          m((l) => l.deliveriesPerSec / 1000),
          1,
        ),
        fmt(m((l) => l.p99Us / 1000)),
        fmt(m((l) => l.cpuUsPerDelivery)),
        `${fmt(m((l) => l.serverCpuUs / 1e6 / (l.windowMs / 1000)))} hub · ${fmt(
          m((l) => l.loadgenCores + l.publisherCores + l.redisCores),
        )} load-gen+publisher+Redis; ${fmt(
          m((l) => l.boxBusy * 100),
          0,
        )} %`,
        '',
      ]);
    }
  }
  const scaling = workersMax(results, 2) / workersMax(results, 1);
  return `#### All cores: taskpulse-hub --workers 1 and 2 (one port, all clients on one channel)\n\n${table(
    [
      'workers',
      'N',
      'load',
      'k deliveries/s',
      'p99 ms',
      'hub CPU µs/delivery (all processes)',
      'cores: hub · the rest of the run; box busy',
      'notes',
    ],
    rows,
  )}\n\nScaling of the closed-loop max, 2 workers ÷ 1: ${fmt(scaling)}. This machine has ${nproc} cores, shared by the hub's processes, the load generators, the publisher and Redis: a second worker can only use what they leave idle.`;
}
