/**
 * `npm run bench`: fan-out, latency, memory and recovery of taskpulse against Socket.IO and a bare
 * `ws` server, in one run, on loopback, with a private redis-server. Not a test: it never gates CI
 * (`--smoke` is the seconds-long variant CI may run).
 *
 * Processes: this orchestrator; redis-server; one server process at a time (the variant being
 * measured); one publisher; several load-generator processes of plain `ws` clients. Everything is
 * bounded in count and time and killed on exit or Ctrl-C.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedis } from '@taskpulse/testkit';
import type { HotFunction } from './children/window-profiler';
import type { ChildHandle } from './ipc';
import { describeMachine, machineInfo } from './machine';
import { parseOptions } from './options';
import { checkPerf } from './perf-record';
import { readRun, renderRun, type SavedRun } from './results';
import type { RunContext } from './scenarios/context';
import { type CycleResult, runFanoutCycle } from './scenarios/fanout';
import { type HttpResult, runHttpScenario } from './scenarios/http-fallbacks';
import { type IdleResult, idleLine, runIdle } from './scenarios/idle';
import { type RecoveryResult, runRecovery } from './scenarios/recovery';
import { runWorkers, type WorkersResult } from './scenarios/workers';
import { loadTaskpulse } from './servers/taskpulse-server';
import { needsTaskpulse, type VariantName } from './servers/types';
import { renderSizes, runSizeBench } from './size';
import { killAllChildrenSync, planFdLimit, spawnChild } from './spawn';

const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
/**
 * Time budgets: past the soft one no new cycle starts (the tables show what was measured); past
 * the hard one everything is killed, whatever it was doing.
 */
const SOFT_DEADLINE_MS = { full: 19 * 60_000, quick: 3 * 60_000, smoke: 60_000 } as const;
const HARD_DEADLINE_MS = { full: 26 * 60_000, quick: 6 * 60_000, smoke: 3 * 60_000 } as const;

let redis: RedisServer | null = null;

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function emergencyStop(reason: string, code: number): never {
  process.stderr.write(`\nbench: ${reason}; stopping every child process\n`);
  killAllChildrenSync();
  void redis?.stop();
  process.exit(code);
}

async function redisPid(server: RedisServer): Promise<number> {
  const info = await server.command('INFO', 'server');
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  if (!pid) throw new Error('could not read the redis-server pid from INFO');
  return pid;
}

function fmtK(x: number): string {
  return Number.isFinite(x) ? `${(x / 1000).toFixed(1)}k` : '—';
}

function httpLine(r: HttpResult): string {
  if (r.error) return `failed: ${r.error}`;
  const us = (x: number | undefined) => (x ?? Number.NaN).toFixed(1);
  return (
    `SSE ${us(r.sse?.cpuUsPerDelivery)} µs/d, WebSocket ${us(r.ws?.cpuUsPerDelivery)} µs/d; ` +
    `polling ${us(r.polling?.cpuUsPerRequest)} µs/request, bare node:http ${us(r.pollPeer?.cpuUsPerRequest)} µs/request`
  );
}

/** Why a smoke run fails: a variant or a scenario that delivered nothing. */
function smokeFailures(run: SavedRun): string[] {
  const out: string[] = [];
  if (run.taskpulseUnavailable) out.push(`taskpulse not available: ${run.taskpulseUnavailable}`);
  if (run.options.scenarios.includes('fanout') && run.cycles.length === 0) out.push('no fan-out cycle ran');
  const bad = run.cycles.filter((c) => c.error || c.loads.some((l) => l.deliveries === 0));
  if (bad.length) out.push(`no deliveries from ${bad.map((c) => c.variant).join(', ')}`);
  for (const v of run.options.variants) {
    if (run.options.scenarios.includes('fanout') && !run.cycles.some((c) => c.variant === v))
      out.push(`${v} did not run`);
  }
  if (run.options.http.enabled) {
    const r = run.http[0];
    if (!r) out.push('the HTTP scenario did not run');
    else if (r.unavailable) out.push(`HTTP scenario not available: ${r.unavailable}`);
    else {
      if (r.error) out.push(`HTTP scenario failed: ${r.error}`);
      if (!(r.sse?.deliveriesPerSec ?? 0)) out.push('SSE delivered nothing');
      if (!(r.ws?.deliveriesPerSec ?? 0)) out.push('WebSocket (HTTP scenario) delivered nothing');
      if (!(r.polling?.requestsPerSec ?? 0)) out.push('polling the hub answered nothing');
      if (!(r.pollPeer?.requestsPerSec ?? 0)) out.push('polling the bare node:http peer answered nothing');
    }
  }
  if (run.options.workers.enabled) {
    if (run.workers.length === 0) out.push('the workers scenario did not run');
    for (const w of run.workers) {
      if (w.cycle.error || w.cycle.loads.length === 0 || w.cycle.loads.some((l) => l.deliveries === 0)) {
        out.push(`taskpulse-hub --workers ${w.workers} delivered nothing${w.cycle.error ? `: ${w.cycle.error}` : ''}`);
      }
    }
  }
  if (run.options.idle.enabled) {
    if (run.idle.length === 0) out.push('the idle scenario did not run');
    for (const r of run.idle) {
      if (r.error || r.windows.length === 0) out.push(`idle ${r.variant}: ${r.error ?? 'no window measured'}`);
    }
  }
  return out;
}

function cycleLine(c: CycleResult): string {
  if (c.error) return `failed: ${c.error}`;
  const loads = c.loads.map(
    (l) =>
      `${l.load === 'max' ? 'max' : fmtK(l.load)}: ${fmtK(l.deliveriesPerSec)}/s p99 ${(l.p99Us / 1000).toFixed(1)} ms ` +
      `${l.cpuUsPerDelivery.toFixed(1)} µs/d` +
      // an external server (taskpulse-hub --workers) reports no user/kernel split
      (Number.isFinite(l.userUsPerDelivery) ? ` (user ${l.userUsPerDelivery.toFixed(1)})` : ''),
  );
  // below 1,000 connections the RSS difference is noise (see report-stats MIN_N_FOR_MEMORY)
  const memory = c.n >= 1000 ? `, ${(c.bytesPerConnection / 1024).toFixed(1)} KB/conn` : '';
  return `connect ${(c.connectMs / 1000).toFixed(1)} s${memory} | ${loads.join(' | ')}`;
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2), join(BENCH_DIR, 'results'));
  if (opts.report) {
    // npm runs the script in bench/; a relative path means relative to where `npm run` was typed
    log(renderRun(readRun(resolve(process.env.INIT_CWD ?? process.cwd(), opts.report))));
    return 0;
  }
  if (opts.scenarios.includes('size')) {
    // Browser bundle sizes (bench/src/size.ts): no server, no Redis, a few seconds.
    log(`## Browser bundle size (esbuild, minified)\n\n${renderSizes(await runSizeBench())}\n`);
    if (opts.scenarios.every((s) => s === 'size')) return 0;
  }
  const deadline = setTimeout(
    () => emergencyStop(`exceeded ${HARD_DEADLINE_MS[opts.mode] / 60_000} min`, 1),
    HARD_DEADLINE_MS[opts.mode],
  );
  const softDeadline = performance.now() + SOFT_DEADLINE_MS[opts.mode];
  let outOfTime = false;
  const timeLeft = () => {
    if (!outOfTime && performance.now() > softDeadline) {
      outOfTime = true;
      log(`! time budget of ${SOFT_DEADLINE_MS[opts.mode] / 60_000} min used up: no further cycles`);
    }
    return !outOfTime;
  };
  deadline.unref();
  process.once('SIGINT', () => emergencyStop('interrupted', 130));
  process.once('SIGTERM', () => emergencyStop('terminated', 143));

  const biggest = Math.max(
    ...opts.sizes,
    opts.recovery.enabled ? opts.recovery.clients : 0,
    opts.http.clients,
    opts.workers.enabled ? opts.workers.clients : 0,
    opts.idle.enabled ? opts.idle.clients : 0,
  );
  const fd = planFdLimit(biggest + 512);
  const machine = machineInfo(fd.limits);
  const startedAt = new Date();
  log(`# taskpulse benchmark (${opts.mode}) — ${startedAt.toISOString()}`);
  log(describeMachine(machine));
  log(
    fd.raised
      ? `open files: raising the soft limit to ${fd.childLimit} for every child (sh -c 'ulimit -n …')`
      : `open files: ${fd.limits.soft} per process is enough for ${biggest} connections (children inherit it)`,
  );

  let taskpulseUnavailable: string | null = null;
  const wantsTaskpulse =
    opts.variants.some(needsTaskpulse) || opts.recovery.enabled || opts.http.enabled || opts.workers.enabled;
  if (wantsTaskpulse) {
    try {
      await loadTaskpulse();
    } catch (err) {
      taskpulseUnavailable = (err as Error).message;
      log(`taskpulse: not available: ${taskpulseUnavailable} — measuring the peers only`);
    }
  }
  const variants: VariantName[] = opts.variants.filter((v) => !needsTaskpulse(v) || !taskpulseUnavailable);

  redis = await startRedis({ args: ['--client-output-buffer-limit', 'pubsub', '256mb', '64mb', '60'] });
  const profileDir = join(opts.outDir, 'profiles');
  if (opts.profile || opts.perf) mkdirSync(profileDir, { recursive: true });
  if (opts.perf) checkPerf();
  const publisher = spawnChild({ name: 'publisher', entry: 'children/publisher-child.ts', fd });
  const loadgens: ChildHandle[] = Array.from({ length: opts.loadgens }, (_, i) =>
    spawnChild({ name: `loadgen-${i + 1}`, entry: 'children/loadgen-child.ts', fd }),
  );
  await Promise.all([publisher, ...loadgens].map((c) => c.call('sample', {}, 30_000)));
  const ctx: RunContext = {
    options: opts,
    redisUrl: redis.url,
    redisPid: await redisPid(redis),
    publisher,
    loadgens,
    fd,
    profileDir,
    log,
  };
  log(
    `redis-server ${redis.url} (private), ${opts.loadgens} load-generator processes, variants: ${variants.join(', ')}\n`,
  );

  const cycles: CycleResult[] = [];
  const recoveries: RecoveryResult[] = [];
  const httpResults: HttpResult[] = [];
  const workers: WorkersResult[] = [];
  const idle: IdleResult[] = [];
  reps: for (let rep = 1; rep <= opts.reps; rep++) {
    const shift = (rep - 1) % variants.length;
    const order = [...variants.slice(shift), ...variants.slice(0, shift)];
    for (const n of opts.scenarios.includes('fanout') ? opts.sizes : []) {
      for (const layout of opts.layouts) {
        for (const variant of order) {
          if (!timeLeft()) break reps;
          const t0 = performance.now();
          const cycle = await runFanoutCycle(ctx, variant, n, layout, rep);
          cycles.push(cycle);
          for (const l of opts.profile ? cycle.loads : []) {
            const hot = (l.hotFunctions ?? []).slice(0, 8).map((h) => `${h.where} ${(h.share * 100).toFixed(0)}%`);
            log(`    profile ${variant} @${l.load}: ${hot.join(', ')}`);
          }
          for (const l of opts.perf ? cycle.loads : []) {
            const share = (list: HotFunction[], n: number) =>
              list
                .slice(0, n)
                .map((h) => `${h.where} ${(h.share * 100).toFixed(1)}%`)
                .join(', ');
            log(`    perf ${variant} @${l.load}: ${share(l.perf?.kinds ?? [], 12)}`);
            log(`      hot: ${share(l.perf?.hot ?? [], 15)}`);
          }
          log(
            `[rep ${rep}/${opts.reps}] N=${n} ${layout.padEnd(4)} ${variant.padEnd(9)} ${cycleLine(cycle)} ` +
              `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
          );
        }
      }
    }
    if (opts.recovery.enabled && !taskpulseUnavailable && timeLeft()) {
      const r = await runRecovery(ctx, rep);
      recoveries.push(r);
      log(
        `[rep ${rep}/${opts.reps}] recovery: ${r.error ?? `${r.catchUpMs.toFixed(0)} ms to catch up, verified: ${r.verified}`}`,
      );
      if (r.hotFunctions) {
        log(
          `    hub hot: ${r.hotFunctions
            .slice(0, 12)
            .map((h) => `${h.where} ${(h.share * 100).toFixed(0)}%`)
            .join(', ')}`,
        );
      }
    }
  }
  if (opts.recovery.enabled && taskpulseUnavailable) {
    log(`recovery: not available: ${taskpulseUnavailable} (only taskpulse can resume)`);
  }
  // SSE/WebSocket/polling and the workers run once, whatever the time budget left: they are goals
  if (opts.http.enabled) {
    if (!taskpulseUnavailable) {
      const t0 = performance.now();
      const r = await runHttpScenario(ctx);
      httpResults.push(r);
      if (r.unavailable) log(`SSE/polling: not available: ${r.unavailable}`);
      else log(`http: ${httpLine(r)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    } else {
      log(`SSE/polling: not available: ${taskpulseUnavailable}`);
    }
  }
  if (opts.workers.enabled) {
    if (!taskpulseUnavailable) {
      const t0 = performance.now();
      workers.push(...(await runWorkers(ctx, 1)));
      for (const w of workers) log(`workers ${w.workers}: N=${w.cycle.n} ${cycleLine(w.cycle)}`);
      log(`(workers: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    } else {
      log(`workers: not available: ${taskpulseUnavailable}`);
    }
  }

  if (opts.idle.enabled) {
    const t0 = performance.now();
    idle.push(...(await runIdle(ctx, 1)));
    for (const r of idle) log(idleLine(r));
    log(`(idle: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }

  await Promise.all([publisher, ...loadgens].map((c) => c.stop()));
  await redis.stop();

  const saved: SavedRun = {
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    startedAt: startedAt.toISOString(),
    elapsedS: (Date.now() - startedAt.getTime()) / 1000,
    machine,
    options: opts,
    variants,
    taskpulseUnavailable,
    cycles,
    recoveries,
    http: httpResults,
    workers,
    idle,
  };
  log(`\n${renderRun(saved)}`);
  mkdirSync(opts.outDir, { recursive: true });
  const file = join(opts.outDir, `${saved.startedAt.replace(/[:.]/g, '-')}-${opts.mode}.json`);
  writeFileSync(file, `${JSON.stringify(saved, null, 1)}\n`);
  log(`raw results: ${file}`);

  if (opts.mode === 'smoke') {
    const failures = smokeFailures(saved);
    for (const f of failures) log(`smoke: FAIL — ${f}`);
    if (failures.length) return 1;
    log('smoke: ok — every server and scenario delivered');
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => emergencyStop(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, 1),
);
