/**
 * Instructions per delivery, counted by callgrind: a figure that does not depend on what else the
 * machine is doing, where wall-clock CPU on a shared machine cannot resolve a few percent
 * (`docs/benchmarks.md`). V8 still makes it vary between runs (by 10–20 % here): when its
 * background compiler installs optimized code decides how much runs in slower tiers.
 *
 * For each server (bare ws and taskpulse by default), one process under
 * `valgrind --tool=callgrind --instr-atstart=no`, clients on channels of `--clients-per-channel`,
 * publications at `--rate` a second (slow enough for a server under valgrind to keep up, so each
 * publication is a turn of its own, as at 200/s without valgrind). Counting is switched on after
 * `--warmup` publications, for `--publications` more; the table gives user-space instructions per
 * delivery, the share of V8's optimizing compiler (its background thread counts in the process's
 * CPU too), and the rest. Needs valgrind (`apt-get install -y valgrind`).
 *
 * `--functions N` also prints, per server, where the instructions went: by kind of code
 * (JavaScript by V8 tier, V8's compilers, builtins, runtime, Node, OpenSSL…) and the N functions
 * with the most, JavaScript ones named through the perf map of `--perf-basic-prof`
 * (`callgrind-functions.ts`). `--node-flags` passes more flags to the server's node; `--keep DIR`
 * keeps the dumps and perf maps there.
 *
 *   node --import tsx bench/src/instructions.ts [--variants ws,taskpulse] [--clients 200]
 *     [--clients-per-channel 50] [--warmup 1500] [--publications 200] [--rate 10]
 *     [--functions 30] [--node-flags '--no-concurrent-recompilation'] [--keep DIR]
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startRedis } from '@taskpulse/testkit';
import WebSocket from 'ws';
import { type FunctionCost, functionCostsOf } from './callgrind-functions';
import { DIALECTS, type DialectContext, newBenchClient } from './loadgen/dialects';
import { makePayload, scanTimestamps, scanTimestampsText } from './payload';
import { PERF_NODE_FLAGS } from './perf-record';
import { sleep } from './scenarios/context';
import { loadVariant } from './servers/index';
import { VARIANTS, type VariantName } from './servers/types';
import { NODE_CONDITIONS } from './spawn';

const { values } = parseArgs({
  options: {
    variants: { type: 'string', default: 'ws,taskpulse' },
    clients: { type: 'string', default: '200' },
    'clients-per-channel': { type: 'string', default: '50' },
    warmup: { type: 'string', default: '1500' },
    publications: { type: 'string', default: '200' },
    rate: { type: 'string', default: '10' },
    functions: { type: 'string' },
    'node-flags': { type: 'string', default: '' },
    keep: { type: 'string' },
  },
});
const variants = (values.variants as string).split(',') as VariantName[];
const clients = Number(values.clients);
const perChannel = Number(values['clients-per-channel']);
const warmup = Number(values.warmup);
const measured = Number(values.publications);
const rate = Number(values.rate);
const functions = values.functions === undefined ? 0 : Number(values.functions);
if (!Number.isSafeInteger(functions) || functions < 0) throw new Error('--functions takes a count');
const nodeFlags = (values['node-flags'] as string).split(' ').filter((f) => f !== '');
// generated code named by address needs the perf map, and code that does not move (perf-record.ts)
if (functions > 0) nodeFlags.push(...PERF_NODE_FLAGS);
for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v} (${VARIANTS.join(', ')})`);
if (![clients, perChannel, warmup, measured, rate].every((n) => Number.isSafeInteger(n) && n > 0)) {
  throw new Error('--clients, --clients-per-channel, --warmup, --publications and --rate take positive integers');
}
if (clients % perChannel !== 0) throw new Error('--clients must be a multiple of --clients-per-channel');
for (const tool of ['valgrind', 'callgrind_control', 'callgrind_annotate']) {
  if (spawnSync(tool, ['--help'], { stdio: 'ignore' }).error) {
    throw new Error(`${tool} not found: install valgrind (apt-get install -y valgrind)`);
  }
}

const SRC_DIR = dirname(fileURLToPath(import.meta.url));

interface Row {
  variant: VariantName;
  deliveries: number;
  total: number;
  compiling: number;
  /** Self cost by function (with `--functions`). */
  costs: FunctionCost[];
}

/** The server under callgrind, once it printed its address. */
async function startUnderCallgrind(variant: VariantName, redisUrl: string, out: string) {
  const proc = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      // V8 writes its code at run time
      '--smc-check=all-non-file',
      `--callgrind-out-file=${out}`,
      process.execPath,
      ...nodeFlags,
      ...NODE_CONDITIONS,
      '--import',
      'tsx',
      join(SRC_DIR, 'children/instructions-server.ts'),
      variant,
      redisUrl,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  proc.stderr?.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const address = await new Promise<{ port: number; path: string }>((resolve, reject) => {
    let text = '';
    proc.stdout?.on('data', (d) => {
      text += d;
      const m = /@@READY (.*)\n/.exec(text);
      if (m) resolve(JSON.parse(m[1] as string));
    });
    proc.once('exit', (code) => reject(new Error(`${variant} under valgrind exited ${code}: ${stderr}`)));
  });
  return { proc, address };
}

function control(proc: ChildProcess, ...args: string[]): void {
  execFileSync('callgrind_control', [...args, String(proc.pid)], { stdio: 'ignore' });
}

async function measure(variant: VariantName, redisUrl: string, dir: string): Promise<Row> {
  const out = join(dir, `${variant}.out`);
  const { proc, address } = await startUnderCallgrind(variant, redisUrl, out);
  const dialect = DIALECTS[variant];
  const channels = Array.from({ length: clients / perChannel }, (_, i) => `bench:instr-${variant}-c${i}`);
  let delivered = 0;
  let readyCount = 0;
  // a batch frame carries several publications: every payload timestamp is a delivery
  const count = () => {
    delivered++;
  };
  const ctx: DialectContext = {
    deliveries: (frame) => {
      scanTimestamps(frame, count);
    },
    deliveriesText: (frame) => {
      scanTimestampsText(frame, count);
    },
    ready: (client) => {
      if (!client.ready) {
        client.ready = true;
        readyCount++;
      }
    },
    tracking: false,
    publication: () => {},
    subscribed: () => {},
    error: (_client, message) => {
      throw new Error(`${variant}: error frame ${message}`);
    },
  };
  const sockets: WebSocket[] = [];
  for (let i = 0; i < clients; i++) {
    const ch = [channels[i % channels.length] as string];
    const ws = new WebSocket(dialect.url(address.port, address.path, ch), { perMessageDeflate: false });
    const client = newBenchClient(ch, ws);
    ws.on('open', () => dialect.onOpen(client, ctx));
    ws.on('message', (data: Buffer) => dialect.onMessage(client, data, ctx));
    ws.on('error', (error) => {
      throw new Error(`${variant}: client error ${error.message}`);
    });
    sockets.push(ws);
  }
  for (const deadline = Date.now() + 300_000; readyCount < clients; await sleep(50)) {
    if (Date.now() > deadline) throw new Error(`${variant}: ${readyCount} of ${clients} clients ready`);
  }
  const publisher = await (await loadVariant(variant)).createPublisher({ redisUrl, historySize: 1_000 });
  let seq = 0;
  const publish = async (count: number) => {
    const target = delivered + count * perChannel;
    const start = Date.now();
    for (let i = 0; i < count; i++) {
      const wait = start + (i * 1000) / rate - Date.now();
      if (wait > 0) await sleep(wait);
      seq++;
      await publisher.publish(channels[seq % channels.length] as string, makePayload(seq));
    }
    for (const deadline = Date.now() + 60_000; delivered < target; await sleep(20)) {
      if (Date.now() > deadline) throw new Error(`${variant}: ${delivered} of ${target} deliveries`);
    }
  };
  process.stderr.write(`${variant}: ${clients} clients ready; ${warmup} warm-up publications at ${rate}/s\n`);
  await publish(warmup);
  control(proc, '-i', 'on');
  control(proc, '-z');
  const before = delivered;
  await publish(measured);
  control(proc, '-d');
  const deliveries = delivered - before;
  await publisher.close();
  for (const ws of sockets) ws.terminate();
  proc.kill('SIGKILL');
  await new Promise((r) => proc.once('exit', r));
  // the dump of `-d` is `<out>.1` (callgrind numbers each dump)
  const dump = readdirSync(dir)
    .filter((f) => f.startsWith(`${variant}.out.`))
    .map((f) => join(dir, f))
    .sort()[0];
  if (!dump) throw new Error(`${variant}: callgrind wrote no dump`);
  const annotated = execFileSync('callgrind_annotate', ['--inclusive=yes', dump], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  const number = (line: string | undefined) => Number((line ?? '').trim().split(/\s+/)[0]?.replace(/,/g, '') ?? NaN);
  const total = number(annotated.split('\n').find((l) => l.includes('PROGRAM TOTALS')));
  const compiling = number(
    annotated.split('\n').find((l) => l.includes('OptimizingCompileDispatcher::CompileTask::RunInternal')),
  );
  // the process's perf map (valgrind runs node in its own process: the same pid)
  const perfMap = `/tmp/perf-${proc.pid}.map`;
  let costs: FunctionCost[] = [];
  if (functions > 0) {
    if (!existsSync(perfMap)) throw new Error(`${variant}: node wrote no perf map (${perfMap})`);
    costs = functionCostsOf(dump, perfMap);
  }
  if (values.keep !== undefined) {
    mkdirSync(values.keep, { recursive: true });
    copyFileSync(dump, join(values.keep, `${variant}.callgrind.out`));
    if (existsSync(perfMap)) copyFileSync(perfMap, join(values.keep, `${variant}.perf.map`));
  }
  rmSync(perfMap, { force: true });
  return { variant, deliveries, total, compiling: Number.isFinite(compiling) ? compiling : 0, costs };
}

const redis = await startRedis();
const dir = mkdtempSync(join(tmpdir(), 'taskpulse-instructions-'));
const rows: Row[] = [];
try {
  for (const variant of variants) rows.push(await measure(variant, redis.url, dir));
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}

const f = (n: number) => Math.round(n).toLocaleString('en-US');
process.stdout.write(
  `\n#### User-space instructions per delivery (callgrind; ${clients} clients, ${perChannel} per channel, ` +
    `${measured} publications at ${rate}/s after ${warmup})\n\n` +
    '| server | deliveries | instructions per delivery | of which V8 compiling | the rest |\n' +
    '| --- | --- | --- | --- | --- |\n',
);
for (const r of rows) {
  const per = r.total / r.deliveries;
  const comp = r.compiling / r.deliveries;
  process.stdout.write(`| ${r.variant} | ${f(r.deliveries)} | ${f(per)} | ${f(comp)} | ${f(per - comp)} |\n`);
}

if (functions > 0) {
  for (const r of rows) {
    const per = (n: number) => f(n / r.deliveries);
    const byKind = new Map<string, number>();
    for (const c of r.costs) byKind.set(c.kind, (byKind.get(c.kind) ?? 0) + c.self);
    process.stdout.write(
      `\n#### ${r.variant}: instructions per delivery by kind of code\n\n| kind | per delivery |\n| --- | ---: |\n`,
    );
    for (const [kind, n] of [...byKind].sort((a, b) => b[1] - a[1])) process.stdout.write(`| ${kind} | ${per(n)} |\n`);
    process.stdout.write(
      `\n#### ${r.variant}: the ${functions} functions with the most instructions (self, per delivery)\n\n` +
        '| function | kind | per delivery |\n| --- | --- | ---: |\n',
    );
    // file names relative to the repository
    const root = join(SRC_DIR, '../..');
    for (const c of [...r.costs].sort((a, b) => b.self - a.self).slice(0, functions)) {
      const short = c.name.replaceAll(`file://${root}/`, '').replaceAll(`${root}/`, '');
      const name = short.length > 110 ? `${short.slice(0, 107)}…` : short;
      process.stdout.write(`| \`${name.replace(/\|/g, '\\|').replace(/`/g, "'")}\` | ${c.kind} | ${per(c.self)} |\n`);
    }
  }
}
