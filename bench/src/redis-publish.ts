/**
 * Publish throughput of `@taskpulse/redis-bridge` against a plain `PUBLISH` of the same payload
 * (the floor of overhead: one Redis command, no history), plus subscriber delivery throughput, on
 * a private redis-server on loopback. Besides rates, it reports CPU time per operation of the
 * redis-server process and of this Node process, which a busy machine disturbs far less than
 * wall-clock rates. Not a test: nothing here gates CI.
 *
 * Alone:  node --conditions=@taskpulse/source --import tsx bench/src/redis-publish.ts [--quick]
 * From a runner: `await runRedisPublishBench({ redisUrl, log })`.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createPublisher, createSubscriber } from '@taskpulse/redis-bridge';
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

/** Result of {@link runRedisPublishBench}. */
export interface RedisPublishBenchResult {
  rows: BenchRow[];
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
function progressData(i: number) {
  return {
    task_id: '8f2c9a41',
    progress: i % 101,
    message: `processing item ${i} of 1000`,
    step: 'transform',
    eta_s: 42,
  };
}

/** The text a taskpulse publication of that data has on the wire, for the plain PUBLISH baseline. */
function plainPayload(i: number): string {
  const publication = { channel: 'task:bench', offset: i, epoch: 'AbCdEfGhIjK', event: 'progress' };
  return JSON.stringify({ ...publication, data: progressData(i), ts: Date.now() });
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

/**
 * Measures publish and delivery throughput, taskpulse vs plain PUBLISH, on one Redis connection
 * each. Bounded: about `8 × reps × durationMs` plus setup (≈ 40 s with the defaults).
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
    return { rows: all, table: renderTable(all, window), payloadBytes };
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
