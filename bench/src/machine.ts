/** Versions and machine facts recorded with every run (they go into docs/benchmarks.md). */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { type FdLimits, FROM_SOURCE } from './spawn';

const require = createRequire(import.meta.url);

function version(pkg: string): string {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

/** What ran, and where. */
export interface MachineInfo {
  node: string;
  ws: string;
  socketIo: string;
  redisAdapter: string;
  ioredis: string;
  redisServer: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  fdLimits: FdLimits;
  /** What the children ran of taskpulse: the built packages or their TypeScript sources. */
  taskpulseFrom?: 'dist' | 'source';
}

/** Collects versions and machine facts. */
export function machineInfo(fdLimits: FdLimits): MachineInfo {
  let redisServer = 'unknown';
  try {
    const out = execFileSync(process.env.REDIS_SERVER_BIN ?? 'redis-server', ['--version'], { encoding: 'utf8' });
    redisServer = /v=(\S+)/.exec(out)?.[1] ?? out.trim();
  } catch {
    // startRedis reports a missing binary with install instructions
  }
  return {
    node: process.version,
    ws: version('ws'),
    socketIo: version('socket.io'),
    redisAdapter: version('@socket.io/redis-adapter'),
    ioredis: version('ioredis'),
    redisServer,
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    fdLimits,
    taskpulseFrom: FROM_SOURCE ? 'source' : 'dist',
  };
}

/** One line per fact, for the console and the docs. */
export function describeMachine(m: MachineInfo): string {
  return [
    `node ${m.node}, ws ${m.ws}, socket.io ${m.socketIo} (+ @socket.io/redis-adapter ${m.redisAdapter}), ioredis ${m.ioredis}, redis-server ${m.redisServer}`,
    `taskpulse packages: ${m.taskpulseFrom === 'source' ? 'TypeScript sources through tsx (TASKPULSE_BENCH_FROM_SOURCE=1)' : m.taskpulseFrom === 'dist' ? 'the built dist/ (as installed)' : 'the TypeScript sources (runs before this line was recorded)'}`,
    `${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB RAM, ${m.kernel}, open files: soft ${m.fdLimits.soft} / hard ${m.fdLimits.hard}`,
  ].join('\n');
}
