/**
 * SSE and polling at ~1,000 clients (taskpulse only): delivery latency over SSE at a fixed rate,
 * and polling requests/s with ETag → 304 while nothing changes. Skipped with a "not available"
 * line when the hub answers 404 on the endpoints (its HTTP side is issue 5).
 */
import { request } from 'node:http';
import type { PublishRunArgs, PublishRunResult } from '../children/publisher-child';
import type { ProcessSample } from '../children/server-child';
import { count, merge, quantile, subtract } from '../histogram';
import type { HttpMark } from '../loadgen/http-clients';
import { pollUrl, sseUrl } from '../loadgen/http-clients';

import { fmt, table } from '../report-stats';
import {
  endCycle,
  historySize,
  type RunContext,
  type ServerProcess,
  sleep,
  spread,
  startServerProcess,
} from './context';

/** Figures of the HTTP scenario. */
export interface HttpResult {
  /** Why the scenario did not run, or null. */
  unavailable: string | null;
  clients: number;
  sse: { deliveriesPerSec: number; p50Us: number; p99Us: number; cpuUsPerDelivery: number } | null;
  polling: {
    requestsPerSec: number;
    share304: number;
    cpuUsPerRequest: number;
    deliveries: number;
    p50Us: number;
    p99Us: number;
  } | null;
  error: string | null;
}

function probe(url: string, accept: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept }, timeout: 5000 }, (res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.end();
  });
}

/** Runs the SSE and polling measurements once. Never throws. */
export async function runHttpScenario(ctx: RunContext): Promise<HttpResult> {
  const o = ctx.options;
  const n = o.http.clients;
  const result: HttpResult = { unavailable: null, clients: n, sse: null, polling: null, error: null };
  let server: ServerProcess | null = null;
  const loadgens = ctx.loadgens;
  const all = <T>(cmd: string, args: unknown | ((k: number) => unknown), timeoutMs = 60_000) =>
    Promise.all(loadgens.map((lg, k) => lg.call<T>(cmd, typeof args === 'function' ? args(k) : args, timeoutMs)));
  try {
    server = await startServerProcess(ctx, 'taskpulse');
    const channel = `bench:http-${process.pid}`;
    for (const [what, url, accept] of [
      ['SSE', sseUrl(server.port, o.http.ssePath, channel), 'text/event-stream'],
      ['polling', pollUrl(server.port, o.http.pollPath, channel), 'application/json'],
    ] as const) {
      const status = await probe(url, accept);
      if (status === 404) result.unavailable = `${what} endpoint ${new URL(url).pathname} answers 404`;
      else if (status >= 400 && !result.unavailable) result.unavailable = `${what} endpoint answers ${status}`;
    }
    if (result.unavailable) return result;

    await ctx.publisher.call(
      'setup',
      { variant: 'taskpulse', redisUrl: ctx.redisUrl, historySize: historySize(ctx) },
      30_000,
    );
    const perLoadgen = spread(
      Array.from({ length: n }, () => channel),
      loadgens.length,
    );
    const measureMs = o.measureMs * 2;
    const publish = (pubsPerSec: number) =>
      ctx.publisher.call<PublishRunResult>('run', {
        mode: 'rate',
        channels: [channel],
        fanout: n,
        pubsPerSec,
        durationMs: o.warmupMs + measureMs + 100,
        windowDeliveries: 0,
        maxInFlight: 100,
      } satisfies PublishRunArgs);
    const window = async (during: Promise<unknown>) => {
      await sleep(o.warmupMs);
      const [s0, m0] = await Promise.all([server?.child.call<ProcessSample>('sample'), all<HttpMark>('httpMark', {})]);
      const t0 = performance.now();
      await sleep(measureMs);
      const [s1, m1] = await Promise.all([server?.child.call<ProcessSample>('sample'), all<HttpMark>('httpMark', {})]);
      const sec = (performance.now() - t0) / 1000;
      await during;
      return { sec, cpuUs: (s1?.cpuUs ?? 0) - (s0?.cpuUs ?? 0), m0, m1 };
    };

    // SSE: 10k deliveries/s offered
    const sseConnect = await all<{ failed: number; firstError: string | null }>('sseConnect', (k: number) => ({
      port: server?.port,
      path: o.http.ssePath,
      channels: perLoadgen[k],
      timeoutMs: 30_000,
    }));
    const sseFailed = sseConnect.reduce((a, c) => a + c.failed, 0);
    if (sseFailed)
      throw new Error(`${sseFailed} SSE streams failed: ${sseConnect.find((c) => c.firstError)?.firstError}`);
    const sse = await window(publish(10_000 / n));
    const sseHist = merge(sse.m1.map((m, i) => subtract(m.sseHistogram, sse.m0[i]?.sseHistogram ?? [])));
    const sseDeliveries = count(sseHist);
    result.sse = {
      deliveriesPerSec: sseDeliveries / sse.sec,
      p50Us: quantile(sseHist, 0.5),
      p99Us: quantile(sseHist, 0.99),
      cpuUsPerDelivery: sse.cpuUs / sseDeliveries,
    };
    await all('sseClose', {});

    // polling: every client once per interval, one publication every two seconds (most polls: 304)
    await all('pollStart', (k: number) => ({
      port: server?.port,
      path: o.http.pollPath,
      channels: perLoadgen[k],
      intervalMs: o.http.pollIntervalMs,
    }));
    const poll = await window(publish(0.5));
    await all('pollStop', {});
    const sum = (f: (m: HttpMark) => number, ms: HttpMark[]) => ms.reduce((a, m) => a + f(m), 0);
    const pollHist = merge(poll.m1.map((m, i) => subtract(m.pollHistogram, poll.m0[i]?.pollHistogram ?? [])));
    const requests = sum((m) => m.polls, poll.m1) - sum((m) => m.polls, poll.m0);
    const n304 = sum((m) => m.poll304, poll.m1) - sum((m) => m.poll304, poll.m0);
    result.polling = {
      requestsPerSec: requests / poll.sec,
      share304: requests ? n304 / requests : Number.NaN,
      cpuUsPerRequest: poll.cpuUs / requests,
      deliveries: sum((m) => m.pollDeliveries, poll.m1) - sum((m) => m.pollDeliveries, poll.m0),
      p50Us: quantile(pollHist, 0.5),
      p99Us: quantile(pollHist, 0.99),
    };
  } catch (err) {
    result.error = (err as Error).message.split('\n')[0] ?? String(err);
  } finally {
    await all('sseClose', {}).catch(() => {});
    await all('pollStop', {}).catch(() => {});
    await endCycle(ctx, server, []);
  }
  return result;
}

/** The SSE/polling table. */
export function httpTables(results: HttpResult[]): string {
  const rows = results
    .filter((r) => !r.unavailable)
    .map((r) =>
      r.error
        ? [String(r.clients), `failed: ${r.error}`, '', '', '', '', '', '', '']
        : [
            r.clients.toLocaleString('en-US'),
            fmt((r.sse?.deliveriesPerSec ?? Number.NaN) / 1000, 1),
            fmt((r.sse?.p50Us ?? Number.NaN) / 1000),
            fmt((r.sse?.p99Us ?? Number.NaN) / 1000),
            fmt(r.sse?.cpuUsPerDelivery ?? Number.NaN),
            fmt(r.polling?.requestsPerSec ?? Number.NaN, 0),
            `${fmt((r.polling?.share304 ?? Number.NaN) * 100, 0)} %`,
            fmt(r.polling?.cpuUsPerRequest ?? Number.NaN),
            `${fmt((r.polling?.p50Us ?? Number.NaN) / 1000, 0)} / ${fmt((r.polling?.p99Us ?? Number.NaN) / 1000, 0)}`,
          ],
    );
  return `#### SSE and polling (taskpulse)\n\n${table(
    [
      'clients',
      'SSE k deliveries/s',
      'SSE p50 ms',
      'SSE p99 ms',
      'hub CPU µs/SSE delivery',
      'poll requests/s',
      '304 share',
      'hub CPU µs/request',
      'poll delivery latency p50 / p99 ms',
    ],
    rows,
  )}`;
}
