/**
 * The example's Celery processes: a worker (`/usr/bin/python3 -m celery -A demo_tasks worker -E`)
 * and a sender for the page's buttons, both with Debian's python3-celery.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const APP_DIR = fileURLToPath(new URL('../celery_app/', import.meta.url));

/** The Python with Celery (Debian's `/usr/bin/python3` with `python3-celery`). */
export const PYTHON = process.env.CELERY_PYTHON ?? '/usr/bin/python3';

/** Python prologue: die (SIGTERM) with the parent process, then run the rest of the command line. */
const DIE_WITH_PARENT = [
  'import ctypes, os, signal, sys',
  'try:',
  '    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)',
  'except Exception:',
  '    pass',
  // The parent (its pid is the first argument) may have died before the request was made.
  'if os.getppid() != int(sys.argv[1]):',
  '    sys.exit(0)',
  'os.execv(sys.executable, [sys.executable] + sys.argv[2:])',
].join('\n');

/** Celery or its Python is missing; the message says what to install. */
export class CeleryMissingError extends Error {
  constructor(detail: string) {
    super(
      `${detail}: install Celery with "apt-get update && apt-get install -y python3-celery python3-redis" (or set CELERY_PYTHON)`,
    );
    this.name = 'CeleryMissingError';
  }
}

/** Checks that `PYTHON` can import celery and redis. @throws {@link CeleryMissingError} */
export function assertCelery(): void {
  try {
    execFileSync(PYTHON, ['-c', 'import celery, redis'], { stdio: 'pipe' });
  } catch {
    throw new CeleryMissingError(`${PYTHON} cannot import celery and redis`);
  }
}

function environment(brokerUrl: string, stepSeconds?: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PYTHONDONTWRITEBYTECODE: '1',
    CELERY_BROKER_URL: brokerUrl,
    ...(stepSeconds !== undefined ? { DEMO_STEP_SECONDS: String(stepSeconds) } : {}),
  };
}

/** A running Celery worker. */
export interface CeleryWorker {
  /** Its node name. */
  readonly name: string;
  /** Resolves once the worker logged `ready.`. */
  readonly ready: Promise<void>;
  /** SIGTERM (warm shutdown) and wait. */
  stop(): Promise<void>;
}

/** Starts a worker for `demo_tasks`. */
export function startWorker(options: {
  brokerUrl: string;
  name?: string;
  concurrency?: number;
  stepSeconds?: number;
  output?: NodeJS.WritableStream;
}): CeleryWorker {
  const name = options.name ?? `demo@${process.pid}`;
  const child: ChildProcess = spawn(
    PYTHON,
    [
      // Dies with this process even when it is killed with SIGKILL (PR_SET_PDEATHSIG): a
      // detached worker would otherwise outlive a crashed example and double up on restart.
      '-c',
      DIE_WITH_PARENT,
      String(process.pid),
      '-m',
      'celery',
      '-A',
      'demo_tasks',
      'worker',
      '-E',
      '-l',
      'info',
      '--concurrency',
      String(options.concurrency ?? 2),
    ].concat(['-n', name, '--without-mingle', '--without-gossip']),
    {
      cwd: APP_DIR,
      env: environment(options.brokerUrl, options.stepSeconds),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let log = '';
  let resolveReady: () => void = () => {};
  let rejectReady: (error: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  const onData = (chunk: Buffer) => {
    options.output?.write(chunk);
    if (log.length < 200_000) log += chunk.toString();
    if (/ready\./.test(log)) resolveReady();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => rejectReady(new Error(`the Celery worker exited:\n${log.slice(-2000)}`)));
  // Stopped before it was ready (e.g. the port was in use): nobody awaits `ready` any more, and the
  // rejection must not crash the process before the caller's own error is reported.
  ready.catch(() => {});
  return {
    name,
    ready,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Sends tasks through `sender.py`. */
export interface CelerySender {
  /** Sends a task and resolves with its id. */
  send(task: string, args: unknown[], countdown?: number): Promise<string>;
  /** Ends the sender. */
  stop(): Promise<void>;
}

/** Starts the sender process. */
export function startSender(brokerUrl: string): CelerySender {
  const child = spawn(PYTHON, ['-c', DIE_WITH_PARENT, String(process.pid), 'sender.py'], {
    cwd: APP_DIR,
    env: environment(brokerUrl),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    if (stderr.length < 20_000) stderr += c.toString();
  });
  const waiting: Array<(line: string) => void> = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) waiting.shift()?.(line);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let queue: Promise<unknown> = Promise.resolve();
  return {
    send(task, args, countdown) {
      const run = queue.then(
        () =>
          new Promise<string>((resolve, reject) => {
            if (child.exitCode !== null) {
              reject(new Error(`the Celery sender exited: ${stderr.slice(-500)}`));
              return;
            }
            const timer = setTimeout(() => reject(new Error('the Celery sender did not answer')), 15_000);
            waiting.push((line) => {
              clearTimeout(timer);
              const reply = JSON.parse(line) as { id?: string; error?: string };
              if (reply.id) resolve(reply.id);
              else reject(new Error(reply.error ?? 'no id'));
            });
            child.stdin?.write(`${JSON.stringify({ task, args, countdown: countdown ?? null })}\n`);
          }),
      );
      queue = run.catch(() => {});
      return run;
    },
    async stop() {
      child.stdin?.end();
      if (child.exitCode === null) await exited;
    },
  };
}
