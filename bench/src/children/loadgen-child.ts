/**
 * A load-generator process: many plain `ws` clients, the same code for every server (see
 * `loadgen/dialects.ts`). Counts deliveries, records publish → receive latency, reports its own
 * CPU, and in tracking mode (taskpulse recovery) verifies offsets: nothing lost, nothing twice.
 */
import WebSocket from 'ws';
import { Histogram } from '../histogram';
import { emitToParent, serveIpc } from '../ipc';
import {
  type BenchClient,
  DIALECTS,
  type DialectContext,
  newBenchClient,
  type TrackCounters,
} from '../loadgen/dialects';
import { httpHandlers } from '../loadgen/http-clients';
import { nowUs, scanTimestamps, scanTimestampsText } from '../payload';
import type { VariantName } from '../servers/types';

/** Arguments of `connect`. */
export interface ConnectArgs {
  variant: VariantName;
  port: number;
  path: string;
  /** Channels of each client to open. */
  clients: string[][];
  /** Handshakes in flight at once. */
  concurrency: number;
  /** Verify offsets (taskpulse only). */
  tracking: boolean;
  timeoutMs: number;
}

/** Result of `connect` / `reconnect`. */
export interface ConnectResult {
  connected: number;
  failed: number;
  firstError: string | null;
  ms: number;
}

/** Result of `mark`: cumulative counters of this process. */
export interface LoadgenMark {
  received: number;
  histogram: number[];
  cpuUs: number;
  unexpectedCloses: number;
  closeCodes: Record<string, number>;
  atUs: number;
}

const histogram = new Histogram();
let clients: BenchClient[] = [];
let variant: VariantName = 'ws';
let port = 0;
let path = '/';
let tracking = false;
let received = 0;
let unexpectedCloses = 0;
const closeCodes: Record<string, number> = {};
const counters: TrackCounters = {
  lost: 0,
  duplicates: 0,
  notRecovered: 0,
  recovered: 0,
  errorFrames: 0,
  firstError: null,
};
// recovery: every client counts as caught up once its position reaches the target offset
let caughtUpTarget = Number.POSITIVE_INFINITY;
let caughtUp = new Set<BenchClient>();
/** When each client caught up, in order (µs): the k-th entry is when k clients had. */
let caughtUpTimes: number[] = [];
/** Per caught-up client: its open → subscribed and subscribed → caught-up times (µs). */
let caughtUpSplits: Array<[number, number]> = [];

function markCaughtUp(client: BenchClient): void {
  if (caughtUp.has(client)) return;
  caughtUp.add(client);
  const now = nowUs();
  caughtUpTimes.push(now);
  const subscribedUs = client.subscribedUs || now;
  caughtUpSplits.push([subscribedUs - client.openedUs, now - subscribedUs]);
}

const ctx: DialectContext = {
  get tracking() {
    return tracking;
  },
  deliveries(frame) {
    const now = nowUs();
    received += scanTimestamps(frame, (bt) => histogram.record(now - bt));
  },
  deliveriesText(frame) {
    const now = nowUs();
    received += scanTimestampsText(frame, (bt) => histogram.record(now - bt));
  },
  ready() {},
  publication(client, channel, offset, epoch) {
    const last = client.positions.get(channel);
    if (last && last.epoch === epoch) {
      if (offset <= last.offset) {
        counters.duplicates++;
        return;
      }
      if (offset > last.offset + 1) counters.lost += offset - last.offset - 1;
    }
    client.positions.set(channel, { epoch, offset });
    if (offset >= caughtUpTarget) markCaughtUp(client);
  },
  subscribed(client, channel, recovered, position) {
    if (recovered === true) counters.recovered++;
    if (recovered === false) counters.notRecovered++;
    client.subscribedUs = nowUs();
    const last = client.positions.get(channel);
    if (!last || last.epoch !== position.epoch) client.positions.set(channel, position);
    // a client with nothing left to recover is caught up as soon as it is subscribed
    if ((client.positions.get(channel)?.offset ?? 0) >= caughtUpTarget) markCaughtUp(client);
  },
  error(_client, message) {
    counters.errorFrames++;
    counters.firstError ??= message;
  },
};

function open(client: BenchClient, timeoutMs: number): Promise<void> {
  const dialect = DIALECTS[variant];
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(dialect.url(port, path, client.channels), {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: timeoutMs,
    });
    client.ws = ws;
    client.openedUs = nowUs();
    client.subscribedUs = 0;
    client.ready = false;
    client.closing = false;
    client.subscribed = 0;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const clientCtx: DialectContext = Object.create(ctx);
    clientCtx.ready = (c) => {
      if (c.ready) return;
      c.ready = true;
      clearTimeout(timer);
      resolve();
    };
    // an error frame before the handshake finished (e.g. a subscribe answered `unavailable`)
    // fails this client at once, with the server's reason
    clientCtx.error = (c, message) => {
      ctx.error(c, message);
      if (c.ready) return;
      clearTimeout(timer);
      c.closing = true;
      ws.terminate();
      reject(new Error(`error frame before ready: ${message}`));
    };
    ws.on('open', () => dialect.onOpen(client, clientCtx));
    ws.on('message', (data: Buffer) => dialect.onMessage(client, data, clientCtx));
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // A refused upgrade: keep the server's reason (its JSON error body), not only the status.
    ws.on('unexpected-response', (request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (body.length < 300) body += chunk;
      });
      const fail = () => {
        clearTimeout(timer);
        request.destroy();
        reject(new Error(`Unexpected server response: ${response.statusCode} ${body.trim().slice(0, 300)}`));
      };
      response.once('end', fail);
      response.once('error', fail);
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      if (!client.ready) reject(new Error(`closed with code ${code} before ready`));
      else if (!client.closing) {
        unexpectedCloses++;
        closeCodes[code] = (closeCodes[code] ?? 0) + 1;
      }
    });
  });
}

/**
 * Opens every client, at most `concurrency` at a time; with `spreadMs`, client k of n starts at
 * k × spreadMs / n (reconnects spread the way browsers' backoff jitter spreads them).
 */
async function openAll(
  list: BenchClient[],
  concurrency: number,
  timeoutMs: number,
  spreadMs = 0,
): Promise<ConnectResult> {
  const started = performance.now();
  let next = 0;
  let connected = 0;
  let failed = 0;
  let firstError: string | null = null;
  const worker = async () => {
    while (next < list.length) {
      const k = next++;
      const client = list[k] as BenchClient;
      const wait = started + (k * spreadMs) / list.length - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      try {
        await open(client, timeoutMs);
        connected++;
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
  return { connected, failed, firstError, ms: performance.now() - started };
}

async function closeAll(waitMs: number): Promise<number> {
  const closing = clients.map(
    (c) =>
      new Promise<void>((resolve) => {
        c.closing = true;
        if (c.ws.readyState === WebSocket.CLOSED) return resolve();
        c.ws.once('close', () => resolve());
        c.ws.close();
      }),
  );
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), waitMs));
  if ((await Promise.race([Promise.all(closing), timeout])) === 'timeout') {
    for (const c of clients) if (c.ws.readyState !== WebSocket.CLOSED) c.ws.terminate();
  }
  return clients.length;
}

let progressTimer: NodeJS.Timeout | null = null;
let lastReported = -1;

serveIpc({
  ...httpHandlers,
  async connect(args: ConnectArgs) {
    variant = args.variant;
    port = args.port;
    path = args.path;
    tracking = args.tracking;
    clients = args.clients.map((channels) => newBenchClient(channels));
    return openAll(clients, args.concurrency, args.timeoutMs);
  },
  mark(): LoadgenMark {
    const cpu = process.cpuUsage();
    return {
      received,
      histogram: histogram.snapshot(),
      cpuUs: cpu.user + cpu.system,
      unexpectedCloses,
      closeCodes: { ...closeCodes },
      atUs: nowUs(),
    };
  },
  received: () => received,
  /** Starts/stops reporting the received count every `intervalMs` (closed-loop feedback). */
  progress(args: { on: boolean; intervalMs?: number }) {
    if (progressTimer) clearInterval(progressTimer);
    progressTimer = null;
    if (args.on) {
      progressTimer = setInterval(() => {
        if (received !== lastReported) {
          lastReported = received;
          emitToParent('progress', received);
        }
      }, args.intervalMs ?? 10);
    }
    return true;
  },
  /** The server is about to go away: its closes are expected, not counted as unexpected. */
  expectClose() {
    for (const c of clients) c.closing = true;
    return true;
  },
  async closeAll(args: { waitMs?: number }) {
    const n = await closeAll(args.waitMs ?? 5000);
    clients = [];
    return n;
  },
  /** Tracking mode: closes every client but keeps its positions for a later `reconnect`. */
  async disconnect(args: { waitMs?: number }) {
    return closeAll(args.waitMs ?? 5000);
  },
  /**
   * Tracking mode: reconnects every client at once, resuming each channel from its last position.
   * Resolves when every client is subscribed again; catching up is reported by `waitCaughtUp`.
   */
  async reconnect(args: { concurrency: number; timeoutMs: number; caughtUpOffset: number; spreadMs?: number }) {
    caughtUpTarget = args.caughtUpOffset;
    caughtUp = new Set();
    caughtUpTimes = [];
    caughtUpSplits = [];
    for (const c of clients) c.resumeFrom = new Map(c.positions);
    const startedUs = nowUs();
    const result = await openAll(clients, args.concurrency, args.timeoutMs, args.spreadMs ?? 0);
    return { ...result, startedUs };
  },
  /**
   * Resolves when `count` clients (default: all) reached `offset` (default: the target set by
   * `reconnect`), with the monotonic time (µs) at which the last of them did, or null on timeout.
   */
  async waitCaughtUp(args: { offset?: number; count?: number; timeoutMs: number }) {
    const target = args.offset;
    if (target !== undefined && target !== caughtUpTarget) {
      caughtUpTarget = target;
      caughtUp = new Set();
      caughtUpTimes = [];
      caughtUpSplits = [];
      for (const c of clients) {
        if (c.channels.every((ch) => (c.positions.get(ch)?.offset ?? 0) >= target)) markCaughtUp(c);
      }
    }
    const count = Math.min(args.count ?? clients.length, clients.length);
    const deadline = performance.now() + args.timeoutMs;
    while (caughtUpTimes.length < count && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const caughtUpAtUs = count === 0 ? nowUs() : (caughtUpTimes[count - 1] ?? null);
    return { caughtUpAtUs, caughtUp: caughtUp.size, clients: clients.length, splits: caughtUpSplits };
  },
  /** Tracking mode: verification counters and the range of last offsets. */
  track() {
    let minOffset = Number.POSITIVE_INFINITY;
    let maxOffset = 0;
    const epochs = new Set<string>();
    for (const c of clients) {
      for (const ch of c.channels) {
        const p = c.positions.get(ch);
        minOffset = Math.min(minOffset, p?.offset ?? 0);
        maxOffset = Math.max(maxOffset, p?.offset ?? 0);
        if (p) epochs.add(p.epoch);
      }
    }
    return { ...counters, minOffset, maxOffset, epochs: [...epochs], unexpectedCloses };
  },
  resetCounters() {
    received = 0;
    histogram.reset();
    unexpectedCloses = 0;
    for (const k of Object.keys(closeCodes)) delete closeCodes[k];
    Object.assign(counters, {
      lost: 0,
      duplicates: 0,
      notRecovered: 0,
      recovered: 0,
      errorFrames: 0,
      firstError: null,
    });
    return true;
  },
  sample() {
    const cpu = process.cpuUsage();
    return { cpuUs: cpu.user + cpu.system, rssBytes: process.memoryUsage().rss };
  },
  async close() {
    if (progressTimer) clearInterval(progressTimer);
    await closeAll(2000);
    return true;
  },
});
