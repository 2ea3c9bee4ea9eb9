import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type RedisServer, requirePythonModules, startRedis } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PythonProcess, runPython } from '../src/python';

const SEED_FIELDS = [
  'running',
  'workers',
  'queue_pending',
  'queue_retry',
  'queue_dead',
  'processed_total',
  'processed_today',
  'speed',
  'last_error',
];

type Status = Record<string, unknown>;

describe("worker.py: seed 000's worker on Debian's python3 with python3-redis", () => {
  let redis: RedisServer;
  let client: Redis;
  let sub: Redis;
  const statuses: Status[] = [];
  beforeAll(async () => {
    requirePythonModules(['redis']);
    redis = await startRedis();
    client = new Redis(redis.url);
    sub = new Redis(redis.url);
    client.on('error', () => {});
    sub.on('error', () => {});
    sub.on('message', (_channel, message) => statuses.push(JSON.parse(message) as Status));
    await sub.subscribe('processor:status:realtime');
  });
  afterAll(async () => {
    sub?.disconnect();
    client?.disconnect();
    await redis?.stop();
  });

  it('takes tasks from pending and retry, moves failures to retry and then dead, and publishes the nine fields after every task', async () => {
    const producer = runPython(
      'producer',
      ['--count', '9', '--rate', '0', '--fail-every', '3', '--dead-every', '4', '--duration-ms', '20'],
      { redisUrl: redis.url },
    );
    expect(await producer.exited).toBe(0);
    // 9 tasks: 3, 6, 9 fail once (then succeed); 4 and 8 always fail (dead after 2 attempts).
    expect(await client.llen('processor:queue:pending')).toBe(9);
    let worker: PythonProcess | undefined = runPython('worker', ['--workers', '1', '--max-attempts', '2', '--echo'], {
      redisUrl: redis.url,
    });
    try {
      // 9 first attempts + 3 retries that succeed + 2 retries that end dead = 14 tasks processed.
      await expect
        .poll(() => statuses.filter((s) => s.processed_total === 14).length, { timeout: 20_000 })
        .toBeGreaterThan(0);
      await worker.stop();
      expect(await worker.exited).toBe(0);
      const echoed = worker
        .stdout()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Status);
      worker = undefined;
      // Every published status has exactly seed 000's fields, with the right types.
      for (const s of statuses) {
        expect(Object.keys(s)).toEqual(SEED_FIELDS);
        expect(typeof s.running).toBe('boolean');
        for (const f of SEED_FIELDS.slice(1, 7)) expect(Number.isInteger(s[f])).toBe(true);
        expect(typeof s.speed).toBe('number');
        expect(s.last_error === null || typeof s.last_error === 'string').toBe(true);
      }
      // One publication per task: processed_total takes every value from 1 to 14.
      const totals = new Set(statuses.map((s) => s.processed_total));
      for (let n = 1; n <= 14; n++) expect(totals.has(n)).toBe(true);
      // What it published is what it echoed; the last one says it stopped.
      expect(statuses).toEqual(echoed);
      const last = statuses.at(-1) as Status;
      expect(last).toMatchObject({ running: false, workers: 1, queue_pending: 0, queue_retry: 0, queue_dead: 2 });
      expect(last.processed_total).toBe(14);
      expect(last.last_error).toMatch(/^task t-8 failed \(attempt 2\)/);
      // Queue lengths in the status are the lists' lengths.
      expect(await client.llen('processor:queue:dead')).toBe(2);
      const dead = (await client.lrange('processor:queue:dead', 0, -1)).map((t) => JSON.parse(t) as { id: string });
      expect(dead.map((t) => t.id).sort()).toEqual(['t-4', 't-8']);
      // A failure is visible while it is the latest: retry grows, last_error names the task.
      expect(
        statuses.some((s) => (s.queue_retry as number) > 0 && /failed \(attempt 1\)/.test(String(s.last_error))),
      ).toBe(true);
    } finally {
      await worker?.stop();
    }
  });

  it('keeps running while Redis is down and publishes again when it is back', async () => {
    statuses.length = 0;
    const worker = runPython('worker', ['--idle-publish', '0.3'], { redisUrl: redis.url });
    try {
      await expect.poll(() => statuses.length, { timeout: 10_000 }).toBeGreaterThan(0);
      await redis.kill();
      await new Promise((r) => setTimeout(r, 1500));
      expect(worker.child.exitCode).toBeNull();
      await redis.restart();
      await sub.subscribe('processor:status:realtime');
      await client.lpush('processor:queue:pending', JSON.stringify({ id: 'after', duration_ms: 10 }));
      await expect
        .poll(() => statuses.filter((s) => s.processed_total === 1).length, { timeout: 20_000 })
        .toBeGreaterThan(0);
    } finally {
      await worker.stop();
    }
    expect(worker.stderr()).toMatch(/redis unavailable, retrying in 1 s/);
  });
});

describe('a worker started by the example', () => {
  it('stops when the process that started it is killed with SIGKILL (no orphan keeps publishing)', async () => {
    requirePythonModules(['redis']);
    const redis = await startRedis();
    const fixture = fileURLToPath(new URL('./fixtures/run-worker-then-wait.ts', import.meta.url));
    const parent = spawn(process.execPath, ['--conditions=@taskpulse/source', '--import', 'tsx', fixture, redis.url], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const pid = await new Promise<number>((resolve, reject) => {
        let out = '';
        parent.stdout?.on('data', (c: Buffer) => {
          out += c.toString();
          const line = out.split('\n')[0];
          if (out.includes('\n') && line) resolve(Number(line));
        });
        parent.once('exit', (code) => reject(new Error(`fixture exited early (${code})`)));
      });
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      // The worker runs (it has published its status) before its parent is killed.
      const probe = new Redis(redis.url);
      probe.on('error', () => {});
      try {
        const published = new Promise<void>((resolve) => probe.once('message', () => resolve()));
        await probe.subscribe('processor:status:realtime');
        await published;
      } finally {
        probe.disconnect();
      }
      expect(alive()).toBe(true);
      parent.kill('SIGKILL');
      await expect
        .poll(alive, { timeout: 15_000, interval: 100 })
        .toBe(false)
        .catch((error: unknown) => {
          throw new Error(`${String(error)}; ${readProcStatus(pid)}`);
        });
    } finally {
      parent.kill('SIGKILL');
      await redis.stop();
    }
  }, 40_000);
});

/** The state line of /proc/PID/status, for a failure message. */
function readProcStatus(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .filter((l) => /^(State|PPid)/.test(l))
      .join(', ');
  } catch {
    return 'no /proc entry';
  }
}
