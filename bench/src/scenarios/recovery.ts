/**
 * Recovery (taskpulse only — neither peer can resume): clients on one channel are disconnected,
 * publications happen while they are away, then all reconnect at once with their last positions
 * while live publishing goes on. Measures the time until every client has caught up and verifies
 * per client that every offset arrived exactly once, in order.
 */
import { join } from 'node:path';
import type { ConnectResult } from '../children/loadgen-child';
import type { PublishRunArgs, PublishRunResult } from '../children/publisher-child';
import type { ProcessSample } from '../children/server-child';
import type { HotFunction } from '../children/window-profiler';
import { fmt, table } from '../report-stats';
import {
  assertConnected,
  type ChildServer,
  connectClients,
  endCycle,
  historySize,
  type RunContext,
  startServerProcess,
} from './context';

/** Figures and verdict of one recovery run. */
export interface RecoveryResult {
  rep: number;
  clients: number;
  /** Publications made while the clients were away. */
  missed: number;
  /** Publications made live during the reconnect. */
  live: number;
  /** Reconnects were spread over this long, ms (0: all at once; absent in older runs). */
  spreadMs?: number;
  /** Time to reconnect and resubscribe every client, ms. */
  reconnectMs: number;
  /** From the reconnect until every client received the last missed publication, ms. */
  catchUpMs: number;
  /** Hub CPU from the reconnect until everything was delivered, ms. */
  hubCpuMs: number;
  /** Hub CPU from the reconnect until every client caught up (the storm alone, without the live tail), ms. */
  stormHubCpuMs: number;
  /** CPU of all load generators from the reconnect until every client caught up, ms. */
  loadgenCpuMs: number;
  /** Per client, from opening its connection to its `subscribed` answer: p50 / p99 / max, ms. */
  subscribeMs: [number, number, number];
  /** Per client, from its `subscribed` answer to its last missed publication: p50 / p99 / max, ms. */
  catchUpAfterSubscribeMs: [number, number, number];
  /** Clients whose resubscribe succeeded (all of them when it worked). */
  resubscribed: number;
  /** Clients that reached the last missed publication (all of them when it worked). */
  caughtUp: number;
  /** Publications received by all clients from the reconnect until they caught up (or the timeout). */
  recoveryDeliveries: number;
  lost: number;
  duplicates: number;
  recovered: number;
  notRecovered: number;
  errorFrames: number;
  unexpectedCloses: number;
  /** Every client ends at the final offset of one epoch, with nothing lost or duplicated. */
  verified: boolean;
  error: string | null;
  /** With `--profile`: the hub's hottest functions during the storm. */
  hotFunctions?: HotFunction[];
}

interface TrackResult {
  lost: number;
  duplicates: number;
  recovered: number;
  notRecovered: number;
  errorFrames: number;
  firstError: string | null;
  minOffset: number;
  maxOffset: number;
  epochs: string[];
  unexpectedCloses: number;
}

interface CaughtUp {
  caughtUpAtUs: number | null;
  caughtUp: number;
  clients: number;
  /** Per caught-up client: open → subscribed, subscribed → caught up (µs). */
  splits: Array<[number, number]>;
}

/** p50 / p99 / max of µs values, in ms. */
function spreadMs(values: number[]): [number, number, number] {
  if (values.length === 0) return [Number.NaN, Number.NaN, Number.NaN];
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number) / 1000;
  return [at(0.5), at(0.99), (sorted[sorted.length - 1] as number) / 1000];
}

/** Runs the recovery scenario once. Never throws. */
export async function runRecovery(ctx: RunContext, rep: number): Promise<RecoveryResult> {
  const { clients: n, publications: missed, liveRate } = ctx.options.recovery;
  const channel = `recovery:run-${process.pid}-${rep}`;
  const loadgens = ctx.loadgens.slice(0, Math.min(ctx.loadgens.length, n));
  const result: RecoveryResult = {
    rep,
    clients: n,
    missed,
    live: 0,
    spreadMs: ctx.options.recovery.spreadMs,
    reconnectMs: Number.NaN,
    catchUpMs: Number.NaN,
    hubCpuMs: Number.NaN,
    stormHubCpuMs: Number.NaN,
    loadgenCpuMs: Number.NaN,
    subscribeMs: [Number.NaN, Number.NaN, Number.NaN],
    catchUpAfterSubscribeMs: [Number.NaN, Number.NaN, Number.NaN],
    resubscribed: 0,
    caughtUp: 0,
    recoveryDeliveries: 0,
    lost: 0,
    duplicates: 0,
    recovered: 0,
    notRecovered: 0,
    errorFrames: 0,
    unexpectedCloses: 0,
    verified: false,
    error: null,
  };
  let server: ChildServer | null = null;
  const all = <T>(cmd: string, args: unknown, timeoutMs = 60_000) =>
    Promise.all(loadgens.map((lg) => lg.call<T>(cmd, args, timeoutMs)));
  try {
    server = await startServerProcess(ctx, 'taskpulse');
    await ctx.publisher.call(
      'setup',
      { variant: 'taskpulse', redisUrl: ctx.redisUrl, historySize: historySize(ctx) },
      30_000,
    );
    await all('resetCounters', {});
    assertConnected(
      await connectClients(
        ctx,
        loadgens,
        server,
        'taskpulse',
        Array.from({ length: n }, () => [channel]),
        true,
      ),
      n,
    );

    // every client sees a few publications first, so each has a position to resume from
    const warm = 10;
    await ctx.publisher.call('burst', { channel, count: warm, maxInFlight: 1 });
    await expectCaughtUp(all, warm, 'warm-up');

    await all('disconnect', { waitMs: 5000 });
    await ctx.publisher.call('burst', { channel, count: missed, maxInFlight: 100 }, 60_000);
    const target = warm + missed;

    const cpu0 = await server.child.call<ProcessSample>('sample');
    const liveArgs: PublishRunArgs = {
      mode: 'rate',
      channels: [channel],
      fanout: n,
      pubsPerSec: liveRate,
      durationMs: 2000,
      windowDeliveries: 0,
      maxInFlight: 100,
    };
    const live = ctx.publisher.call<PublishRunResult>('run', liveArgs, 60_000);
    const received0 = (await all<number>('received', {})).reduce((a, b) => a + b, 0);
    const loadgenCpu0 = (await all<{ cpuUs: number }>('sample', {})).reduce((a, s) => a + s.cpuUs, 0);
    if (ctx.options.profile && server.child) await server.child.call('profileStart', {}, 60_000);
    const t0 = performance.now();
    const timeoutMs = ctx.options.recovery.timeoutMs;
    const reconnects = await all<ConnectResult & { startedUs: number }>(
      'reconnect',
      { concurrency: n, timeoutMs, caughtUpOffset: target, spreadMs: ctx.options.recovery.spreadMs },
      timeoutMs + 30_000,
    );
    result.reconnectMs = performance.now() - t0;
    const refailed = reconnects.reduce((a, c) => a + c.failed, 0);
    result.resubscribed = n - refailed;
    // wait for every client that did resubscribe (all of them, normally) to catch up
    const caught = await Promise.all(
      loadgens.map((lg, k) =>
        lg.call<CaughtUp>('waitCaughtUp', { timeoutMs, count: reconnects[k]?.connected ?? 0 }, timeoutMs + 30_000),
      ),
    );
    if (ctx.options.profile && server.child) {
      const file = join(ctx.profileDir, `recovery-${rep}.cpuprofile`);
      result.hotFunctions = await server.child.call<HotFunction[]>('profileStop', { file }, 60_000);
    }
    result.stormHubCpuMs = ((await server.child.call<ProcessSample>('sample')).cpuUs - cpu0.cpuUs) / 1000;
    result.loadgenCpuMs =
      ((await all<{ cpuUs: number }>('sample', {})).reduce((a, s) => a + s.cpuUs, 0) - loadgenCpu0) / 1000;
    result.caughtUp = caught.reduce((a, c) => a + c.caughtUp, 0);
    result.subscribeMs = spreadMs(caught.flatMap((c) => c.splits.map((x) => x[0])));
    result.catchUpAfterSubscribeMs = spreadMs(caught.flatMap((c) => c.splits.map((x) => x[1])));
    result.recoveryDeliveries = (await all<number>('received', {})).reduce((a, b) => a + b, 0) - received0;
    result.hubCpuMs = ((await server.child.call<ProcessSample>('sample')).cpuUs - cpu0.cpuUs) / 1000;
    const startUs = Math.min(...reconnects.map((r) => r.startedUs));
    const times = caught.map((c) => c.caughtUpAtUs).filter((t): t is number => t !== null);
    if (times.length === caught.length) result.catchUpMs = (Math.max(...times) - startUs) / 1000;
    if (refailed || times.length < caught.length) {
      const why = reconnects.find((c) => c.firstError)?.firstError;
      throw new Error(
        `${refailed} of ${n} resubscribes failed${why ? ` (first: ${why})` : ''}; ` +
          `${result.caughtUp} clients caught up${
            Number.isFinite(result.catchUpMs)
              ? ` in ${Math.round(result.catchUpMs)} ms`
              : ` (others not within ${timeoutMs / 1000} s)`
          }`,
      );
    }

    result.live = (await live).published;
    const final = target + result.live;
    await expectCaughtUp(all, final, 'live publications after the reconnect');
    const cpu1 = await server.child.call<ProcessSample>('sample');
    result.hubCpuMs = (cpu1.cpuUs - cpu0.cpuUs) / 1000;

    const tracks = await all<TrackResult>('track', {});
    for (const t of tracks) {
      result.lost += t.lost;
      result.duplicates += t.duplicates;
      result.recovered += t.recovered;
      result.notRecovered += t.notRecovered;
      result.errorFrames += t.errorFrames;
      result.unexpectedCloses += t.unexpectedCloses;
    }
    const epochs = new Set(tracks.flatMap((t) => t.epochs));
    result.verified =
      result.lost === 0 &&
      result.duplicates === 0 &&
      result.notRecovered === 0 &&
      result.recovered === n &&
      epochs.size === 1 &&
      tracks.every((t) => t.minOffset === final && t.maxOffset === final);
    if (!result.verified) {
      const firstError = tracks.find((t) => t.firstError)?.firstError;
      ctx.log(
        `    ! recovery not verified: lost ${result.lost}, duplicates ${result.duplicates}, recovered ${result.recovered}/${n}, ` +
          `not recovered ${result.notRecovered}, epochs ${epochs.size}, offsets ${Math.min(...tracks.map((t) => t.minOffset))}–` +
          `${Math.max(...tracks.map((t) => t.maxOffset))} of ${final}${firstError ? `, first error: ${firstError}` : ''}`,
      );
    }
  } catch (err) {
    result.error = (err as Error).message.split('\n')[0] ?? String(err);
  } finally {
    await endCycle(ctx, server, loadgens);
  }
  return result;
}

async function expectCaughtUp(
  all: <T>(cmd: string, args: unknown, timeoutMs?: number) => Promise<T[]>,
  offset: number,
  what: string,
): Promise<void> {
  const caught = await all<CaughtUp>('waitCaughtUp', { offset, timeoutMs: 30_000 }, 60_000);
  if (caught.some((c) => c.caughtUpAtUs === null)) {
    throw new Error(`${what}: only ${caught.reduce((a, c) => a + c.caughtUp, 0)} clients reached offset ${offset}`);
  }
}

/** The recovery table, one row per repetition. */
export function recoveryTable(results: RecoveryResult[]): string {
  const triple = (t: [number, number, number] | undefined) =>
    t && Number.isFinite(t[0]) ? `${fmt(t[0], 0)} / ${fmt(t[1], 0)} / ${fmt(t[2], 0)}` : '';
  const rows = results.map((r) => [
    String(r.rep),
    r.clients.toLocaleString('en-US'),
    r.missed.toLocaleString('en-US'),
    r.error ? '' : String(r.live),
    r.spreadMs ? `over ${r.spreadMs.toLocaleString('en-US')} ms` : 'at once',
    fmt(r.reconnectMs, 0),
    fmt(r.catchUpMs, 0),
    triple(r.subscribeMs),
    triple(r.catchUpAfterSubscribeMs),
    `${fmt(r.stormHubCpuMs ?? Number.NaN, 0)} · ${fmt(r.hubCpuMs, 0)}`,
    fmt(r.loadgenCpuMs ?? Number.NaN, 0),
    r.error ? '' : `${r.lost} / ${r.duplicates}`,
    r.error
      ? `NO: ${r.error}`
      : r.verified
        ? `yes (${r.recovered} recovered: true)`
        : `NO (${r.notRecovered} recovered: false)`,
  ]);
  return `#### Recovery (taskpulse)\n\n${table(
    [
      'rep',
      'clients',
      'missed publications',
      'live during reconnect',
      'reconnects',
      'reconnect all ms',
      'all caught up ms',
      'per client: open → subscribed ms (p50 / p99 / max)',
      'per client: subscribed → caught up ms (p50 / p99 / max)',
      'hub CPU ms: storm · with live tail',
      'load-gen CPU ms (storm)',
      'lost / duplicated',
      'verified',
    ],
    rows,
  )}`;
}
