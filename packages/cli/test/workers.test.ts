import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisServer, rawRedisCommand, startRedis } from '@taskpulse/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll, listening, type RunningCli, runCli, until } from './helpers/run-cli';
import { TestClient } from './helpers/ws-client';

describe('taskpulse-hub --workers 2', () => {
  const running: RunningCli[] = [];
  let redis: RedisServer;
  let dir: string;
  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'taskpulse-cli-workers-'));
  });
  afterEach(() => killAll(running));
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves on one port from two processes: connections land on both, both deliver, the bridge republishes once', async () => {
    const config = join(dir, 'hub.json');
    writeFileSync(
      config,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0, workers: 2 },
        redis: { url: redis.url, prefix: `w${Date.now()}:` },
        dialects: { 'processor-status': true },
        bridges: [
          {
            type: 'json',
            sourceChannel: 'processor:status:realtime',
            targetChannel: 'processor:status',
            event: 'status',
            schema: 'worker-status',
          },
        ],
      }),
    );
    const run = runCli(['--config', config]);
    running.push(run);
    const { port, line } = await listening(run, 60_000);
    expect(line).toMatch(/workers: 2\)/);

    // The primary round-robins connections: client ids carry the worker that took them.
    const clients: TestClient[] = [];
    for (let i = 0; i < 8; i++) clients.push(await TestClient.connect(`ws://127.0.0.1:${port}/taskpulse/ws`));
    const workers = new Set(clients.map((c) => /^w(\d+)-/.exec(c.welcome.clientId)?.[1]));
    expect([...workers].sort()).toEqual(['1', '2']);

    for (const c of clients) await c.subscribe('processor:status');
    const status = {
      running: true,
      workers: 1,
      queue_pending: 3,
      queue_retry: 0,
      queue_dead: 0,
      processed_total: 7,
      processed_today: 7,
      speed: 1,
      last_error: null,
    };
    // Only one of the two bridge runners holds the lease; publish until it is active.
    await until(async () => {
      await rawRedisCommand(redis.port, ['PUBLISH', 'processor:status:realtime', JSON.stringify(status)]);
      return clients.every((c) => c.publicationsOf('processor:status').length > 0);
    }, 'every client on both workers to receive the status');
    // Two hub processes run the bridge, but only the lease holder subscribes to the source channel.
    const numsub = await rawRedisCommand(redis.port, ['PUBSUB', 'NUMSUB', 'processor:status:realtime']);
    expect(numsub.replace(/\s+/g, ' ').trim()).toMatch(/processor:status:realtime :1$/);
    for (const c of clients) {
      expect(c.publicationsOf('processor:status').at(-1)?.data).toEqual(status);
      expect(c.violations).toEqual([]);
    }
    // Each publication was republished once: offsets seen by all clients are the same, without repeats.
    const offsets = clients[0]?.publicationsOf('processor:status').map((p) => p.offset) ?? [];
    expect(new Set(offsets).size).toBe(offsets.length);

    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    for (const c of clients) expect((await c.closed).code).toBe(1001);
  });

  it('takes connections from the moment it says it listens: every worker has reached Redis by then', async ({
    onTestFinished,
  }) => {
    // A hub answers 503 `unavailable` while its broker is not connected; a worker that listened
    // before its Redis connections were up refused the first clients the primary sent it. Redis
    // behind a proxy that holds each new connection for 500 ms makes that window wide.
    const sockets = new Set<Socket>();
    const proxy = createServer((socket) => {
      sockets.add(socket);
      socket.pause();
      setTimeout(() => {
        const upstream = connect(redis.port, '127.0.0.1');
        sockets.add(upstream);
        socket.pipe(upstream).pipe(socket);
        socket.resume();
        const end = () => {
          socket.destroy();
          upstream.destroy();
        };
        socket.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
      }, 500);
    });
    onTestFinished(() => {
      proxy.close();
      for (const socket of sockets) socket.destroy();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyPort = (proxy.address() as AddressInfo).port;
    const run = runCli([
      ...['--workers', '2', '--port', '0', '--host', '127.0.0.1'],
      ...['--redis-url', `redis://127.0.0.1:${proxyPort}`],
    ]);
    running.push(run);
    const { port } = await listening(run, 60_000);
    const outcomes = await Promise.all(
      Array.from({ length: 24 }, () =>
        TestClient.connect(`ws://127.0.0.1:${port}/taskpulse/ws`).then(
          (c) => `welcome ${/^w(\d+)-/.exec(c.welcome.clientId)?.[1]}`,
          (e: Error) => e.message,
        ),
      ),
    );
    expect(outcomes.filter((o) => !o.startsWith('welcome'))).toEqual([]);
    expect(new Set(outcomes)).toEqual(new Set(['welcome 1', 'welcome 2']));
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });

  it('refuses --workers 2 without Redis, naming the flag', async () => {
    const run = runCli(['--workers', '2', '--port', '0']);
    running.push(run);
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toMatch(/--workers: more than one worker needs Redis/);
  });
});
