/**
 * The saved form of a run (raw JSON in bench/results/) and its printed form (Markdown tables).
 * `npm run bench -- --report bench/results/<file>.json` prints the tables of a saved run again.
 */
import { readFileSync } from 'node:fs';
import { goalsReport } from './goals';
import { describeMachine, type MachineInfo } from './machine';
import type { BenchOptions } from './options';
import { fanoutTables } from './report';
import type { CycleResult } from './scenarios/fanout';
import { type HttpResult, httpTables } from './scenarios/http-fallbacks';
import { type IdleResult, idleTable } from './scenarios/idle';
import { type RecoveryResult, recoveryTable } from './scenarios/recovery';
import { type WorkersResult, workersTable } from './scenarios/workers';
import type { VariantName } from './servers/types';

/** Everything a run measured, as written to bench/results/*.json. */
export interface SavedRun {
  command: string;
  startedAt: string;
  elapsedS: number;
  machine: MachineInfo;
  options: BenchOptions;
  /** The variants that ran (taskpulse is left out when its packages are missing). */
  variants: VariantName[];
  taskpulseUnavailable: string | null;
  cycles: CycleResult[];
  recoveries: RecoveryResult[];
  http: HttpResult[];
  /** `taskpulse-hub --workers 1` and `2` (absent in runs made before it existed). */
  workers: WorkersResult[];
  /** Idle connections (absent in runs made before it existed). */
  idle: IdleResult[];
}

/** The Markdown report of a run. */
export function renderRun(run: SavedRun): string {
  const opts = { ...run.options, variants: run.variants };
  const out: string[] = [
    `## Results — ${opts.mode} run, ${opts.reps} repetition(s), ${run.elapsedS.toFixed(0)} s`,
    `Command: \`${run.command}\`, started ${run.startedAt}\n\n${describeMachine(run.machine).replace('\n', '  \n')}`,
  ];
  if (run.taskpulseUnavailable) out.push(`taskpulse: not available: ${run.taskpulseUnavailable}`);
  if (run.cycles.length > 0) for (const layout of opts.layouts) out.push(fanoutTables(run.cycles, layout, opts));
  if (run.recoveries.length) out.push(recoveryTable(run.recoveries));
  if (run.http.some((r) => !r.unavailable)) out.push(httpTables(run.http));
  if (run.workers.length) out.push(workersTable(run.workers, run.machine.nproc));
  if (run.idle.length) out.push(idleTable(run.idle));
  // last, so it is what a run ends with
  out.push(goalsReport({ ...run, options: opts }));
  return `${out.join('\n\n')}\n`;
}

/** Reads a saved run. */
export function readRun(file: string): SavedRun {
  const run = JSON.parse(readFileSync(file, 'utf8')) as SavedRun;
  run.variants ??= [...new Set(run.cycles.map((c) => c.variant))];
  run.recoveries ??= [];
  run.http ??= [];
  run.workers ??= [];
  run.idle ??= [];
  run.options.idle ??= { enabled: false, clients: 0, heartbeatIntervalMs: 0, windows: 0 };
  run.options.workers ??= { enabled: false, clients: 0, loads: [] };
  return run;
}
