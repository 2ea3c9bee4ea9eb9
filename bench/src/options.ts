/**
 * Command-line options of `npm run bench` and the three presets (full, --quick, --smoke).
 */
import { parseArgs } from 'node:util';
import { VARIANTS, type VariantName } from './servers/types';

/** All clients on one channel, or spread over many. */
export type Layout = 'one' | 'many';

/** An offered load in deliveries/s, or closed-loop maximum. */
export type Load = number | 'max';

/** The scenarios of a run. */
export type Scenario = 'fanout' | 'recovery' | 'http' | 'workers' | 'idle' | 'size';
const SCENARIOS: readonly Scenario[] = ['fanout', 'recovery', 'http', 'workers', 'idle', 'size'];

/** Everything a run needs to know. */
export interface BenchOptions {
  mode: 'full' | 'quick' | 'smoke';
  /** Which scenarios run. */
  scenarios: Scenario[];
  sizes: number[];
  layouts: Layout[];
  loads: Load[];
  variants: VariantName[];
  reps: number;
  warmupMs: number;
  /**
   * Before a fan-out cycle's first load: the closed loop, unmeasured, for this long, so that V8 has
   * optimized each server's per-publication code before any window (0: none).
   */
  jitWarmupMs: number;
  measureMs: number;
  loadgens: number;
  clientsPerChannel: number;
  /** Closed loop: deliveries outstanding at most. */
  windowDeliveries: number;
  connectConcurrency: number;
  heartbeatIntervalMs: number;
  recovery: {
    enabled: boolean;
    clients: number;
    publications: number;
    liveRate: number;
    timeoutMs: number;
    /** Reconnects spread over this long (0: all at once, the storm the goal is about). */
    spreadMs: number;
  };
  http: { enabled: boolean; clients: number; ssePath: string; pollPath: string; pollIntervalMs: number };
  /** `taskpulse-hub --workers 1` vs `--workers 2`: clients (on one channel) and offered loads. */
  workers: { enabled: boolean; clients: number; loads: Load[] };
  /** Idle connections: clients (50 per channel), the servers' heartbeat, one-second windows watched. */
  idle: { enabled: boolean; clients: number; heartbeatIntervalMs: number; windows: number };
  /** Write V8 CPU profiles of the servers to bench/results/profiles. */
  profile: boolean;
  /**
   * Sample the servers with Linux perf (`cpu-clock`, user and kernel) during each fan-out window,
   * JavaScript named through `--perf-basic-prof`; data in bench/results/profiles.
   */
  perf: boolean;
  /** Print the tables of a saved run (a bench/results/*.json file) instead of running. */
  report: string | null;
  outDir: string;
}

const HELP = `npm run bench [-- options]

  (default)          full run: N = 1000,5000,10000 × one/many channels × 10k/50k/max × 4 variants,
                     2 repetitions, + recovery 1000×1000, SSE/WS/polling, --workers 1 vs 2,
                     10,000 idle connections (< ~20 min)
  --quick            small N (200, 1000), 1 repetition, smaller recovery/HTTP/workers (< ~4 min)
  --smoke            N = 20, every scenario but recovery, ~1 min; exit 0 only if every server and
                     scenario delivered (for CI)
  --scenarios fanout,recovery,http,workers,idle,size   which scenarios run (default: all; size = browser
                     bundles, seconds)
  --sizes 1000,5000  connection counts
  --layouts one,many all clients on one channel / --clients-per-channel clients per channel
  --loads 10000,max  offered deliveries/s, or max (closed loop)
  --variants ws,ws-twin,ws-scripted,socketio,taskpulse,taskpulse-unverified   (ws-twin: a second,
                     identical bare ws server, for the resolution of the ratios; ws-scripted: bare ws
                     fed by taskpulse's publisher; taskpulse-unverified: verifyLiveMessages off)
  --reps 2           repetitions (variants interleaved, order rotated per repetition)
  --measure-ms 3000  measured window per load (after --warmup-ms)
  --jit-warmup-ms 2000   before a fan-out cycle's first load, the closed loop for this long,
                     unmeasured, so that V8 has optimized the server's per-publication code
                     (0: measure freshly started servers; smoke runs use 0)
  --loadgens 2       load-generator processes
  --no-recovery      skip the recovery scenario
  --recovery-clients 1000 --recovery-publications 1000   its size
  --recovery-spread-ms 0   reconnects spread over this long, as browsers' backoff jitter spreads them
                     (default 0: all at once)
  --no-http          skip the SSE/polling scenario
  --sse-path /taskpulse/sse --poll-path /taskpulse/poll   hub HTTP endpoints for the SSE/polling scenario
  --no-workers       skip taskpulse-hub --workers 1 vs 2
  --workers-clients 5000   its clients (one channel); its loads are 10k/s and max
  --no-idle          skip the idle-connections scenario
  --idle-clients 10000 --idle-heartbeat-ms 5000   its clients and the servers' heartbeat interval
  --profile          write V8 CPU profiles of the server processes to bench/results/profiles
  --perf             sample the servers with Linux perf (cpu-clock) in each fan-out window: unlike
                     --profile, no thread in the process wakes it (needs linux-perf)
  --report FILE      print the tables (and the Goals table) of a saved run (bench/results/*.json) again
`;

function list(value: string | undefined): string[] | undefined {
  return value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Parses `argv` (without node and script). Prints help and exits on `--help`. */
export function parseOptions(argv: string[], resultsDir: string): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean' },
      smoke: { type: 'boolean' },
      scenarios: { type: 'string' },
      sizes: { type: 'string' },
      layouts: { type: 'string' },
      loads: { type: 'string' },
      variants: { type: 'string' },
      reps: { type: 'string' },
      'warmup-ms': { type: 'string' },
      'jit-warmup-ms': { type: 'string' },
      'measure-ms': { type: 'string' },
      loadgens: { type: 'string' },
      'clients-per-channel': { type: 'string' },
      window: { type: 'string' },
      'no-recovery': { type: 'boolean' },
      'recovery-clients': { type: 'string' },
      'recovery-publications': { type: 'string' },
      'recovery-spread-ms': { type: 'string' },
      'no-http': { type: 'boolean' },
      'no-workers': { type: 'boolean' },
      'workers-clients': { type: 'string' },
      'no-idle': { type: 'boolean' },
      'idle-clients': { type: 'string' },
      'idle-heartbeat-ms': { type: 'string' },
      'sse-path': { type: 'string' },
      'poll-path': { type: 'string' },
      profile: { type: 'boolean' },
      perf: { type: 'boolean' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const preset: BenchOptions = {
    mode,
    scenarios: [...SCENARIOS],
    sizes: mode === 'full' ? [1000, 5000, 10_000] : mode === 'quick' ? [200, 1000] : [20],
    layouts: mode === 'smoke' ? ['one'] : ['one', 'many'],
    loads: mode === 'smoke' ? [2000] : [10_000, 50_000, 'max'],
    variants: [...VARIANTS],
    // 2 repetitions × 6 variants keep the full run near 20 min on 2 cores
    reps: mode === 'full' ? 2 : 1,
    warmupMs: mode === 'full' ? 400 : 250,
    // A fresh server runs code called once per publication in V8's baseline tier for seconds at
    // 200 publications a second (it is optimized after some thousands of calls); the closed loop
    // makes those calls within a second or two (docs/benchmarks.md, eighth session).
    jitWarmupMs: mode === 'smoke' ? 0 : 2000,
    // 3 s windows in the full run: at 10k/s on one channel a 2 s window holds 20 publications,
    // and repetitions differed by up to ±20 %
    measureMs: mode === 'full' ? 3000 : mode === 'quick' ? 1000 : 800,
    loadgens: 2,
    clientsPerChannel: 50,
    windowDeliveries: 20_000,
    connectConcurrency: 64,
    // Protocol pings stay out of the fan-out, recovery and HTTP windows (a cycle lasts ~20 s; a
    // taskpulse hub pings a new connection first after half to all of an interval): they are
    // not a cost per delivery, and bare ws sends none. The idle scenario measures them.
    heartbeatIntervalMs: 60_000,
    recovery: {
      enabled: mode !== 'smoke',
      clients: mode === 'full' ? 1000 : 200,
      publications: mode === 'full' ? 1000 : 200,
      liveRate: 100,
      timeoutMs: mode === 'full' ? 60_000 : 30_000,
      spreadMs: 0,
    },
    http: {
      enabled: true,
      clients: mode === 'full' ? 1000 : mode === 'quick' ? 200 : 20,
      ssePath: '/taskpulse/sse',
      pollPath: '/taskpulse/poll',
      // Four polls a second per client: enough requests per window that the fixed cost of a
      // process (timers, GC, the Redis subscriber) does not dominate the per-request figure.
      pollIntervalMs: 250,
    },
    workers: {
      enabled: true,
      clients: mode === 'full' ? 5000 : mode === 'quick' ? 1000 : 20,
      loads: mode === 'smoke' ? [2000] : [10_000, 'max'],
    },
    idle: {
      enabled: true,
      clients: mode === 'full' ? 10_000 : mode === 'quick' ? 1000 : 20,
      heartbeatIntervalMs: mode === 'smoke' ? 1000 : 5000,
      // two heartbeat intervals and a bit
      windows: mode === 'smoke' ? 2 : 12,
    },
    profile: false,
    perf: false,
    report: null,
    outDir: resultsDir,
  };
  const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));
  const opts: BenchOptions = {
    ...preset,
    scenarios: (list(values.scenarios) as Scenario[] | undefined) ?? preset.scenarios,
    sizes: list(values.sizes)?.map(Number) ?? preset.sizes,
    layouts: (list(values.layouts) as Layout[] | undefined) ?? preset.layouts,
    loads: list(values.loads)?.map((l) => (l === 'max' ? 'max' : Number(l))) ?? preset.loads,
    variants: (list(values.variants) as VariantName[] | undefined) ?? preset.variants,
    reps: num(values.reps, preset.reps),
    warmupMs: num(values['warmup-ms'], preset.warmupMs),
    jitWarmupMs: num(values['jit-warmup-ms'], preset.jitWarmupMs),
    measureMs: num(values['measure-ms'], preset.measureMs),
    loadgens: num(values.loadgens, preset.loadgens),
    clientsPerChannel: num(values['clients-per-channel'], preset.clientsPerChannel),
    windowDeliveries: num(values.window, preset.windowDeliveries),
    profile: values.profile ?? false,
    perf: values.perf ?? false,
    report: values.report ?? null,
  };
  if (values['no-recovery'] || !opts.scenarios.includes('recovery')) opts.recovery.enabled = false;
  opts.recovery.clients = num(values['recovery-clients'], opts.recovery.clients);
  opts.recovery.publications = num(values['recovery-publications'], opts.recovery.publications);
  opts.recovery.spreadMs = num(values['recovery-spread-ms'], opts.recovery.spreadMs);
  if (values['no-http'] || !opts.scenarios.includes('http')) opts.http.enabled = false;
  if (values['sse-path']) opts.http.ssePath = values['sse-path'];
  if (values['no-workers'] || !opts.scenarios.includes('workers')) opts.workers.enabled = false;
  opts.workers.clients = num(values['workers-clients'], opts.workers.clients);
  if (values['no-idle'] || !opts.scenarios.includes('idle')) opts.idle.enabled = false;
  opts.idle.clients = num(values['idle-clients'], opts.idle.clients);
  opts.idle.heartbeatIntervalMs = num(values['idle-heartbeat-ms'], opts.idle.heartbeatIntervalMs);
  if (values['poll-path']) opts.http.pollPath = values['poll-path'];
  validate(opts);
  return opts;
}

function validate(o: BenchOptions): void {
  const bad = (what: string) => {
    throw new Error(`bad option: ${what} (see npm run bench -- --help)`);
  };
  if (o.scenarios.some((x) => !SCENARIOS.includes(x))) bad(`--scenarios takes ${SCENARIOS.join(',')}`);
  if (o.sizes.some((n) => !Number.isInteger(n) || n < 1)) bad('--sizes must be positive integers');
  if (o.layouts.some((l) => l !== 'one' && l !== 'many')) bad('--layouts takes one,many');
  if (o.loads.some((l) => l !== 'max' && !(l > 0))) bad('--loads takes positive numbers or max');
  if (o.variants.some((v) => !VARIANTS.includes(v))) bad(`--variants takes ${VARIANTS.join(',')}`);
  if (!(o.reps >= 1)) bad('--reps must be ≥ 1');
  if (!(o.loadgens >= 1)) bad('--loadgens must be ≥ 1');
  if (!(o.clientsPerChannel >= 1)) bad('--clients-per-channel must be ≥ 1');
  if (!(o.measureMs > 0) || !(o.warmupMs >= 0)) bad('--measure-ms/--warmup-ms');
  if (!(o.jitWarmupMs >= 0)) bad('--jit-warmup-ms');
}
