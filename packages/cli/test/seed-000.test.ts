import { fileURLToPath } from 'node:url';
import { type RedisServer, rawRedisCommand, startRedis } from '@taskpulse/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { killAll, listening, type RunningCli, runCli, until } from './helpers/run-cli';
import { TestClient } from './helpers/ws-client';

const config = fileURLToPath(new URL('./fixtures/seed-000.json', import.meta.url));

const status = (n: number, lastError: string | null = null) => ({
  running: true,
  workers: 2,
  queue_pending: 100 - n,
  queue_retry: 1,
  queue_dead: 0,
  processed_total: n,
  processed_today: n,
  speed: 1.5,
  last_error: lastError,
});

/** Seed 000's page as a Node WebSocket: every message is bare status JSON. */
function seedSocket(url: string): Promise<{ ws: WebSocket; messages: unknown[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const messages: unknown[] = [];
    ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
    ws.once('open', () => resolve({ ws, messages }));
    ws.once('error', reject);
  });
}

describe('taskpulse-hub serving seed 000 from a configuration file', () => {
  const running: RunningCli[] = [];
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(() => killAll(running));
  afterAll(() => redis?.stop());

  it('bridges processor:status:realtime to processor:status and serves /ws/processor-status and the HTTP load', async () => {
    const prefix = `s0${Date.now()}:`;
    const run = runCli(['--config', config, '--port', '0', '--redis-prefix', prefix], { REDIS_URL: redis.url });
    running.push(run);
    const { port, line } = await listening(run);
    expect(line).toMatch(/broker: redis, auth: anonymous, ops: open, dialects: processor-status, bridges: 1\)/);

    // Before the first status: the seed's initial load gets a 404, the socket stays open.
    expect((await fetch(`http://127.0.0.1:${port}/api/processor/status`)).status).toBe(404);
    const page = await seedSocket(`ws://127.0.0.1:${port}/ws/processor-status`);
    const native = await TestClient.connect(`ws://127.0.0.1:${port}/taskpulse/ws`);
    await native.subscribe('processor:status');

    // The worker publishes with plain PUBLISH, knowing nothing about taskpulse. The bridge's
    // lease is acquired shortly after start: publish until the first one comes through.
    const publish = (message: string) => rawRedisCommand(redis.port, ['PUBLISH', 'processor:status:realtime', message]);
    await until(async () => {
      await publish(JSON.stringify(status(1)));
      return page.messages.length > 0;
    }, 'the bridge to republish');
    expect(page.messages.at(-1)).toEqual(status(1));

    // Invalid JSON and a wrong-shaped status are rejected (logged with the reason); the next good one goes through.
    const before = page.messages.length;
    await publish('{not json');
    await publish(JSON.stringify({ ...status(2), queue_pending: -1 }));
    await publish(JSON.stringify(status(3, 'task 3 failed: boom')));
    await until(() => page.messages.length > before, 'the next valid status');
    expect(page.messages.slice(before)).toEqual([status(3, 'task 3 failed: boom')]);
    await until(() => (run.stderr().match(/invalid message/g) ?? []).length >= 2, 'two logged rejections');
    expect(run.stderr()).toMatch(/"level":"warn".*invalid message: not valid JSON/);
    expect(run.stderr()).toMatch(/"level":"warn".*invalid message: schema: queue_pending/);

    // The HTTP initial load and the native client see the same current status.
    const load = await fetch(`http://127.0.0.1:${port}/api/processor/status`);
    expect(load.status).toBe(200);
    expect(await load.json()).toEqual(status(3, 'task 3 failed: boom'));
    await native.waitUntil(() => native.publicationsOf('processor:status').at(-1)?.data !== undefined, 'status');
    await until(
      () =>
        JSON.stringify(native.publicationsOf('processor:status').at(-1)?.data) ===
        JSON.stringify(status(3, 'task 3 failed: boom')),
      'the native client to see the latest status',
    );
    page.ws.close();
    await native.close();
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });
});
