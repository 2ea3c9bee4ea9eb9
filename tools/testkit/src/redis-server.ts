import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { requireBinary } from './prereq';

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /** Port to listen on; a free one by default. Kept across restarts. */
  port?: number;
  /** Keep data across restarts with an append-only file (`appendfsync always`). */
  persistence?: boolean;
  /** Extra `redis-server` arguments, e.g. `['--cluster-enabled', 'yes']`. */
  args?: string[];
  /** How long to wait for the server to answer PING, in ms. @default 10000 */
  startTimeoutMs?: number;
}

/** A private redis-server process started for a test run. */
export interface RedisServer {
  /** 127.0.0.1 */
  readonly host: string;
  /** The TCP port. */
  readonly port: number;
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  /** The data directory (removed by {@link RedisServer.stop}). */
  readonly dir: string;
  /** Whether the process is running. */
  readonly running: boolean;
  /** Kills the process with SIGKILL (a crash) and waits for it to exit. Data on disk stays. */
  kill(): Promise<void>;
  /** Starts the process again on the same port and directory; waits until it answers PING. */
  restart(): Promise<void>;
  /** Stops the process and removes its directory. Idempotent. */
  stop(): Promise<void>;
  /** Sends one command with redis-cli semantics over a raw socket and returns the raw reply. */
  command(...args: string[]): Promise<string>;
}

function encodeCommand(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** Sends one RESP command and resolves with the first raw reply (enough for PING/FLUSHALL/CONFIG). */
export function rawRedisCommand(port: number, args: string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis on port ${port} did not answer ${args[0]} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      if (data.endsWith('\r\n')) {
        clearTimeout(timer);
        socket.end();
        resolve(data);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function waitForPing(port: number, timeoutMs: number, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with code ${proc.exitCode} before it was ready`);
    try {
      const reply = await rawRedisCommand(port, ['PING'], 500);
      if (reply.startsWith('+PONG')) return;
      lastError = new Error(reply);
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`redis-server on port ${port} not ready after ${timeoutMs} ms: ${String(lastError)}`);
}

/**
 * Starts a private `redis-server` on a free loopback port, with no persistence unless asked.
 * Fails with a message naming the apt package when `redis-server` is not installed.
 *
 * @example
 * ```ts
 * const redis = await startRedis({ persistence: true });
 * await redis.kill(); await redis.restart(); // a crash and a recovery
 * await redis.stop();
 * ```
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const bin = requireBinary(process.env.REDIS_SERVER_BIN ?? 'redis-server');
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'taskpulse-redis-'));
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--daemonize',
    'no',
    '--logfile',
    '',
    '--loglevel',
    'warning',
    '--appendonly',
    options.persistence ? 'yes' : 'no',
    ...(options.persistence ? ['--appendfsync', 'always'] : []),
    ...(options.args ?? []),
  ];
  let proc: ChildProcess | null = null;
  let stopped = false;

  const launch = async () => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-2000);
    });
    proc = child;
    try {
      await waitForPing(port, startTimeoutMs, child);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}\n${stderr}`);
    }
  };

  const exit = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      const child = proc;
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    });

  await launch();

  const server: RedisServer = {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get running() {
      const child = proc as ChildProcess | null;
      return !!child && child.exitCode === null && child.signalCode === null;
    },
    async kill() {
      await exit('SIGKILL');
    },
    async restart() {
      if (stopped) throw new Error('redis-server was stopped');
      await exit('SIGKILL');
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await exit('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
    command: (...cmd: string[]) => rawRedisCommand(port, cmd),
  };
  return server;
}
