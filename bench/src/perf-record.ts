/**
 * `--perf`: Linux perf sampling a server during a measured window. The kernel samples the process
 * on a `cpu-clock` timer only while it runs, so, unlike V8's profiler (`--profile`, a thread in the
 * process that wakes it every millisecond), it does not keep a process warm between publications.
 * User and kernel code alike; JavaScript is named through the perf map that `--perf-basic-prof`
 * makes node write (`/tmp/perf-<pid>.map`), which perf reads by itself.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import type { HotFunction } from './children/window-profiler';
import { codeKind } from './code-kind';

/** Sampling frequency (Hz): a sample per ~200 µs of CPU. */
export const PERF_FREQUENCY = 4999;

/** Node flags of a server sampled by perf: the perf map, and code that stays where it was logged. */
export const PERF_NODE_FLAGS: readonly string[] = [
  '--perf-basic-prof',
  '--no-compact-code-space',
  // the perf map is all that is needed: V8's own log (isolate-*.log in the working directory) is not
  '--logfile=/dev/null',
];

/** Throws, naming what to install, when `perf record` cannot sample here. */
export function checkPerf(): void {
  const probe = spawnSync('perf', ['record', '-q', '-e', 'cpu-clock', '-o', '/dev/null', '--', 'true'], {
    encoding: 'utf8',
  });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `--perf needs Linux perf that can sample cpu-clock (apt-get install -y linux-perf): ${probe.error?.message ?? probe.stderr}`,
    );
  }
}

/** A running `perf record` of some processes. */
export class PerfRecording {
  readonly #proc: ChildProcess;
  readonly #file: string;
  readonly #exited: Promise<void>;

  /**
   * @param pids - the processes to sample
   * @param file - where perf writes its data
   */
  constructor(pids: number[], file: string) {
    this.#file = file;
    this.#proc = spawn(
      'perf',
      // with call chains (V8 keeps frame pointers): `perf report -i <file> -G` shows who called what
      ['record', '-q', '-e', 'cpu-clock', '-F', String(PERF_FREQUENCY), '-g', '-p', pids.join(','), '-o', file],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.#exited = new Promise((resolve) => this.#proc.once('exit', () => resolve()));
  }

  /**
   * Stops sampling (perf writes its data on SIGINT) and returns the symbols with the most samples:
   * `where` is `symbol [object]` (`[kernel.kallsyms]` for the kernel), `selfMs` the CPU time the
   * samples stand for.
   */
  async stop(top = 25): Promise<PerfProfile> {
    this.#proc.kill('SIGINT');
    await this.#exited;
    const text = execFileSync('perf', ['script', '-i', this.#file, '-G', '-F', 'ip,sym,dso'], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return perfProfile(text, top);
  }
}

/** What a perf recording found. */
export interface PerfProfile {
  /** The symbols with the most samples. */
  hot: HotFunction[];
  /** Samples by kind of code ({@link codeKind}). */
  kinds: HotFunction[];
}

/**
 * The symbols with the most samples in `perf script -F ip,sym,dso` output (one sample per line:
 * address, symbol, `(object)`).
 */
export function perfProfile(script: string, top: number): PerfProfile {
  const counts = new Map<string, number>();
  const kinds = new Map<string, number>();
  let total = 0;
  for (const line of script.split('\n')) {
    const m = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
    if (!m) continue;
    // `sym+0x12` → `sym`; JIT code keeps the perf map's name (`JS:*fn file:line:col`)
    const symbol = (m[1] as string).replace(/\+0x[0-9a-f]+$/, '');
    const object = (m[2] as string).replace(/^.*\//, '');
    const where = `${symbol} [${object}]`;
    counts.set(where, (counts.get(where) ?? 0) + 1);
    const kind = codeKind(symbol, object);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    total++;
  }
  const msPerSample = 1000 / PERF_FREQUENCY;
  const list = (map: Map<string, number>, n: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([where, count]) => ({ where, selfMs: count * msPerSample, share: total > 0 ? count / total : 0 }));
  return { hot: list(counts, top), kinds: list(kinds, kinds.size) };
}
