/**
 * Runs `taskpulse-hub` from its sources in a child process, as a user would run the command.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The package directory. */
export const packageDir = fileURLToPath(new URL('../..', import.meta.url));
const cli = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

/** A running command. */
export interface RunningCli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** Starts the command with `args`; `env` is added to a clean environment for the hub's variables. */
export function runCli(args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, ['--conditions=@taskpulse/source', '--import', 'tsx', cli, ...args], {
    cwd: packageDir,
    env: {
      ...process.env,
      PORT: '',
      HOST: '',
      REDIS_URL: '',
      TASKPULSE_JWT_SECRET: '',
      TASKPULSE_CONFIG: '',
      TASKPULSE_WORKERS: '',
      TASKPULSE_OPS_API_KEY: '',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

/** Waits for the "listening on" line; returns the port and the line. */
export async function listening(run: RunningCli, timeoutMs = 30_000): Promise<{ port: number; line: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = /listening on http:\/\/127\.0\.0\.1:(\d+).*\n/.exec(run.stdout());
    if (match) return { port: Number(match[1]), line: match[0] };
    if (run.child.exitCode !== null) throw new Error(`cli exited with ${run.child.exitCode}: ${run.stderr()}`);
    if (Date.now() > deadline) throw new Error(`cli did not listen within ${timeoutMs} ms: ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Stops every command still running (SIGKILL) and waits for them. */
export async function killAll(running: RunningCli[]): Promise<void> {
  for (const r of running.splice(0)) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await r.exit;
  }
}

/** Polls until `condition` holds. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
