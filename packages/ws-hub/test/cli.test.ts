import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedis } from '@taskpulse/testkit';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestClient } from './helpers/ws-client';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const cli = join(packageDir, 'src/cli.ts');

interface RunningCli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function runCli(args: string[], env: Record<string, string> = {}): RunningCli {
  const child = spawn(process.execPath, ['--conditions=@taskpulse/source', '--import', 'tsx', cli, ...args], {
    cwd: packageDir,
    env: { ...process.env, PORT: '', REDIS_URL: '', TASKPULSE_JWT_SECRET: '', ...env },
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

async function listening(run: RunningCli, timeoutMs = 20_000): Promise<{ port: number; line: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = /listening on http:\/\/127\.0\.0\.1:(\d+).*\n/.exec(run.stdout());
    if (match) return { port: Number(match[1]), line: match[0] };
    if (run.child.exitCode !== null) throw new Error(`cli exited with ${run.child.exitCode}: ${run.stderr()}`);
    if (Date.now() > deadline) throw new Error(`cli did not listen within ${timeoutMs} ms: ${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('taskpulse-hub command', () => {
  const running: RunningCli[] = [];
  let dir: string;
  let redis: RedisServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'taskpulse-cli-'));
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const r of running.splice(0)) {
      if (r.child.exitCode === null) r.child.kill('SIGKILL');
      await r.exit;
    }
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints its help and exits 0; exits 2 on an unknown flag', async () => {
    const help = runCli(['--help']);
    expect(await help.exit).toBe(0);
    expect(help.stdout()).toMatch(/--redis-url/);
    const bad = runCli(['--nope']);
    expect(await bad.exit).toBe(2);
    expect(bad.stderr()).toMatch(/--help/);
  });

  it('serves the native protocol with a namespaces file and exits 0 on SIGTERM, closing clients with 1001', async () => {
    const file = join(dir, 'namespaces.json');
    writeFileSync(file, JSON.stringify({ chat: { clientPublish: true }, task: {} }));
    const run = runCli(['--host', '127.0.0.1', '--namespaces', file], { PORT: '0' });
    running.push(run);
    const { port, line } = await listening(run);
    expect(line).toMatch(/ws:\/\/127\.0\.0\.1:\d+\/taskpulse\/ws, broker: memory, auth: anonymous/);
    const a = await TestClient.connect(`ws://127.0.0.1:${port}/taskpulse/ws`);
    const b = await TestClient.connect(`ws://127.0.0.1:${port}/taskpulse/ws`);
    await b.subscribe('chat:lobby');
    expect(await a.request({ type: 'publish', channel: 'chat:lobby', event: 'say', data: 'hello' })).toMatchObject({
      type: 'published',
      offset: 1,
    });
    await b.waitForPublications('chat:lobby', 1);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    expect((await b.closed).code).toBe(1001);
    expect((await a.closed).code).toBe(1001);
  });

  it('verifies JWTs and origins from the environment', async () => {
    const secret = 'cli-secret-long-enough-for-hs256-tokens';
    const run = runCli(['--port', '0', '--host', '127.0.0.1'], {
      TASKPULSE_JWT_SECRET: secret,
      TASKPULSE_ALLOWED_ORIGINS: 'https://a.example, https://b.example',
    });
    running.push(run);
    const { port, line } = await listening(run);
    expect(line).toMatch(/auth: jwt/);
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
    await c.close();
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
    const { createRedisBroker } = await import('@taskpulse/redis-bridge');
    const publisher = createRedisBroker({ redis: redis.url, prefix });
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

  it('says how to install @taskpulse/redis-bridge when --redis-url is given without it', async () => {
    // A module hook that makes the optional peer unresolvable, as on an install without it.
    const hooks = join(dir, 'hide-redis-bridge-hooks.mjs');
    writeFileSync(
      hooks,
      `export async function resolve(specifier, context, next) {
  if (specifier === '@taskpulse/redis-bridge') {
    throw Object.assign(new Error("Cannot find package '@taskpulse/redis-bridge'"), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  return next(specifier, context);
}
`,
    );
    const register = join(dir, 'hide-redis-bridge.mjs');
    writeFileSync(
      register,
      `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`,
    );
    const run = runCli(['--port', '0', '--redis-url', 'redis://127.0.0.1:1'], {
      NODE_OPTIONS: `--import ${register}`,
    });
    running.push(run);
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toMatch(/npm install @taskpulse\/redis-bridge/);
  });

  it('exits 1 with a message when the port is taken', async () => {
    const first = runCli(['--port', '0', '--host', '127.0.0.1']);
    running.push(first);
    const { port } = await listening(first);
    const second = runCli(['--port', String(port), '--host', '127.0.0.1']);
    running.push(second);
    expect(await second.exit).toBe(1);
    expect(second.stderr()).toMatch(/cannot listen/);
  });
});
