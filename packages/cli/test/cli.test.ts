import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedisBroker } from '@taskpulse/redis-bridge';
import { freePort, type RedisServer, startRedis } from '@taskpulse/testkit';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { killAll, listening, type RunningCli, runCli, until } from './helpers/run-cli';
import { TestClient } from './helpers/ws-client';

describe('taskpulse-hub command', () => {
  const running: RunningCli[] = [];
  let dir: string;
  let redis: RedisServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'taskpulse-cli-'));
    redis = await startRedis();
  });
  afterEach(() => killAll(running));
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints its help and exits 0; exits 2 on an unknown flag', async () => {
    const help = runCli(['--help']);
    expect(await help.exit).toBe(0);
    expect(help.stdout()).toMatch(/--config <file>/);
    expect(help.stdout()).toMatch(/--ops-api-key/);
    expect(help.stdout()).toMatch(/--workers/);
    const bad = runCli(['--nope']);
    expect(await bad.exit).toBe(2);
    expect(bad.stderr()).toMatch(/Unknown option '--nope'[\s\S]*--help/);
  });

  it('exits 2 naming the bad key of a configuration file, and --check validates one', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ server: { port: 3000 }, limits: { maxConection: 5 }, dialects: { x: true } }));
    const run = runCli(['--config', bad]);
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toContain(`invalid configuration in ${bad}:`);
    expect(run.stderr()).toContain('limits.maxConection: unknown key');
    expect(run.stderr()).toContain('dialects.x: unknown key');
    expect(run.stdout()).toBe('');

    const good = join(dir, 'good.json');
    writeFileSync(good, JSON.stringify({ dialects: { 'processor-status': true } }));
    const check = runCli(['--check'], { TASKPULSE_CONFIG: good });
    expect(await check.exit).toBe(0);
    expect(check.stdout()).toMatch(/^configuration OK: port 8080, broker memory, dialects \[processor-status\]/);
  });

  it('serves the native protocol with a namespaces file and exits 0 on SIGTERM, closing clients with 1001', async () => {
    const file = join(dir, 'namespaces.json');
    writeFileSync(file, JSON.stringify({ chat: { clientPublish: true }, task: {} }));
    const run = runCli(['--host', '127.0.0.1', '--namespaces', file], { PORT: '0' });
    running.push(run);
    const { port, line } = await listening(run);
    expect(line).toMatch(/ws:\/\/127\.0\.0\.1:\d+\/taskpulse\/ws, broker: memory, auth: anonymous, ops: open\)/);
    const a = await TestClient.connect(`ws://127.0.0.1:${port}/taskpulse/ws`);
    const b = await TestClient.connect(`ws://127.0.0.1:${port}/taskpulse/ws`);
    await b.subscribe('chat:lobby');
    expect(await a.request({ type: 'publish', channel: 'chat:lobby', event: 'say', data: 'hello' })).toMatchObject({
      type: 'published',
      offset: 1,
    });
    await b.waitForPublications('chat:lobby', 1);
    // Only the file's namespaces: a seed namespace is now unknown.
    expect(await a.subscribeRaw('user:1')).toMatchObject({ type: 'error', code: 'unknown_channel' });
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    expect((await b.closed).code).toBe(1001);
    expect((await a.closed).code).toBe(1001);
  });

  it('verifies JWTs and origins from the environment, and then refuses anonymous /stats and /metrics', async () => {
    const secret = 'cli-secret-long-enough-for-hs256-tokens';
    const run = runCli(['--port', '0', '--host', '127.0.0.1'], {
      TASKPULSE_JWT_SECRET: secret,
      TASKPULSE_ALLOWED_ORIGINS: 'https://a.example, https://b.example',
    });
    running.push(run);
    const { port, line } = await listening(run);
    expect(line).toMatch(/auth: jwt, ops: refused/);
    expect(run.stderr()).toMatch(/\/taskpulse\/stats and \/taskpulse\/metrics answer 401: .*--ops-api-key/);
    const url = `ws://127.0.0.1:${port}/taskpulse/ws`;
    expect((await TestClient.expectRejected(url, { origin: 'https://b.example' })).status).toBe(401);
    const token = await new SignJWT({ sub: '7' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode(secret));
    expect((await TestClient.expectRejected(url, { origin: 'https://c.example', token })).status).toBe(403);
    const c = await TestClient.connect(url, { origin: 'https://b.example', token });
    // The seed namespaces are the default: user:7 is this user's, user:8 is not.
    expect((await c.subscribeRaw('user:7')).type).toBe('subscribed');
    expect(await c.subscribeRaw('user:8')).toMatchObject({ type: 'error', code: 'forbidden' });
    for (const path of ['/taskpulse/stats', '/taskpulse/metrics']) {
      const anonymous = await fetch(`http://127.0.0.1:${port}${path}`);
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ error: { code: 'unauthorized' } });
      // Not even a valid user token opens them.
      expect((await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'x-api-key': token } })).status).toBe(401);
    }
    await c.close();
  });

  it('protects /stats and /metrics with --ops-api-key', async () => {
    const run = runCli(['--port', '0', '--host', '127.0.0.1', '--jwt-secret', 'another-secret-for-hs256-tokens!'], {
      TASKPULSE_OPS_API_KEY: 'ops-key-1',
    });
    running.push(run);
    const { port, line } = await listening(run);
    expect(line).toMatch(/auth: jwt, ops: api key/);
    for (const path of ['/taskpulse/stats', '/taskpulse/metrics']) {
      expect((await fetch(`http://127.0.0.1:${port}${path}`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}${path}`, { headers: { 'x-api-key': 'wrong' } })).status).toBe(401);
      const ok = await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization: 'Bearer ops-key-1' } });
      expect(ok.status).toBe(200);
    }
    const metrics = await fetch(`http://127.0.0.1:${port}/taskpulse/metrics`, {
      headers: { 'x-api-key': 'ops-key-1' },
    });
    expect(await metrics.text()).toMatch(/taskpulse_connections/);
  });

  it('uses the Redis broker with --redis-url: two processes share publications', async () => {
    const prefix = `cli${Date.now()}:`;
    const one = runCli(['--port', '0', '--host', '127.0.0.1', '--redis-url', redis.url, '--redis-prefix', prefix]);
    const two = runCli(['--port', '0', '--host', '127.0.0.1', '--redis-prefix', prefix], { REDIS_URL: redis.url });
    running.push(one, two);
    const [a, b] = await Promise.all([listening(one), listening(two)]);
    expect(a.line).toMatch(/broker: redis/);
    const ca = await TestClient.connect(`ws://127.0.0.1:${a.port}/taskpulse/ws`);
    const cb = await TestClient.connect(`ws://127.0.0.1:${b.port}/taskpulse/ws`);
    await ca.subscribe('task:cli');
    await cb.subscribe('task:cli');
    // Publish through Redis from this process, as a worker would.
    const { SEED_NAMESPACES } = await import('@taskpulse/protocol');
    const publisher = createRedisBroker({ redis: redis.url, prefix, namespaces: SEED_NAMESPACES });
    try {
      await publisher.publish('task:cli', 'progress', { pct: 50 });
    } finally {
      await publisher.close();
    }
    const [pa] = await ca.waitForPublications('task:cli', 1);
    const [pb] = await cb.waitForPublications('task:cli', 1);
    expect(pa?.data).toEqual({ pct: 50 });
    expect(pb).toEqual(pa);
    one.child.kill('SIGTERM');
    two.child.kill('SIGTERM');
    expect(await one.exit).toBe(0);
    expect(await two.exit).toBe(0);
  });

  it('serves a directory beside the hub with --static (a built page), nothing outside it', async () => {
    const site = join(dir, 'site');
    mkdirSync(join(site, 'assets'), { recursive: true });
    writeFileSync(join(site, 'index.html'), '<!doctype html><title>page</title>');
    writeFileSync(join(site, 'assets', 'app-1a2b.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'not for you');
    const run = runCli(['--port', '0', '--host', '127.0.0.1', '--static', site]);
    running.push(run);
    const { port, line } = await listening(run);
    expect(line).toContain(`static: ${site}`);
    const base = `http://127.0.0.1:${port}`;
    const index = await fetch(`${base}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await index.text()).toContain('<title>page</title>');
    const asset = await fetch(`${base}/assets/app-1a2b.js`);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toContain('immutable');
    // Encoded dot segments cannot leave the directory.
    const escaped = await new Promise<number | undefined>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/%2e%2e/secret.txt' }, (res) => {
        res.resume();
        resolve(res.statusCode);
      })
        .on('error', reject)
        .end();
    });
    expect(escaped).toBe(404);
    expect((await fetch(`${base}/nope.html`)).status).toBe(404);
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
    // The hub's own paths still answer first.
    expect((await fetch(`${base}/taskpulse/healthz`)).status).toBe(200);
    const client = await TestClient.connect(`ws://127.0.0.1:${port}/taskpulse/ws`);
    await client.close();
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });

  it("logs the Redis broker's connection errors as JSON lines and keeps serving", async () => {
    const nobody = await freePort();
    const run = runCli(['--port', '0', '--host', '127.0.0.1', '--redis-url', `redis://127.0.0.1:${nobody}`]);
    running.push(run);
    const { port } = await listening(run);
    await until(() => /"level":"warn".*redis .*connection error/.test(run.stderr()), 'a logged Redis error');
    expect(run.stderr()).toMatch(/"level":"warn".*Redis is not reachable at start: listening anyway/);
    for (const line of run
      .stderr()
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))) {
      expect(JSON.parse(line)).toMatchObject({
        level: expect.any(String),
        time: expect.any(String),
        message: expect.any(String),
      });
    }
    expect((await fetch(`http://127.0.0.1:${port}/taskpulse/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/taskpulse/readyz`)).status).toBe(503);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  });

  it('exits 1 with one line naming the port when it is taken', async () => {
    const first = runCli(['--port', '0', '--host', '127.0.0.1']);
    running.push(first);
    const { port } = await listening(first);
    const second = runCli(['--port', String(port), '--host', '127.0.0.1']);
    running.push(second);
    expect(await second.exit).toBe(1);
    expect(second.stderr()).toContain(
      `taskpulse-hub: cannot listen on 127.0.0.1:${port}: the port is in use (set another with --port or PORT)`,
    );
  });
});
