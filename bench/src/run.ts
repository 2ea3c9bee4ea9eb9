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
import type { ChildHandle } from './ipc';
import { describeMachine, machineInfo } from './machine';
import { parseOptions } from './options';
import { readRun, renderRun, type SavedRun } from './results';
import type { RunContext } from './scenarios/context';
import { type CycleResult, runFanoutCycle } from './scenarios/fanout';
import { type HttpResult, runHttpScenario } from './scenarios/http-fallbacks';
import { type RecoveryResult, runRecovery } from './scenarios/recovery';
import { loadTaskpulse } from './servers/taskpulse-server';
import type { VariantName } from './servers/types';
import { renderSizes, runSizeBench } from './size';
import { killAllChildrenSync, planFdLimit, spawnChild } from './spawn';

const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
/**
 * Time budgets: past the soft one no new cycle starts (the tables show what was measured); past
 * the hard one everything is killed, whatever it was doing.
 */
const SOFT_DEADLINE_MS = { full: 20 * 60_000, quick: 3 * 60_000, smoke: 60_000 } as const;
const HARD_DEADLINE_MS = { full: 26 * 60_000, quick: 6 * 60_000, smoke: 2 * 60_000 } as const;

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

function cycleLine(c: CycleResult): string {
  if (c.error) return `failed: ${c.error}`;
  const loads = c.loads.map(
    (l) =>
      `${l.load === 'max' ? 'max' : fmtK(l.load)}: ${fmtK(l.deliveriesPerSec)}/s p99 ${(l.p99Us / 1000).toFixed(1)} ms ` +
      `${l.cpuUsPerDelivery.toFixed(1)} µs/d`,
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

  const biggest = Math.max(...opts.sizes, opts.recovery.enabled ? opts.recovery.clients : 0, opts.http.clients);
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
  if (opts.variants.includes('taskpulse')) {
    try {
      await loadTaskpulse();
    } catch (err) {
      taskpulseUnavailable = (err as Error).message;
      log(`taskpulse: not available: ${taskpulseUnavailable} — measuring the peers only`);
    }
  }
  const variants: VariantName[] = opts.variants.filter((v) => v !== 'taskpulse' || !taskpulseUnavailable);

  redis = await startRedis({ args: ['--client-output-buffer-limit', 'pubsub', '256mb', '64mb', '60'] });
  const profileDir = join(opts.outDir, 'profiles');
  if (opts.profile) mkdirSync(profileDir, { recursive: true });
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
          log(
            `[rep ${rep}/${opts.reps}] N=${n} ${layout.padEnd(4)} ${variant.padEnd(9)} ${cycleLine(cycle)} ` +
              `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
          );
        }
      }
    }
    if (opts.recovery.enabled && variants.includes('taskpulse') && timeLeft()) {
      const r = await runRecovery(ctx, rep);
      recoveries.push(r);
      log(
        `[rep ${rep}/${opts.reps}] recovery: ${r.error ?? `${r.catchUpMs.toFixed(0)} ms to catch up, verified: ${r.verified}`}`,
      );
    }
  }
  if (opts.recovery.enabled && !variants.includes('taskpulse')) {
    log(`recovery: not available: ${taskpulseUnavailable ?? 'taskpulse not selected'} (only taskpulse can resume)`);
  }
  if (opts.http.enabled) {
    if (variants.includes('taskpulse')) {
      const r = await runHttpScenario(ctx);
      httpResults.push(r);
      if (r.unavailable) log(`SSE/polling: not available: ${r.unavailable}`);
    } else {
      log(`SSE/polling: not available: ${taskpulseUnavailable ?? 'taskpulse not selected'}`);
    }
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
  };
  log(`\n${renderRun(saved)}`);
  mkdirSync(opts.outDir, { recursive: true });
  const file = join(opts.outDir, `${saved.startedAt.replace(/[:.]/g, '-')}-${opts.mode}.json`);
  writeFileSync(file, `${JSON.stringify(saved, null, 1)}\n`);
  log(`raw results: ${file}`);

  if (opts.mode === 'smoke') {
    const bad = cycles.filter((c) => c.error || c.loads.some((l) => l.deliveries === 0));
    if (taskpulseUnavailable) log(`smoke: FAIL — taskpulse not available: ${taskpulseUnavailable}`);
    if (bad.length) log(`smoke: FAIL — no deliveries from ${bad.map((c) => c.variant).join(', ')}`);
    if (taskpulseUnavailable || bad.length || cycles.length === 0) return 1;
    log('smoke: ok — every server delivered');
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => emergencyStop(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`, 1),
);
