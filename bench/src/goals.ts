/**
 * The Goals table: every speed goal of issue 13 checked against figures of the same run. Ratios
 * of the fan-out goals are taskpulse ÷ peer within each repetition (so drift between repetitions
 * cancels), then the median over repetitions; a goal stated "at every N" is met only when it holds
 * at every N the run measured. `taskpulse-unverified` (the same hub, `verifyLiveMessages: false`)
 * is shown beside as information; the verdicts judge `taskpulse`. `ws-scripted` (bare ws fed by
 * taskpulse's publisher) splits the p99 ratio into the publish path's part and the hub's.
 * `ws-twin` (a second, identical bare ws server) gives the resolution: what the ratio of two equal
 * servers comes out as in the same run.
 */
import type { Layout, Load } from './options';
import { fmt, median, pickLoad, ratios, table } from './report-stats';
import type { SavedRun } from './results';
import type { CycleResult, LoadResult } from './scenarios/fanout';
import { WORKER_COUNTS, workersMax } from './scenarios/workers';
import type { VariantName } from './servers/types';

/** A verdict: met, not met, or nothing to judge. */
type Verdict = 'met' | 'NOT met' | 'n/a' | 'info';

const SUBJECT: VariantName = 'taskpulse';
const UNVERIFIED: VariantName = 'taskpulse-unverified';
const SCRIPTED: VariantName = 'ws-scripted';
const TWIN: VariantName = 'ws-twin';

function kN(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

function loadName(load: Load): string {
  return load === 'max' ? 'max' : `${load / 1000}k/s`;
}

function layoutName(layout: Layout, clientsPerChannel: number): string {
  return layout === 'one' ? 'one channel' : `${clientsPerChannel} per channel`;
}

/** Combines per-cell checks: met only when every judged cell is. */
function combine(checks: Array<boolean | null>): Verdict {
  const judged = checks.filter((c): c is boolean => c !== null);
  if (judged.length === 0) return 'n/a';
  return judged.every(Boolean) ? 'met' : 'NOT met';
}

interface Cell {
  text: string;
  ok: boolean | null;
}

/**
 * One ratio per N: `N=1k 0.98 · 5k 1.02` (the median of the per-repetition ratios), and whether
 * each is within `limit`; with `range`, also the per-repetition range: `1k 1.02 [0.95–1.10]`.
 */
function perN(
  cycles: CycleResult[],
  sizes: number[],
  layout: Layout,
  peer: VariantName,
  subject: VariantName,
  metric: (c: CycleResult) => number,
  judge: ((n: number, r: number) => boolean | null) | null,
  range = false,
): Cell[] {
  const out: Cell[] = [];
  for (const n of sizes) {
    const rs = ratios(cycles, layout, n, peer, metric, subject).filter(Number.isFinite);
    const r = median(rs);
    if (!Number.isFinite(r)) continue;
    const spread = range ? ` [${fmt(Math.min(...rs))}–${fmt(Math.max(...rs))}]` : '';
    out.push({ text: `${kN(n)} ${fmt(r)}${spread}`, ok: judge ? judge(n, r) : null });
  }
  return out;
}

function cells(cs: Cell[]): string {
  return cs.length ? `N = ${cs.map((c) => c.text).join(' · ')}` : '—';
}

/** The Goals table of a run (also printed by `--report`). */
export function goalsReport(run: SavedRun): string {
  const o = run.options;
  const rows: string[][] = [];
  const row = (goal: string, measured: string, unverified: string, verdict: Verdict) =>
    rows.push([goal, measured, unverified, verdict]);
  const has = (v: VariantName) => run.cycles.some((c) => c.variant === v && !c.error);
  const fixed = o.loads.filter((l): l is number => l !== 'max');

  // 0. The resolution: two identical bare ws servers in the same run (information). A goal ratio
  // closer to its limit than this spread cannot be told from it on this machine.
  if (has(TWIN) && has('ws')) {
    for (const layout of o.layouts) {
      for (const load of fixed) {
        const cpu = pickLoad(load, (l: LoadResult) => l.cpuUsPerDelivery);
        const p99 = pickLoad(load, (l: LoadResult) => l.p99Us);
        row(
          `0. resolution: bare ws (twin) ÷ bare ws, the same server twice, ${layoutName(layout, o.clientsPerChannel)}, @${loadName(load)}: median [min–max] per repetition`,
          `CPU/delivery ${cells(perN(run.cycles, o.sizes, layout, 'ws', TWIN, cpu, null, true))}; p99 ${cells(perN(run.cycles, o.sizes, layout, 'ws', TWIN, p99, null, true))}`,
          '—',
          'info',
        );
      }
    }
  }

  // 1. CPU per delivery ≤ 1.05 × bare ws, both layouts, at 10k and 50k/s, at every N
  for (const layout of o.layouts) {
    for (const load of fixed) {
      const goalLoad = load === 10_000 || load === 50_000;
      const metric = pickLoad(load, (l: LoadResult) => l.cpuUsPerDelivery);
      const judge = goalLoad ? (_n: number, r: number) => r <= 1.05 : null;
      const tp = perN(run.cycles, o.sizes, layout, 'ws', SUBJECT, metric, judge);
      const un = perN(run.cycles, o.sizes, layout, 'ws', UNVERIFIED, metric, null);
      row(
        `1. CPU/delivery ÷ bare ws ≤ 1.05, ${layoutName(layout, o.clientsPerChannel)}, @${loadName(load)}`,
        cells(tp),
        has(UNVERIFIED) ? cells(un) : '—',
        goalLoad ? combine(tp.map((c) => c.ok)) : 'info',
      );
    }
  }

  // 2. p99 ≤ bare ws, both layouts, at 10k/s (50k/s shown)
  for (const layout of o.layouts) {
    for (const load of fixed) {
      const judged = load === 10_000;
      const metric = pickLoad(load, (l: LoadResult) => l.p99Us);
      const tp = perN(run.cycles, o.sizes, layout, 'ws', SUBJECT, metric, judged ? (_n, r) => r <= 1 : null);
      const un = perN(run.cycles, o.sizes, layout, 'ws', UNVERIFIED, metric, null);
      row(
        `2. p99 ÷ bare ws ≤ 1, ${layoutName(layout, o.clientsPerChannel)}, @${loadName(load)}${judged ? '' : ' (shown)'}`,
        cells(tp),
        has(UNVERIFIED) ? cells(un) : '—',
        judged ? combine(tp.map((c) => c.ok)) : 'info',
      );
    }
  }

  // 2, split: bare ws fed by taskpulse's publisher (`ws-scripted`) gets the same Redis messages
  // as the hub, so ws-scripted ÷ ws is what the publish path adds and taskpulse ÷ ws-scripted what
  // the hub adds (information)
  if (has(SCRIPTED) && fixed.includes(10_000)) {
    const metric = pickLoad(10_000, (l: LoadResult) => l.p99Us);
    for (const layout of o.layouts) {
      const path = perN(run.cycles, o.sizes, layout, 'ws', SCRIPTED, metric, null);
      const hub = perN(run.cycles, o.sizes, layout, SCRIPTED, SUBJECT, metric, null);
      const hubUn = perN(run.cycles, o.sizes, layout, SCRIPTED, UNVERIFIED, metric, null);
      row(
        `2a. p99 split, ${layoutName(layout, o.clientsPerChannel)}, @10k/s: bare ws fed by taskpulse's publisher ÷ bare ws (the publish path); taskpulse ÷ that (the hub)`,
        `path ${cells(path)}; hub ${cells(hub)}`,
        has(UNVERIFIED) ? `hub ${cells(hubUn)}` : '—',
        'info',
      );
    }
  }

  // 3. closed-loop max ≥ 3 × Socket.IO at 1,000 and 5,000, ≥ bare ws at 10,000
  if (o.loads.includes('max')) {
    for (const layout of o.layouts) {
      const metric = pickLoad('max', (l: LoadResult) => l.deliveriesPerSec);
      const build = (subject: VariantName, judge: boolean): Cell[] => {
        const out: Cell[] = [];
        for (const n of o.sizes) {
          const vsWs = n === 10_000;
          const peer: VariantName = vsWs ? 'ws' : 'socketio';
          const r = median(ratios(run.cycles, layout, n, peer, metric, subject));
          if (!Number.isFinite(r)) continue;
          const goalN = n === 1000 || n === 5000 || n === 10_000;
          const ok = judge && goalN ? r >= (vsWs ? 1 : 3) : null;
          out.push({
            text: `${kN(n)} ÷ ${vsWs ? 'bare ws' : 'Socket.IO'} ${fmt(r)}${goalN ? '' : ' (info)'}`,
            ok,
          });
        }
        return out;
      };
      const tp = build(SUBJECT, true);
      row(
        `3. closed-loop max ≥ 3 × Socket.IO at 1k and 5k, ≥ bare ws at 10k, ${layoutName(layout, o.clientsPerChannel)}`,
        cells(tp),
        has(UNVERIFIED) ? cells(build(UNVERIFIED, false)) : '—',
        combine(tp.map((c) => c.ok)),
      );
    }
  }

  // 4. SSE CPU per delivery ≤ 1.2 × WebSocket's (same hub, channel, clients and load)
  // 5. polling ≤ 80 µs of hub CPU per request; the bare node:http peer beside it
  const http = run.http.find((r) => !r.unavailable);
  if (http) {
    const sse = http.sse?.cpuUsPerDelivery ?? Number.NaN;
    const ws = http.ws?.cpuUsPerDelivery ?? Number.NaN;
    const r = sse / ws;
    row(
      `4. SSE hub CPU/delivery ≤ 1.2 × WebSocket's (${http.clients.toLocaleString('en-US')} clients, one channel, ${fmt(
        (http.offered ?? 10_000) / 1000,
        1,
      )}k/s each)`,
      Number.isFinite(r) ? `${fmt(r)} (SSE ${fmt(sse)} µs, WebSocket ${fmt(ws)} µs)` : `— ${http.error ?? ''}`,
      '—',
      Number.isFinite(r) ? (r <= 1.2 ? 'met' : 'NOT met') : 'n/a',
    );
    const hub = http.polling?.cpuUsPerRequest ?? Number.NaN;
    const peer = http.pollPeer?.cpuUsPerRequest ?? Number.NaN;
    row(
      `5. polling ≤ 80 µs of hub CPU per request (${http.clients.toLocaleString('en-US')} clients, ${fmt(
        (http.polling?.share304 ?? Number.NaN) * 100,
        0,
      )} % 304)`,
      Number.isFinite(hub)
        ? `${fmt(hub)} µs; bare node:http ${fmt(peer)} µs (${fmt(
            (http.pollPeer?.share304 ?? Number.NaN) * 100,
            0,
          )} % 304); hub ÷ bare ${fmt(hub / peer)}`
        : `— ${http.error ?? ''}`,
      '—',
      Number.isFinite(hub) ? (hub <= 80 ? 'met' : 'NOT met') : 'n/a',
    );
  }

  // 6. all cores: --workers 1 vs 2
  if (run.workers.length) {
    const maxOf = (w: number) => workersMax(run.workers, w);
    const cpuOf = (w: number) =>
      median(
        run.workers
          .filter((r) => r.workers === w && !r.cycle.error)
          .map((r) => r.cycle.loads.find((l) => l.load === 'max')?.cpuUsPerDelivery ?? Number.NaN),
      );
    const n = run.workers[0]?.cycle.n ?? 0;
    const scaling = maxOf(2) / maxOf(1);
    const err = run.workers.find((r) => r.cycle.error)?.cycle.error;
    row(
      `6. all cores: taskpulse-hub --workers 2 ÷ --workers 1, closed-loop max (N = ${n.toLocaleString('en-US')}, one channel)`,
      Number.isFinite(scaling)
        ? `${fmt(scaling)} (${WORKER_COUNTS.map(
            (w) => `${w}: ${fmt(maxOf(w) / 1000, 1)}k/s, ${fmt(cpuOf(w))} µs/delivery`,
          ).join('; ')}) — ${run.machine.nproc} cores shared with the load generators, publisher and Redis`
        : `— ${err ?? 'no closed-loop load measured'}`,
      '—',
      Number.isFinite(scaling) ? 'info' : 'n/a',
    );
  }

  // 7. recovery storm: 1,000 × 1,000 all caught up in ≤ 1 s, nothing lost or duplicated
  if (run.recoveries.length) {
    const rs = run.recoveries;
    const first = rs[0];
    const size = `${first?.clients.toLocaleString('en-US')} clients × ${first?.missed.toLocaleString('en-US')} missed`;
    const goalSize = (first?.clients ?? 0) >= 1000 && (first?.missed ?? 0) >= 1000;
    // the storm is all clients at once; reconnects spread out (--recovery-spread-ms) are information
    const spreadMs = first?.spreadMs ?? 0;
    const allOk = rs.every((r) => !r.error && r.verified && r.lost === 0 && r.duplicates === 0 && r.catchUpMs <= 1000);
    const caught = rs.map((r) => (r.error ? 'failed' : `${fmt(r.catchUpMs, 0)} ms`)).join(', ');
    const lost = rs.reduce((a, r) => a + r.lost, 0);
    const dup = rs.reduce((a, r) => a + r.duplicates, 0);
    row(
      `7. recovery storm: all caught up ≤ 1 s, 0 lost / 0 duplicated (${size}${
        spreadMs
          ? `, reconnects spread over ${spreadMs} ms: information`
          : goalSize
            ? ''
            : '; the goal size 1,000 × 1,000 runs in the full run'
      })`,
      `${caught}; ${lost} lost / ${dup} duplicated; verified: ${rs.every((r) => r.verified) ? 'yes' : 'NO'}`,
      '—',
      spreadMs ? 'info' : allOk ? (goalSize ? 'met' : 'info') : 'NOT met',
    );
  }

  if (rows.length === 0) return '#### Goals\n\nNothing measured that a goal is stated for.';
  const judged = rows.filter((r) => r[3] === 'met' || r[3] === 'NOT met');
  const met = judged.filter((r) => r[3] === 'met').length;
  return `#### Goals (issue 13; medians of per-repetition ratios; taskpulse judged, unverified shown)\n\n${table(
    ['goal', 'taskpulse', 'taskpulse-unverified (information)', 'verdict'],
    rows,
  )}\n\n${met} of ${judged.length} judged goals met in this ${o.mode} run (${o.reps} repetition(s); sizes ${o.sizes
    .map(kN)
    .join(', ')}).`;
}
