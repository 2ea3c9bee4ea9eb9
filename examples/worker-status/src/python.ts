/**
 * Runs the example's Python scripts (worker.py, producer.py) with Debian's python3.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The Python the scripts run on. @default TASKPULSE_PYTHON or /usr/bin/python3 */
export const PYTHON = process.env.TASKPULSE_PYTHON ?? '/usr/bin/python3';

/** Absolute paths of the scripts. */
export const SCRIPTS = {
  worker: fileURLToPath(new URL('../worker.py', import.meta.url)),
  producer: fileURLToPath(new URL('../producer.py', import.meta.url)),
} as const;

/**
 * A Python prologue that makes the script die with the process that started it: it asks Linux
 * (`prctl(PR_SET_PDEATHSIG, SIGTERM)`, kept across `exec`) to send SIGTERM when the parent dies,
 * even by SIGKILL, then runs the rest of its command line (after the parent's pid). Without it a hub killed with `kill -9`
 * leaves its worker publishing, and a restart adds a second one.
 */
export const DIE_WITH_PARENT = [
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

/** Python or python3-redis is missing. */
export class PythonMissingError extends Error {
  constructor(detail: string) {
    super(`${detail}: install them with "apt-get install python3 python3-redis" (or set TASKPULSE_PYTHON)`);
    this.name = 'PythonMissingError';
  }
}

/** Checks that {@link PYTHON} runs and imports `redis`. @throws {@link PythonMissingError} */
export function assertPythonRedis(python = PYTHON): void {
  try {
    execFileSync(python, ['-c', 'import redis'], { stdio: 'pipe' });
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new PythonMissingError(missing ? `${python} not found` : `${python} cannot import redis (python3-redis)`);
  }
}

/** A running script. */
export interface PythonProcess {
  /** The child process. */
  readonly child: ChildProcess;
  /** Everything it wrote on stdout so far. */
  stdout(): string;
  /** Everything it wrote on stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal) when it ends. */
  readonly exited: Promise<number | string | null>;
  /** Sends SIGTERM and waits for the exit (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<void>;
}

/** Options of {@link runPython}. */
export interface RunPythonOptions {
  /** Redis URL (passed as REDIS_URL). */
  redisUrl: string;
  /** Where its output also goes (e.g. `process.stderr`). @default kept only */
  echo?: NodeJS.WritableStream;
}

/** Starts `script` with `args`. */
export function runPython(script: keyof typeof SCRIPTS, args: string[], options: RunPythonOptions): PythonProcess {
  const child = spawn(PYTHON, ['-c', DIE_WITH_PARENT, String(process.pid), '-u', SCRIPTS[script], ...args], {
    env: { ...process.env, REDIS_URL: options.redisUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    options.echo?.write(chunk);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    options.echo?.write(chunk);
  });
  const exited = new Promise<number | string | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal));
    child.once('error', () => resolve(null));
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(timeoutMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
