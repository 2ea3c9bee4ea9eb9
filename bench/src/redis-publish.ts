/**
 * Publish throughput of `@taskpulse/redis-bridge` against a plain `PUBLISH` of the same payload
 * (the floor of overhead: one Redis command, no history), subscriber delivery throughput, and the
 * latency from the publish call to a pub/sub subscriber at the fan-out benchmark's rate of 200
 * publications a second, on a private redis-server on loopback. Besides rates, it reports CPU
 * time per operation of the redis-server process and of this Node process, which a busy machine
 * disturbs far less than wall-clock rates. Not a test: nothing here gates CI.
 *
 * Alone:  node --conditions=@taskpulse/source --import tsx bench/src/redis-publish.ts [--quick]
 * From a runner: `await runRedisPublishBench({ redisUrl, log })`.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { channelKeys, createPublisher, createSubscriber } from '@taskpulse/redis-bridge';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';

/** Options of {@link runRedisPublishBench}. */
export interface RedisPublishBenchOptions {
  /** A redis-server to use; by default a private one is started (and stopped) via the testkit. */
  redisUrl?: string;
  /** Length of one measurement, in ms. @default 1500 */
  durationMs?: number;
  /** Repetitions of every measurement (the table shows the median). @default 3 */
  reps?: number;
  /** Publications in flight on one connection in the concurrent modes. @default 64 */
  concurrency?: number;
  /** Where progress lines go. @default stdout */
  log?: (line: string) => void;
}

/** What is measured. */
export type BenchMeasurement = 'publish-sequential' | 'publish-concurrent' | 'publish-autopipelined' | 'delivery';

/** One measurement of one variant, over the repetitions. */
export interface BenchRow {
  measurement: BenchMeasurement;
  /** `plain` (PUBLISH / SUBSCRIBE) or `taskpulse`. */
  variant: 'plain' | 'taskpulse';
  /** Operations per second, one per repetition. */
  perSecond: number[];
  /** redis-server CPU µs per operation, one per repetition (NaN when it cannot be read). */
  redisCpuUs: number[];
  /** This process's CPU µs per operation, one per repetition. */
  nodeCpuUs: number[];
}

/** Latency from the publish call to the message at a pub/sub subscriber, per repetition. */
export interface LatencyRow {
  variant: BenchRow['variant'];
  /** µs, one per repetition. */
  p50Us: number[];
  /** µs, one per repetition. */
  p99Us: number[];
}

/** Result of {@link runRedisPublishBench}. */
export interface RedisPublishBenchResult {
  rows: BenchRow[];
  /** Publish → subscriber latency at {@link PACED_RATE} publications a second. */
  latency: LatencyRow[];
  /** The Markdown table printed at the end. */
  table: string;
  /** Size of one serialized publication, in bytes. */
  payloadBytes: number;
}

interface Outcome {
  ops: number;
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The data of one publication: a task-progress update like seed 001's (~200 bytes serialized). */
function progressData(i: number, t?: number) {
  return {
    ...(t === undefined ? {} : { t }),
    task_id: '8f2c9a41',
    progress: i % 101,
    message: `processing item ${i} of 1000`,
    step: 'transform',
    eta_s: 42,
  };
}

/** The text a taskpulse publication of that data has on the wire, for the plain PUBLISH baseline. */
function plainPayload(i: number, t?: number): string {
  const publication = { channel: 'task:bench', offset: i, epoch: 'AbCdEfGhIjK', event: 'progress' };
  return JSON.stringify({ ...publication, data: progressData(i, t), ts: Date.now() });
}

/** Publications per second of the latency measurement: the fan-out benchmark's 50-per-channel @10k rate. */
export const PACED_RATE = 200;

/** The `"t":` member {@link paced} puts in each payload: the publish call's time, ms. */
const T_KEY = '"t":';

/**
 * Listens on the pub/sub channel `listenOn` with `sub`, publishes one message every
 * 1000 / {@link PACED_RATE} ms for `durationMs` (not waiting for the replies), and returns the
 * latencies, µs, from each publish call to the message's arrival, sorted.
 */
async function paced(
  sub: Redis,
  listenOn: string,
  durationMs: number,
  publish: (i: number, t: number) => Promise<unknown>,
): Promise<number[]> {
  const latencies: number[] = [];
  const onMessage = (channel: string, message: string) => {
    if (channel !== listenOn) return;
    const at = message.indexOf(T_KEY) + T_KEY.length;
    latencies.push((performance.now() - Number.parseFloat(message.slice(at, message.indexOf(',', at)))) * 1000);
  };
  sub.on('message', onMessage);
  await sub.subscribe(listenOn);
  try {
    const count = Math.round((durationMs * PACED_RATE) / 1000);
    for (let i = 0; i < count; i++) {
      void publish(i, performance.now()).catch(() => undefined);
      await sleep(1000 / PACED_RATE);
    }
    await sleep(100);
  } finally {
    await sub.unsubscribe(listenOn);
    sub.off('message', onMessage);
  }
  return latencies.sort((a, b) => a - b);
}

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] as number);
}

/** Runs `op` sequentially until `durationMs` has passed. */
async function sequential(durationMs: number, op: (i: number) => Promise<unknown>): Promise<Outcome> {
  let n = 0;
  const start = performance.now();
  const end = start + durationMs;
  while (performance.now() < end) await op(n++);
  return { ops: n, seconds: (performance.now() - start) / 1000 };
}

/** Keeps `window` ops in flight until `durationMs` has passed. */
async function concurrent(durationMs: number, window: number, op: (i: number) => Promise<unknown>): Promise<Outcome> {
  let n = 0;
  const start = performance.now();
  const end = start + durationMs;
  const worker = async () => {
    while (performance.now() < end) await op(n++);
  };
  await Promise.all(Array.from({ length: window }, worker));
  return { ops: n, seconds: (performance.now() - start) / 1000 };
}

/**
 * Publishes at full speed (window in flight) for `durationMs` while a subscriber counts what it
 * receives; the rate is deliveries from the first publication to the last delivery.
 */
async function delivery(
  durationMs: number,
  window: number,
  publish: (i: number) => Promise<unknown>,
  received: () => number,
): Promise<Outcome> {
  const start = performance.now();
  let sent = 0;
  let failed = 0;
  const end = start + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const i = sent++;
      await publish(i).catch(() => failed++);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  const expected = sent - failed;
  const deadline = performance.now() + 30_000;
  while (received() < expected && performance.now() < deadline) await sleep(1);
  return { ops: received(), seconds: (performance.now() - start) / 1000 };
}

/** CPU time of a process in ms from /proc (Linux); NaN elsewhere. */
function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks, USER_HZ = 100
  } catch {
    return Number.NaN;
  }
}

function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

function fmt(x: number, digits = 0): string {
  return Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits }) : '—';
}

function spread(values: number[], digits = 0): string {
  const v = values.filter(Number.isFinite);
  if (v.length < 2) return fmt(median(v), digits);
  return `${fmt(median(v), digits)} [${fmt(Math.min(...v), digits)}–${fmt(Math.max(...v), digits)}]`;
}

/** Builds the Markdown tables of the results. */
function renderTable(rows: BenchRow[], concurrency: number): string {
  const get = (m: BenchMeasurement, v: BenchRow['variant']) => rows.find((r) => r.measurement === m && r.variant === v);
  const labels: Array<[BenchMeasurement, string]> = [
    ['publish-sequential', 'publications, sequential (await each)'],
    ['publish-concurrent', `publications, concurrent (${concurrency} in flight, one connection)`],
    ['publish-autopipelined', `publications, concurrent, auto-pipelining client`],
    ['delivery', 'subscriber deliveries (concurrent publishing)'],
  ];
  const rates = labels.map(([m, label]) => {
    const plain = get(m, 'plain');
    const tp = get(m, 'taskpulse');
    // Ratios per repetition (the two variants ran back to back), so drift between repetitions cancels.
    const ratios = plain && tp ? tp.perSecond.map((x, i) => x / (plain.perSecond[i] as number)) : [];
    const ratio = ratios.length ? `${spread(ratios.map((r) => r * 100))} %` : '—';
    return `| ${label} | ${plain ? spread(plain.perSecond) : '—'} | ${tp ? spread(tp.perSecond) : '—'} | ${ratio} |`;
  });
  const cpu = labels.map(([m, label]) => {
    const plain = get(m, 'plain');
    const tp = get(m, 'taskpulse');
    const cell = (row: BenchRow | undefined) =>
      row ? `${fmt(median(row.redisCpuUs), 1)} + ${fmt(median(row.nodeCpuUs), 1)}` : '—';
    return `| ${label} | ${cell(plain)} | ${cell(tp)} |`;
  });
  return [
    '| per second: median [min–max] | plain PUBLISH | taskpulse publish | taskpulse ÷ plain, per repetition |',
    '| --- | ---: | ---: | ---: |',
    ...rates,
    '',
    '| CPU µs per operation (median): redis-server + node | plain PUBLISH | taskpulse publish |',
    '| --- | ---: | ---: |',
    ...cpu,
  ].join('\n');
}

/** The latency table: median [min–max] of the repetitions' p50 and p99. */
function renderLatency(latency: LatencyRow[]): string {
  const cells = (v: BenchRow['variant']) => {
    const row = latency.find((r) => r.variant === v);
    return row ? `${spread(row.p50Us)} | ${spread(row.p99Us)}` : '— | —';
  };
  return [
    `| publish call → pub/sub subscriber, ${PACED_RATE} publications/s | p50 µs | p99 µs |`,
    '| --- | ---: | ---: |',
    `| plain PUBLISH | ${cells('plain')} |`,
    `| taskpulse publish | ${cells('taskpulse')} |`,
  ].join('\n');
}

/**
 * Measures publish and delivery throughput, taskpulse vs plain PUBLISH, on one Redis connection
 * each. Bounded: about `10 × reps × durationMs` plus setup (≈ 50 s with the defaults).
 */
export async function runRedisPublishBench(options: RedisPublishBenchOptions = {}): Promise<RedisPublishBenchResult> {
  const durationMs = options.durationMs ?? 1500;
  const reps = options.reps ?? 3;
  const window = options.concurrency ?? 64;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const server: RedisServer | null = options.redisUrl ? null : await startRedis();
  const url = options.redisUrl ?? (server as RedisServer).url;
  const prefix = `${uniqueId('bench')}:`;
  const client = new Redis(url);
  const piped = new Redis(url, { enableAutoPipelining: true });
  const subClient = new Redis(url);
  const namespaces = { task: {} };
  const publisher = createPublisher({ redis: client, prefix, namespaces });
  const pipedPublisher = createPublisher({ redis: piped, prefix, namespaces });
  const subscriber = createSubscriber({ redis: client, prefix, namespaces });
  const rows = new Map<string, BenchRow>();
  const latency = new Map<BenchRow['variant'], LatencyRow>();
  try {
    const info = await client.info('server');
    const redisPid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    const measure = async (m: BenchMeasurement, variant: BenchRow['variant'], run: () => Promise<Outcome>) => {
      const redis0 = processCpuMs(redisPid);
      const node0 = process.cpuUsage();
      const outcome = await run();
      const node = process.cpuUsage(node0);
      const row = rows.get(`${m}/${variant}`) ?? {
        measurement: m,
        variant,
        perSecond: [],
        redisCpuUs: [],
        nodeCpuUs: [],
      };
      rows.set(`${m}/${variant}`, row);
      row.perSecond.push(outcome.ops / outcome.seconds);
      row.redisCpuUs.push(((processCpuMs(redisPid) - redis0) * 1000) / outcome.ops);
      row.nodeCpuUs.push((node.user + node.system) / outcome.ops);
      log(
        `  ${m.padEnd(21)} ${variant.padEnd(9)} ${fmt(outcome.ops / outcome.seconds)}/s, CPU µs/op redis ` +
          `${fmt(row.redisCpuUs[row.redisCpuUs.length - 1] as number, 1)} node ${fmt(row.nodeCpuUs[row.nodeCpuUs.length - 1] as number, 1)}`,
      );
    };

    const payloadBytes = Buffer.byteLength(plainPayload(1));
    log(`redis-publish bench: ${url}, ${reps} × ${durationMs} ms per measurement, payload ${payloadBytes} bytes`);
    // Warm-up: script cached on the server, connections established, JIT warm.
    await sequential(300, (i) => publisher.publish('task:warmup', 'progress', progressData(i)));
    await sequential(300, (i) => client.publish('plain:warmup', plainPayload(i)));
    await concurrent(300, window, (i) => pipedPublisher.publish('task:warmup', 'progress', progressData(i)));

    for (let rep = 1; rep <= reps; rep++) {
      log(`rep ${rep}/${reps}`);
      // Alternate the order per repetition so drift does not favour one variant.
      const pair = async (m: BenchMeasurement, plain: () => Promise<Outcome>, tp: () => Promise<Outcome>) => {
        const order: Array<[BenchRow['variant'], () => Promise<Outcome>]> = [
          ['plain', plain],
          ['taskpulse', tp],
        ];
        if (rep % 2 === 0) order.reverse();
        for (const [variant, run] of order) await measure(m, variant, run);
      };
      const ch = `task:${uniqueId()}`;
      await pair(
        'publish-sequential',
        () => sequential(durationMs, (i) => client.publish(`${prefix}plain-seq`, plainPayload(i))),
        () => sequential(durationMs, (i) => publisher.publish(`${ch}-seq`, 'progress', progressData(i))),
      );
      await pair(
        'publish-concurrent',
        () => concurrent(durationMs, window, (i) => client.publish(`${prefix}plain-conc`, plainPayload(i))),
        () => concurrent(durationMs, window, (i) => publisher.publish(`${ch}-conc`, 'progress', progressData(i))),
      );
      await pair(
        'publish-autopipelined',
        () => concurrent(durationMs, window, (i) => piped.publish(`${prefix}plain-pipe`, plainPayload(i))),
        () => concurrent(durationMs, window, (i) => pipedPublisher.publish(`${ch}-pipe`, 'progress', progressData(i))),
      );
      // Latency at the fan-out benchmark's publication rate: what the publish path adds before a
      // hub (any subscriber of the pub/sub channel) can see a publication.
      const plainLatency = `${prefix}plain-latency-${rep}`;
      const taskpulseLatency = `${ch}-latency`;
      const latencyPair: Array<[BenchRow['variant'], () => Promise<number[]>]> = [
        [
          'plain',
          () => paced(subClient, plainLatency, durationMs, (i, t) => client.publish(plainLatency, plainPayload(i, t))),
        ],
        [
          'taskpulse',
          // The raw pub/sub channel, as a hub's subscriber connection receives it.
          () =>
            paced(subClient, channelKeys(prefix, taskpulseLatency).pubsub, durationMs, (i, t) =>
              publisher.publish(taskpulseLatency, 'progress', progressData(i, t)),
            ),
        ],
      ];
      if (rep % 2 === 0) latencyPair.reverse();
      for (const [variant, run] of latencyPair) {
        const sorted = await run();
        if (sorted.length === 0) throw new Error(`latency (${variant}): no publication reached the subscriber`);
        const p50 = percentile(sorted, 0.5);
        const p99 = percentile(sorted, 0.99);
        const row = latency.get(variant) ?? { variant, p50Us: [], p99Us: [] };
        latency.set(variant, row);
        row.p50Us.push(p50);
        row.p99Us.push(p99);
        log(
          `  latency @${PACED_RATE}/s     ${variant.padEnd(9)} p50 ${fmt(p50)} µs, p99 ${fmt(p99)} µs (${sorted.length} received)`,
        );
      }
      await pair(
        'delivery',
        async () => {
          // The floor: SUBSCRIBE and JSON.parse each message, nothing else.
          const channel = `${prefix}plain-deliver-${rep}`;
          let got = 0;
          const onMessage = (c: string, message: string) => {
            if (c === channel && JSON.parse(message)) got++;
          };
          subClient.on('message', onMessage);
          await subClient.subscribe(channel);
          const outcome = await delivery(
            durationMs,
            window,
            (i) => client.publish(channel, plainPayload(i)),
            () => got,
          );
          await subClient.unsubscribe(channel);
          subClient.off('message', onMessage);
          return outcome;
        },
        async () => {
          const channel = `${ch}-deliver`;
          let got = 0;
          const sub = await subscriber.subscribe(channel, { onPublication: () => got++ });
          const publish = (i: number) => publisher.publish(channel, 'progress', progressData(i));
          const outcome = await delivery(durationMs, window, publish, () => got);
          await sub.unsubscribe();
          return outcome;
        },
      );
    }
    const all = [...rows.values()];
    const latencyRows = [...latency.values()];
    return {
      rows: all,
      latency: latencyRows,
      table: `${renderTable(all, window)}\n\n${renderLatency(latencyRows)}`,
      payloadBytes,
    };
  } finally {
    await subscriber.close();
    await publisher.close();
    await pipedPublisher.close();
    client.disconnect();
    piped.disconnect();
    subClient.disconnect();
    await server?.stop();
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const quick = process.argv.includes('--quick');
  const hardStop = setTimeout(() => {
    process.stderr.write('redis-publish bench: exceeded 120 s, stopping\n');
    process.exit(1);
  }, 120_000);
  hardStop.unref();
  runRedisPublishBench(quick ? { durationMs: 500, reps: 1 } : {}).then(
    (result) => {
      process.stdout.write(`\n${result.table}\n\nnode ${process.version}, payload ${result.payloadBytes} bytes\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`redis-publish bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}
