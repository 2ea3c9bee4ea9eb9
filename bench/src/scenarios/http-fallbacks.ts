/**
 * SSE and polling at ~1,000 clients: hub CPU and latency per delivery over SSE, then over
 * WebSocket on the same hub, channel, client count and offered load (so SSE ÷ WebSocket is apples
 * to apples); polling requests/s with ETag → 304 while nothing changes, on the hub and then on a
 * bare `node:http` peer answering the same polls (servers/poll-peer.ts). Skipped with a "not
 * available" line when the hub answers 404 on the endpoints.
 */
import { type IncomingHttpHeaders, request } from 'node:http';
import { join } from 'node:path';
import type { ConnectResult, LoadgenMark } from '../children/loadgen-child';
import type { PublishRunArgs, PublishRunResult } from '../children/publisher-child';
import type { HotFunction } from '../children/window-profiler';
import { count, merge, quantile, subtract } from '../histogram';
import type { HttpMark } from '../loadgen/http-clients';
import { pollUrl, sseUrl } from '../loadgen/http-clients';
import { processCpuUs } from '../proc-stats';
import { fmt, table } from '../report-stats';
import type { PollPeerOptions } from '../servers/poll-peer';
import { spawnChild } from '../spawn';
import {
  childServer,
  endCycle,
  historySize,
  type RunContext,
  type ServerProcess,
  sleep,
  spread,
  startServerProcess,
} from './context';

/** Deliveries to streaming clients in one measured window. */
export interface DeliveryFigures {
  deliveriesPerSec: number;
  p50Us: number;
  p99Us: number;
  /** Server CPU (from /proc) ÷ deliveries in the window. */
  cpuUsPerDelivery: number;
}

/** Polling in one measured window. */
export interface PollFigures {
  requestsPerSec: number;
  share304: number;
  /** Server CPU (from /proc) ÷ requests answered in the window. */
  cpuUsPerRequest: number;
  deliveries: number;
  p50Us: number;
  p99Us: number;
}

/** Figures of the HTTP scenario. */
export interface HttpResult {
  /** Why the scenario did not run, or null. */
  unavailable: string | null;
  clients: number;
  /** Deliveries/s offered to the SSE clients, and then to as many WebSocket clients. */
  offered?: number;
  sse: DeliveryFigures | null;
  /** The same hub, channel, client count and offered load over WebSocket, right after SSE. */
  ws?: DeliveryFigures | null;
  polling: PollFigures | null;
  /** The bare `node:http` peer (servers/poll-peer.ts) answering the same polling load. */
  pollPeer?: PollFigures | null;
  /** The headers the peer answered with besides its ETag (copied from the hub's 304). */
  peerHeaders?: Record<string, string>;
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

function getOnce(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('poll probe timed out')));
    req.end();
  });
}

/** Headers Node writes itself, or that differ per response: not copied to the peer. */
const OWN_HEADERS = new Set(['etag', 'date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

/**
 * The hub's 304 answer to a poll, minus its ETag and the headers Node adds itself: the peer
 * answers with the same set, so both 304s have the same size.
 */
async function hub304Headers(port: number, path: string, channel: string): Promise<Record<string, string>> {
  const first = await getOnce(pollUrl(port, path, channel), {});
  const etag = first.headers.etag;
  const cursor = (JSON.parse(first.body) as { cursor?: string }).cursor;
  if (typeof etag !== 'string' || !cursor) return {};
  const again = await getOnce(pollUrl(port, path, channel, cursor), { 'if-none-match': etag });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(again.headers)) {
    if (typeof v === 'string' && !OWN_HEADERS.has(k)) out[k] = v;
  }
  return out;
}

interface Window<M> {
  sec: number;
  cpuUs: number;
  m0: M[];
  m1: M[];
}

function pollFigures(w: Window<HttpMark>): PollFigures {
  const sum = (f: (m: HttpMark) => number, ms: HttpMark[]) => ms.reduce((a, m) => a + f(m), 0);
  const hist = merge(w.m1.map((m, i) => subtract(m.pollHistogram, w.m0[i]?.pollHistogram ?? [])));
  const requests = sum((m) => m.polls, w.m1) - sum((m) => m.polls, w.m0);
  const n304 = sum((m) => m.poll304, w.m1) - sum((m) => m.poll304, w.m0);
  return {
    requestsPerSec: requests / w.sec,
    share304: requests ? n304 / requests : Number.NaN,
    cpuUsPerRequest: w.cpuUs / requests,
    deliveries: sum((m) => m.pollDeliveries, w.m1) - sum((m) => m.pollDeliveries, w.m0),
    p50Us: quantile(hist, 0.5),
    p99Us: quantile(hist, 0.99),
  };
}

function deliveryFigures(sec: number, cpuUs: number, hist: number[]): DeliveryFigures {
  const deliveries = count(hist);
  return {
    deliveriesPerSec: deliveries / sec,
    p50Us: quantile(hist, 0.5),
    p99Us: quantile(hist, 0.99),
    cpuUsPerDelivery: cpuUs / deliveries,
  };
}

/**
 * Runs the HTTP measurements once, each in its own measured window: SSE, then WebSocket clients
 * on the same hub, channel, count and offered load (the SSE ÷ WebSocket CPU ratio), polling on
 * the hub, then polling on the bare `node:http` peer. Never throws.
 */
export async function runHttpScenario(ctx: RunContext): Promise<HttpResult> {
  const o = ctx.options;
  const n = o.http.clients;
  const offered = Math.min(10_000, n * 100);
  const result: HttpResult = {
    unavailable: null,
    clients: n,
    offered,
    sse: null,
    ws: null,
    polling: null,
    pollPeer: null,
    error: null,
  };
  let server: ServerProcess | null = null;
  const loadgens = ctx.loadgens;
  const all = <T>(cmd: string, args: unknown | ((k: number) => unknown), timeoutMs = 60_000) =>
    Promise.all(loadgens.map((lg, k) => lg.call<T>(cmd, typeof args === 'function' ? args(k) : args, timeoutMs)));
  try {
    const hub = await startServerProcess(ctx, 'taskpulse');
    server = hub;
    const channel = `bench:http-${process.pid}`;
    for (const [what, url, accept] of [
      ['SSE', sseUrl(hub.port, o.http.ssePath, channel), 'text/event-stream'],
      ['polling', pollUrl(hub.port, o.http.pollPath, channel), 'application/json'],
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
    // polling: every client has made its first poll (a 200 carrying the current state) and holds
    // a cursor and an ETag before the window opens
    const pollWarmupMs = Math.max(o.warmupMs, o.http.pollIntervalMs + 500);
    const publish = (pubsPerSec: number, warmupMs = o.warmupMs) =>
      ctx.publisher.call<PublishRunResult>('run', {
        mode: 'rate',
        channels: [channel],
        fanout: n,
        pubsPerSec,
        durationMs: warmupMs + measureMs + 100,
        windowDeliveries: 0,
        maxInFlight: 100,
      } satisfies PublishRunArgs);
    const cpuOf = (srv: ServerProcess) => srv.pids().reduce((a, pid) => a + processCpuUs(pid), 0);
    const window = async <M>(
      srv: ServerProcess,
      during: Promise<unknown>,
      mark: () => Promise<M[]>,
      warmupMs = o.warmupMs,
    ) => {
      await sleep(warmupMs);
      const c0 = cpuOf(srv);
      const t0 = performance.now();
      const m0 = await mark();
      await sleep(measureMs);
      const c1 = cpuOf(srv);
      const sec = (performance.now() - t0) / 1000;
      const m1 = await mark();
      await during;
      return { sec, cpuUs: c1 - c0, m0, m1 } satisfies Window<M>;
    };
    const httpMarks = () => all<HttpMark>('httpMark', {});

    // SSE at the offered load
    const sseConnect = await all<{ failed: number; firstError: string | null }>('sseConnect', (k: number) => ({
      port: hub.port,
      path: o.http.ssePath,
      channels: perLoadgen[k],
      timeoutMs: 30_000,
    }));
    const sseFailed = sseConnect.reduce((a, c) => a + c.failed, 0);
    if (sseFailed)
      throw new Error(`${sseFailed} SSE streams failed: ${sseConnect.find((c) => c.firstError)?.firstError}`);
    const sse = await window(hub, publish(offered / n), httpMarks);
    result.sse = deliveryFigures(
      sse.sec,
      sse.cpuUs,
      merge(sse.m1.map((m, i) => subtract(m.sseHistogram, sse.m0[i]?.sseHistogram ?? []))),
    );
    await all('sseClose', {});

    // WebSocket: the same hub, channel, number of clients and offered load
    const wsConnect = await all<ConnectResult>(
      'connect',
      (k: number) => ({
        variant: 'taskpulse',
        port: hub.port,
        path: hub.path,
        clients: (perLoadgen[k] ?? []).map((c) => [c]),
        concurrency: o.connectConcurrency,
        tracking: false,
        timeoutMs: 30_000,
      }),
      120_000,
    );
    const wsFailed = wsConnect.reduce((a, c) => a + c.failed, 0);
    if (wsFailed)
      throw new Error(`${wsFailed} WebSocket clients failed: ${wsConnect.find((c) => c.firstError)?.firstError}`);
    const wsw = await window(hub, publish(offered / n), () => all<LoadgenMark>('mark', {}));
    result.ws = deliveryFigures(
      wsw.sec,
      wsw.cpuUs,
      merge(wsw.m1.map((m, i) => subtract(m.histogram, wsw.m0[i]?.histogram ?? []))),
    );
    await all('expectClose', {});
    await all('closeAll', { waitMs: 5000 });

    // polling the hub: every client once per interval, one publication every two intervals (about
    // half the answers are 304)
    const pollPublishRate = 1000 / (2 * o.http.pollIntervalMs);
    const peerHeaders = await hub304Headers(hub.port, o.http.pollPath, channel);
    result.peerHeaders = peerHeaders;
    await all('pollStart', (k: number) => ({
      port: hub.port,
      path: o.http.pollPath,
      channels: perLoadgen[k],
      intervalMs: o.http.pollIntervalMs,
    }));
    const pollPublishing = publish(pollPublishRate, pollWarmupMs);
    const profiling =
      o.profile && hub.child ? sleep(pollWarmupMs).then(() => hub.child?.call('profileStart', {}, 60_000)) : null;
    result.polling = pollFigures(await window(hub, pollPublishing, httpMarks, pollWarmupMs));
    if (profiling && hub.child) {
      await profiling;
      const file = join(ctx.profileDir, 'polling.cpuprofile');
      const hot = await hub.child.call<HotFunction[]>('profileStop', { file }, 60_000);
      ctx.log(
        `    hub hot (polling): ${hot
          .slice(0, 12)
          .map((h) => `${h.where} ${(h.share * 100).toFixed(0)}%`)
          .join(', ')}`,
      );
    }
    await all('pollStop', {});
    await endCycle(ctx, server, []);
    server = null;

    // the same polling load on the bare node:http peer (plain PUBLISH, as for the bare ws floor)
    const peerChild = spawnChild({ name: 'poll-peer', entry: 'children/server-child.ts', fd: ctx.fd });
    server = childServer(peerChild, 0, '');
    const started = await peerChild.call<{ port: number; path: string }>(
      'startPollPeer',
      { redisUrl: ctx.redisUrl, path: o.http.pollPath, headers: peerHeaders } satisfies PollPeerOptions,
      30_000,
    );
    const peer = childServer(peerChild, started.port, started.path);
    server = peer;
    await ctx.publisher.call('setup', { variant: 'ws', redisUrl: ctx.redisUrl, historySize: historySize(ctx) }, 30_000);
    await all('pollStart', (k: number) => ({
      port: peer.port,
      path: peer.path,
      channels: perLoadgen[k],
      intervalMs: o.http.pollIntervalMs,
    }));
    result.pollPeer = pollFigures(await window(peer, publish(pollPublishRate, pollWarmupMs), httpMarks, pollWarmupMs));
  } catch (err) {
    result.error = (err as Error).message.split('\n')[0] ?? String(err);
  } finally {
    await all('sseClose', {}).catch(() => {});
    await all('pollStop', {}).catch(() => {});
    await endCycle(ctx, server, []);
  }
  return result;
}

/** The SSE/WebSocket and polling tables. */
export function httpTables(results: HttpResult[]): string {
  const ok = results.filter((r) => !r.unavailable);
  const failed = ok.filter((r) => r.error).map((r) => `HTTP scenario (${r.clients} clients) failed: ${r.error}`);
  const ms = (us: number | undefined) => fmt((us ?? Number.NaN) / 1000);
  const stream = (what: string, r: HttpResult, f: DeliveryFigures | null | undefined) => [
    r.clients.toLocaleString('en-US'),
    what,
    fmt((r.offered ?? 10_000) / 1000, 1),
    fmt((f?.deliveriesPerSec ?? Number.NaN) / 1000, 1),
    ms(f?.p50Us),
    ms(f?.p99Us),
    fmt(f?.cpuUsPerDelivery ?? Number.NaN),
  ];
  const poll = (what: string, r: HttpResult, f: PollFigures | null | undefined) => [
    r.clients.toLocaleString('en-US'),
    what,
    fmt(f?.requestsPerSec ?? Number.NaN, 0),
    `${fmt((f?.share304 ?? Number.NaN) * 100, 0)} %`,
    fmt(f?.cpuUsPerRequest ?? Number.NaN),
    `${fmt((f?.p50Us ?? Number.NaN) / 1000, 0)} / ${fmt((f?.p99Us ?? Number.NaN) / 1000, 0)}`,
  ];
  const streams = table(
    ['clients', 'transport', 'k deliveries/s offered', 'k deliveries/s', 'p50 ms', 'p99 ms', 'hub CPU µs/delivery'],
    ok.flatMap((r) => [stream('SSE', r, r.sse), stream('WebSocket', r, r.ws)]),
  );
  const polls = table(
    ['clients', 'server', 'requests/s', '304 share', 'server CPU µs/request', 'poll delivery latency p50 / p99 ms'],
    ok.flatMap((r) => [poll('taskpulse hub', r, r.polling), poll('bare node:http', r, r.pollPeer)]),
  );
  return [
    `#### SSE and WebSocket on one taskpulse hub (same channel, clients and offered load)\n\n${streams}`,
    `#### Polling: the taskpulse hub and a bare node:http server answering the same polls\n\n${polls}`,
    ...failed,
  ].join('\n\n');
}
