/**
 * Markdown tables from the raw cycle results: medians with [min–max] over repetitions, and
 * taskpulse ÷ peer ratios computed within each repetition (so drift between repetitions cancels).
 */
import type { BenchOptions, Layout, Load } from './options';
import {
  fmt,
  MIN_N_FOR_MEMORY,
  marginalBytes,
  marginalRatios,
  median,
  NAMES,
  pickLoad,
  ratios,
  spreadCell,
  table,
} from './report-stats';
import type { CycleResult, LoadResult } from './scenarios/fanout';
import type { VariantName } from './servers/types';

function loadLabel(load: Load): string {
  return load === 'max' ? 'closed-loop max' : `${(load / 1000).toLocaleString('en-US')}k deliveries/s offered`;
}

function layoutLabel(layout: Layout, opts: BenchOptions): string {
  return layout === 'one' ? 'all clients on one channel' : `${opts.clientsPerChannel} clients per channel`;
}

/** What else ran on the machine: medians only, to keep the cell short. */
function boxCell(ls: LoadResult[]): string {
  const m = (f: (l: LoadResult) => number) => median(ls.map(f));
  return `${fmt(m((l) => l.loadgenCores))} · ${fmt(m((l) => l.irqCores))} · ${fmt(m((l) => l.otherCores))}; ${fmt(
    m((l) => l.boxBusy * 100),
    0,
  )} %`;
}

function loadsOf(cycles: CycleResult[], load: Load): LoadResult[] {
  return cycles.flatMap((c) => c.loads.filter((l) => l.load === load));
}

/** The marginal-memory line of a layout, or '' when fewer than two sizes ran. */
function marginalLine(all: CycleResult[], layout: Layout, variants: VariantName[], opts: BenchOptions): string {
  const lo = Math.min(...opts.sizes);
  const hi = Math.max(...opts.sizes);
  if (hi <= lo) return '';
  const cells = variants.map(
    (v) => `${NAMES[v]} ${spreadCell([...marginalBytes(all, layout, v).values()], 1 / 1024, 1)} KB`,
  );
  const ratio = variants.includes('taskpulse')
    ? `; taskpulse ÷ bare ws ${spreadCell(marginalRatios(all, layout, 'ws'))}, ÷ Socket.IO ${spreadCell(
        marginalRatios(all, layout, 'socketio'),
      )}`
    : '';
  return `Marginal idle RSS per connection (slope from N=${lo.toLocaleString('en-US')} to ${hi.toLocaleString(
    'en-US',
  )}): ${cells.join(', ')}${ratio}.`;
}

/** The fan-out tables for one layout: throughput/latency/CPU per load, then memory and connect time. */
export function fanoutTables(all: CycleResult[], layout: Layout, opts: BenchOptions): string {
  const parts: string[] = [];
  const variants = opts.variants.filter((v) => all.some((c) => c.variant === v));
  for (const load of opts.loads) {
    const rows: string[][] = [];
    for (const n of opts.sizes) {
      for (const v of variants) {
        const cycles = all.filter((c) => c.layout === layout && c.n === n && c.variant === v && !c.error);
        const ls = loadsOf(cycles, load);
        if (ls.length === 0) {
          const err = all.find((c) => c.layout === layout && c.n === n && c.variant === v && c.error)?.error;
          rows.push([
            n.toLocaleString('en-US'),
            NAMES[v],
            '—',
            '',
            '',
            '',
            '',
            '',
            '',
            '',
            '',
            '',
            err ? `failed: ${err}` : '',
          ]);
          continue;
        }
        const undelivered = ls.reduce((a, l) => a + l.undelivered, 0);
        const excess = ls.reduce((a, l) => a + (l.excess ?? 0), 0);
        const closes = ls.reduce((a, l) => a + l.unexpectedCloses, 0);
        const notes = [
          load !== 'max' && median(ls.map((l) => l.deliveriesPerSec)) < 0.95 * load ? 'saturated' : '',
          undelivered ? `${undelivered} undelivered` : '',
          excess ? `${excess} delivered twice` : '',
          closes ? `${closes} closed by server` : '',
        ].filter(Boolean);
        rows.push([
          n.toLocaleString('en-US'),
          NAMES[v],
          spreadCell(
            ls.map((l) => l.deliveriesPerSec / 1000),
            1,
            1,
          ),
          spreadCell(ls.map((l) => l.p50Us / 1000)),
          spreadCell(ls.map((l) => l.p95Us / 1000)),
          spreadCell(ls.map((l) => l.p99Us / 1000)),
          spreadCell(ls.map((l) => l.cpuUsPerDelivery)),
          // runs saved before the user/kernel split have no such figure
          spreadCell(ls.map((l) => l.userUsPerDelivery ?? Number.NaN)),
          spreadCell(ls.map((l) => l.elu)),
          spreadCell(
            ls.map((l) => (l.gcMs / l.gcWindowMs) * 100),
            1,
            1,
          ),
          spreadCell(
            ls.map((l) => l.maxLoopBlockMs),
            1,
            0,
          ),
          spreadCell(
            ls.map((l) => l.serverRssBytes / 2 ** 20),
            1,
            0,
          ),
          boxCell(ls),
          notes.join(', '),
        ]);
      }
    }
    parts.push(
      `#### ${loadLabel(load)}, ${layoutLabel(layout, opts)}\n\n${table(
        [
          'N',
          'server',
          'k deliveries/s',
          'p50 ms',
          'p95 ms',
          'p99 ms',
          'hub CPU µs/delivery',
          'of which user space',
          'ELU',
          'GC % of time',
          'longest loop block ms',
          'hub RSS MB',
          'box: cores of load-gen · softirq (within) · other processes; busy',
          'notes',
        ],
        rows,
      )}`,
    );
  }

  const memRows: string[][] = [];
  for (const n of opts.sizes) {
    for (const v of variants) {
      const cycles = all.filter((c) => c.layout === layout && c.n === n && c.variant === v && !c.error);
      if (cycles.length === 0) continue;
      const enough = n >= MIN_N_FOR_MEMORY;
      memRows.push([
        n.toLocaleString('en-US'),
        NAMES[v],
        spreadCell(cycles.map((c) => c.connectMs / 1000)),
        spreadCell(
          cycles.map((c) => c.idleRssBytes / 2 ** 20),
          1,
          0,
        ),
        enough
          ? spreadCell(
              cycles.map((c) => c.bytesPerConnection / 1024),
              1,
              1,
            )
          : '— (N too small)',
        enough
          ? spreadCell(
              cycles.map((c) => c.heapBytesPerConnection / 1024),
              1,
              1,
            )
          : '—',
      ]);
    }
  }
  parts.push(
    `#### Connections and idle memory, ${layoutLabel(layout, opts)}\n\n${table(
      ['N', 'server', 'connect all s', 'idle RSS MB', 'RSS KB per connection', 'JS heap KB per connection'],
      memRows,
    )}\n\n${marginalLine(all, layout, variants, opts)}`,
  );

  if (variants.includes('taskpulse')) {
    const rows: string[][] = [];
    for (const n of opts.sizes) {
      for (const peer of variants.filter((v) => v !== 'taskpulse')) {
        const r = (pick: (c: CycleResult) => number) => spreadCell(ratios(all, layout, n, peer, pick));
        rows.push([
          n.toLocaleString('en-US'),
          NAMES[peer],
          ...opts.loads.filter((l) => l !== 'max').map((l) => r(pickLoad(l, (x) => x.cpuUsPerDelivery))),
          ...opts.loads.filter((l) => l !== 'max').map((l) => r(pickLoad(l, (x) => x.p99Us))),
          opts.loads.includes('max') ? r(pickLoad('max', (x) => x.deliveriesPerSec)) : '—',
          n >= MIN_N_FOR_MEMORY ? r((c) => c.bytesPerConnection) : '—',
        ]);
      }
    }
    const fixed = opts.loads.filter((l) => l !== 'max') as number[];
    parts.push(
      `#### taskpulse ÷ peer, per repetition (median [min–max]), ${layoutLabel(layout, opts)}\n\n${table(
        [
          'N',
          'peer',
          ...fixed.map((l) => `CPU/delivery @${l / 1000}k`),
          ...fixed.map((l) => `p99 @${l / 1000}k`),
          'max deliveries/s',
          'RSS per connection',
        ],
        rows,
      )}`,
    );
  }
  return parts.join('\n\n');
}
