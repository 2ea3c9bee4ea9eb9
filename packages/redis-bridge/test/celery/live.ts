import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { requirePythonModules } from '@taskpulse/testkit';

const APP_DIR = fileURLToPath(new URL('../fixtures/celery-app/', import.meta.url));

/** Settings of one Celery app. */
export interface CeleryAppEnv {
  brokerUrl: string;
  backendUrl?: string;
  transportOptions?: Record<string, unknown>;
}

function env(app: CeleryAppEnv, taskEvents = true): NodeJS.ProcessEnv {
  return {
    ...process.env,
    TP_TASK_EVENTS: taskEvents ? '1' : '0',
    PYTHONDONTWRITEBYTECODE: '1',
    TP_BROKER_URL: app.brokerUrl,
    TP_BACKEND_URL: app.backendUrl ?? app.brokerUrl,
    TP_TRANSPORT_OPTIONS: JSON.stringify(app.transportOptions ?? {}),
  };
}

/** Debian's python3 with celery and redis, or a failure naming the packages to install. */
export function celeryPython(): string {
  return requirePythonModules(['celery', 'redis']);
}

/** A real Celery worker process (`/usr/bin/python3 -m celery -A tp_app worker -E`). */
export interface CeleryWorkerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  log(): string;
  /** SIGTERM (warm shutdown: the worker sends worker-offline) and wait. */
  stop(): Promise<void>;
  /** SIGKILL the worker's process group (main process and pool children) and wait. */
  kill(): Promise<void>;
}

/** Starts a worker (with `-E` unless `taskEvents: false`) and waits until it logs `ready.` (about 1 s with mingle and gossip off). */
export async function startCeleryWorker(
  app: CeleryAppEnv,
  options: { name: string; concurrency?: number; timeoutMs?: number; taskEvents?: boolean },
): Promise<CeleryWorkerProcess> {
  const python = celeryPython();
  const child = spawn(
    python,
    [
      '-m',
      'celery',
      '-A',
      'tp_app',
      'worker',
      ...(options.taskEvents === false ? [] : ['-E']),
      '-l',
      'info',
      '-P',
      'prefork',
      '--concurrency',
      String(options.concurrency ?? 2),
      '-n',
      options.name,
      '--without-mingle',
      '--without-gossip',
    ],
    { cwd: APP_DIR, env: env(app, options.taskEvents ?? true), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let log = '';
  child.stdout?.on('data', (c: Buffer) => {
    log += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    log += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!/ready\./.test(log)) {
    if (child.exitCode !== null) throw new Error(`celery worker exited (${child.exitCode}):\n${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`celery worker not ready in time:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  return {
    name: options.name,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalGroup('SIGKILL');
      await exited;
    },
  };
}

/** The test's Celery client: sends tasks, revokes, inspects (through `driver.py`). */
export interface CeleryDriver {
  send(task: string, args?: unknown[], kwargs?: Record<string, unknown>, countdown?: number): Promise<string>;
  revoke(id: string, terminate?: boolean): Promise<void>;
  inspect(timeoutSeconds?: number): Promise<InspectResult>;
  close(): Promise<void>;
}

/** What `app.control.inspect()` answers, per worker. */
export interface InspectResult {
  active: Record<
    string,
    Array<{ id: string; name: string; args: unknown[]; kwargs: Record<string, unknown>; time_start: number }>
  >;
  scheduled: Record<string, Array<{ eta: string; request: { id: string; name: string } }>>;
  reserved: Record<string, Array<{ id: string; name: string }>>;
}

/** Starts the driver process. */
export function startCeleryDriver(app: CeleryAppEnv): CeleryDriver {
  const child = spawn(celeryPython(), ['driver.py'], { cwd: APP_DIR, env: env(app), stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const waiting: Array<(line: string) => void> = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) waiting.shift()?.(line);
  });
  let queue: Promise<unknown> = Promise.resolve();
  const call = <T>(cmd: Record<string, unknown>): Promise<T> => {
    const run = queue.then(
      () =>
        new Promise<T>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`driver timed out on ${cmd.op}: ${stderr}`)), 30_000);
          waiting.push((line) => {
            clearTimeout(timer);
            const reply = JSON.parse(line) as T & { error?: string };
            if (reply.error) reject(new Error(`driver ${cmd.op}: ${reply.error}`));
            else resolve(reply);
          });
          child.stdin?.write(`${JSON.stringify(cmd)}\n`);
        }),
    );
    queue = run.catch(() => {});
    return run;
  };
  return {
    async send(task, args = [], kwargs = {}, countdown) {
      return (await call<{ id: string }>({ op: 'send', task, args, kwargs, countdown: countdown ?? null })).id;
    },
    async revoke(id, terminate = false) {
      await call({ op: 'revoke', id, terminate });
    },
    inspect: (timeout = 2) => call<InspectResult>({ op: 'inspect', timeout }),
    async close() {
      child.stdin?.end();
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    },
  };
}
