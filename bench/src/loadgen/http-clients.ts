/**
 * SSE and polling clients for the load generator (taskpulse's HTTP fallbacks).
 *
 * The hub's HTTP side comes with issue 5; these clients assume its shape as the design describes
 * it and keep every assumption in {@link sseUrl} / {@link pollUrl}:
 * - SSE: `GET {ssePath}?channel=…` with `Accept: text/event-stream`; each event's `data:` line is a
 *   publication (its payload carries the publisher's timestamp).
 * - Polling: `GET {pollPath}?channel=…[&since=cursor]`; a 200 carries the publications after the
 *   position, the next `cursor` and an `ETag`; sending the ETag back in `If-None-Match` with the
 *   same position yields 304 while nothing changed.
 * The runner probes both paths first and reports "not available" on 404.
 */
import { Agent, type ClientRequest, get, type IncomingMessage } from 'node:http';
import { Histogram } from '../histogram';
import { nowUs, scanTimestampsText } from '../payload';

/** SSE stream URL for one client. */
export function sseUrl(port: number, path: string, channel: string): string {
  return `http://127.0.0.1:${port}${path}?channel=${encodeURIComponent(channel)}`;
}

/** Polling URL for one client, from its last cursor when it has one. */
export function pollUrl(port: number, path: string, channel: string, cursor?: string): string {
  const since = cursor ? `&since=${encodeURIComponent(cursor)}` : '';
  return `http://127.0.0.1:${port}${path}?channel=${encodeURIComponent(channel)}${since}`;
}

interface PollBody {
  cursor?: string;
  channels?: Record<string, { publications?: Array<{ data?: { bt?: number } }> }>;
}

// every client keeps its connection between polls (the default keeps only 256 idle sockets)
const agent = new Agent({
  keepAlive: true,
  maxSockets: Number.POSITIVE_INFINITY,
  maxFreeSockets: Number.POSITIVE_INFINITY,
});

/** Counters of this process's HTTP clients. */
export interface HttpMark {
  sseDeliveries: number;
  sseHistogram: number[];
  polls: number;
  poll200: number;
  poll304: number;
  pollOther: number;
  pollDeliveries: number;
  pollHistogram: number[];
  cpuUs: number;
}

const sseLatency = new Histogram();
const pollLatency = new Histogram();
const streams = new Set<ClientRequest>();
let sseDeliveries = 0;
let polls = 0;
let poll200 = 0;
let poll304 = 0;
let pollOther = 0;
let pollDeliveries = 0;
/** Bumped by every pollStart/pollStop: a loop of an earlier start stops at its next turn. */
let pollGeneration = 0;

function openStream(url: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent, headers: { accept: 'text/event-stream' }, timeout: timeoutMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`SSE ${url} answered ${res.statusCode}`));
        return;
      }
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        pending += chunk;
        let end = pending.indexOf('\n\n');
        while (end !== -1) {
          const event = pending.slice(0, end);
          pending = pending.slice(end + 2);
          const now = nowUs();
          sseDeliveries += scanTimestampsText(event, (bt) => sseLatency.record(now - bt));
          end = pending.indexOf('\n\n');
        }
      });
      resolve();
    });
    req.on('error', reject);
    streams.add(req);
    req.on('close', () => streams.delete(req));
  });
}

function pollLoop(port: number, path: string, channel: string, intervalMs: number): void {
  const generation = pollGeneration;
  let etag: string | undefined;
  let cursor: string | undefined;
  const once = () => {
    if (generation !== pollGeneration) return;
    const headers: Record<string, string> = etag ? { 'if-none-match': etag } : {};
    const req = get(pollUrl(port, path, channel, cursor), { agent, headers }, (res: IncomingMessage) => {
      polls++;
      if (res.statusCode === 304) poll304++;
      else if (res.statusCode === 200) poll200++;
      else pollOther++;
      const etagHeader = res.headers.etag;
      if (typeof etagHeader === 'string') etag = etagHeader;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode === 200) {
          // only `publications` count: the first poll of a channel also carries its current `state`
          const now = nowUs();
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as PollBody;
          cursor = body.cursor ?? cursor;
          for (const result of Object.values(body.channels ?? {})) {
            for (const p of result.publications ?? []) {
              pollDeliveries++;
              if (typeof p.data?.bt === 'number') pollLatency.record(now - p.data.bt);
            }
          }
        }
        setTimeout(once, intervalMs);
      });
    });
    req.on('error', () => {
      pollOther++;
      setTimeout(once, intervalMs);
    });
  };
  // spread the first requests over one interval so the clients do not poll in lockstep
  setTimeout(once, Math.random() * intervalMs);
}

/** IPC handlers the load generator serves for the HTTP scenario. */
export const httpHandlers = {
  async sseConnect(args: { port: number; path: string; channels: string[]; timeoutMs: number }) {
    const started = performance.now();
    let failed = 0;
    let firstError: string | null = null;
    await Promise.all(
      args.channels.map((ch) =>
        openStream(sseUrl(args.port, args.path, ch), args.timeoutMs).catch((err: Error) => {
          failed++;
          firstError ??= err.message;
        }),
      ),
    );
    return { connected: args.channels.length - failed, failed, firstError, ms: performance.now() - started };
  },
  sseClose() {
    for (const req of streams) req.destroy();
    streams.clear();
    return true;
  },
  pollStart(args: { port: number; path: string; channels: string[]; intervalMs: number }) {
    pollGeneration++;
    for (const ch of args.channels) pollLoop(args.port, args.path, ch, args.intervalMs);
    return true;
  },
  pollStop() {
    pollGeneration++;
    return true;
  },
  httpMark(): HttpMark {
    const cpu = process.cpuUsage();
    return {
      sseDeliveries,
      sseHistogram: sseLatency.snapshot(),
      polls,
      poll200,
      poll304,
      pollOther,
      pollDeliveries,
      pollHistogram: pollLatency.snapshot(),
      cpuUs: cpu.user + cpu.system,
    };
  },
};
