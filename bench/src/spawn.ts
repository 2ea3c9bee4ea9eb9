/**
 * Spawning benchmark children: each runs a TypeScript entry through tsx, talks to the
 * orchestrator over IPC, and gets the file-descriptor limit it needs. The taskpulse packages they
 * import are the built ones (`dist/`, what users install; `npm run bench` builds them first), or
 * their TypeScript sources with `TASKPULSE_BENCH_FROM_SOURCE=1` (the `@taskpulse/source` export
 * condition; tsx then compiles the product too, adding its own per-call helpers to hot paths).
 *
 * File descriptors: a process holding N sockets needs N + ~100 descriptors. Children inherit the
 * orchestrator's limits (rlimits survive fork/exec), and Node itself raises its soft limit to the
 * hard one at start-up, so in practice the hard limit is what counts. Should the soft limit still
 * be too low (another runtime, a wrapper that lowers it), each child is started through
 * `/bin/sh -c 'ulimit -n X && exec node …'` so the limit is raised for it alone; when the hard
 * limit is too low, we fail with what to change.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildHandle } from './ipc';
import { descendantPids } from './proc-stats';

const SRC_DIR = dirname(fileURLToPath(import.meta.url));

/** Whether the children import the packages' TypeScript sources instead of their builds. */
export const FROM_SOURCE = process.env.TASKPULSE_BENCH_FROM_SOURCE === '1';
/** The node flags that make a child import what {@link FROM_SOURCE} says. */
export const NODE_CONDITIONS: readonly string[] = FROM_SOURCE ? ['--conditions=@taskpulse/source'] : [];
const live = new Set<ChildHandle>();
/** Commands without IPC (taskpulse-hub): killed with their descendants on exit. */
const liveCommands = new Set<ChildProcess>();

/** The shell's view of the fd limits (the numbers `ulimit -Sn` / `ulimit -Hn` print). */
export interface FdLimits {
  soft: number;
  hard: number;
}

function parseLimit(text: string): number {
  const t = text.trim();
  return t === 'unlimited' ? Number.POSITIVE_INFINITY : Number(t);
}

/** Reads the fd limits this process passes on to its children. */
export function readFdLimits(): FdLimits {
  const out = execFileSync('/bin/sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).split('\n');
  return { soft: parseLimit(out[0] ?? '0'), hard: parseLimit(out[1] ?? '0') };
}

/** How children get the descriptors they need: directly, or through a shell that raises the limit. */
export interface FdPlan {
  limits: FdLimits;
  /** The limit children will run with. */
  childLimit: number;
  /** Whether children are wrapped in `sh -c 'ulimit -n …'`. */
  raised: boolean;
}

/**
 * Decides how to give every child at least `needed` descriptors.
 * @throws when even the hard limit is below `needed`
 */
export function planFdLimit(needed: number): FdPlan {
  const limits = readFdLimits();
  if (limits.soft >= needed) return { limits, childLimit: limits.soft, raised: false };
  if (limits.hard >= needed) {
    const childLimit = Number.isFinite(limits.hard) ? limits.hard : needed;
    return { limits, childLimit, raised: true };
  }
  throw new Error(
    `the benchmark needs ${needed} file descriptors per process but the hard limit is ${limits.hard}: ` +
      'raise it (as root: `ulimit -Hn 65536` in the launching shell, or `nofile` in /etc/security/limits.conf, ' +
      'or LimitNOFILE= for a systemd unit), or run with smaller --sizes',
  );
}

/** Options of {@link spawnChild}. */
export interface SpawnChildOptions {
  /** A readable name for logs and errors. */
  name: string;
  /** The entry file, relative to `bench/src`. */
  entry: string;
  /** The fd plan from {@link planFdLimit}. */
  fd: FdPlan;
  /** Extra node flags (`--cpu-prof`, `--max-old-space-size=…`). */
  nodeFlags?: string[];
}

/** Starts a child with an IPC channel; it is killed when the orchestrator exits. */
export function spawnChild(options: SpawnChildOptions): ChildHandle {
  const nodeArgs = [
    ...NODE_CONDITIONS,
    '--import',
    'tsx',
    '--expose-gc',
    ...(options.nodeFlags ?? []),
    join(SRC_DIR, options.entry),
  ];
  const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc'];
  const proc = options.fd.raised
    ? // `exec` keeps the pid and the IPC descriptor (fd 3, not close-on-exec) for node
      spawn('/bin/sh', ['-c', `ulimit -n ${options.fd.childLimit} && exec "$0" "$@"`, process.execPath, ...nodeArgs], {
        stdio,
      })
    : spawn(process.execPath, nodeArgs, { stdio });
  const handle = new ChildHandle(options.name, proc);
  live.add(handle);
  handle.exitPromise.then(() => live.delete(handle));
  return handle;
}

/**
 * Starts a Node command without IPC (e.g. `taskpulse-hub`), with the same fd limit as the
 * benchmark children (and tsx with the source condition for a TypeScript entry, see
 * {@link FROM_SOURCE}); stdout and stderr are piped.
 * It and its descendants are killed when the orchestrator exits ({@link killTree}).
 */
export function spawnCommand(entry: string, args: string[], fd: FdPlan): ChildProcess {
  const nodeArgs = entry.endsWith('.ts') ? [...NODE_CONDITIONS, '--import', 'tsx', entry, ...args] : [entry, ...args];
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  const proc = fd.raised
    ? spawn('/bin/sh', ['-c', `ulimit -n ${fd.childLimit} && exec "$0" "$@"`, process.execPath, ...nodeArgs], {
        stdio,
      })
    : spawn(process.execPath, nodeArgs, { stdio });
  liveCommands.add(proc);
  proc.once('exit', () => liveCommands.delete(proc));
  return proc;
}

/** SIGKILLs a process started by {@link spawnCommand} and every descendant of it, by pid. */
export function killTree(proc: ChildProcess): void {
  const pid = proc.pid;
  if (pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  let pids: number[] = [];
  try {
    pids = descendantPids(pid);
  } catch {
    // no /proc: the workers exit when their primary's IPC channel closes
  }
  for (const p of [pid, ...pids]) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Kills every live child at once (exit and signal paths). Synchronous on purpose. */
export function killAllChildrenSync(): void {
  for (const proc of liveCommands) killTree(proc);
  for (const child of live) {
    try {
      child.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

process.once('exit', killAllChildrenSync);
