import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Publication, SEED_NAMESPACES, silentLogger, type TaskpulseError } from '@taskpulse/protocol';
import { workerStatusSchema } from '@taskpulse/protocol/payloads';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BridgeRunner,
  createJsonBridge,
  createLease,
  createSubscriber,
  type Lease,
  type Subscriber,
} from '../src/index';
import { range, sleep, waitUntil } from './helpers';

const status = (n: number) => ({
  running: true,
  workers: 3,
  queue_pending: 156 - n,
  queue_retry: 2,
  queue_dead: 0,
  processed_total: n,
  processed_today: n,
  speed: 2.5,
  last_error: null,
});

let server: RedisServer;
let client: Redis;
let subscriber: Subscriber;
const closers: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url);
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await subscriber?.close();
  client?.disconnect();
  await server?.stop();
});

function collect(prefix: string) {
  subscriber = createSubscriber({ redis: client, prefix, namespaces: SEED_NAMESPACES });
  const received: Publication[] = [];
  return {
    received,
    start: () => subscriber.subscribe('processor:status', { onPublication: (p) => received.push(p) }),
    totals: () => received.map((p) => (p.data as { processed_total: number }).processed_total),
  };
}

describe('lease', () => {
  it('lets exactly one instance hold it, renews it, and hands it over on release', async () => {
    const key = `${uniqueId('lease')}:k`;
    const a = createLease({ redis: client, key, ttlMs: 1000 });
    closers.push(() => a.close());
    await waitUntil(() => a.isHeld(), 'a holds');
    const b = createLease({ redis: client, key, ttlMs: 1000 });
    closers.push(() => b.close());
    // Several ttl periods: a keeps renewing, b never gets in.
    for (let i = 0; i < 25; i++) {
      expect(a.isHeld() && b.isHeld()).toBe(false);
      await sleep(100);
    }
    expect(a.isHeld()).toBe(true);
    expect(await client.get(key)).toBe(a.token);
    await a.close();
    await waitUntil(() => b.isHeld(), 'b takes over after release');
    expect(await client.get(key)).toBe(b.token);
  });

  it('never has two holders while the holder dies and another takes over after the ttl', async () => {
    const key = `${uniqueId('lease')}:k`;
    const dying = new Redis(server.url);
    dying.on('error', () => {});
    const lost: string[] = [];
    const a: Lease = createLease({ redis: dying, key, ttlMs: 400, onLost: (reason) => lost.push(reason) });
    await waitUntil(() => a.isHeld(), 'a holds');
    const b = createLease({ redis: client, key, ttlMs: 400 });
    closers.push(() => b.close());
    dying.disconnect(); // a can no longer renew (a crash as far as Redis is concerned)
    while (!b.isHeld()) {
      expect(a.isHeld() && b.isHeld()).toBe(false);
      await sleep(5);
    }
    expect(a.isHeld()).toBe(false);
    expect(lost).toEqual(['expired']);
    await a.close();
  });
});

describe('JSON bridge', () => {
  it('republishes valid worker status natively, counts and logs invalid input with the reason, keeps running', async () => {
    const prefix = `${uniqueId('jb')}:`;
    const sourceChannel = `${uniqueId('src')}:processor:status:realtime`;
    const warnings: string[] = [];
    const errors: TaskpulseError[] = [];
    const bridge: BridgeRunner = createJsonBridge({
      redis: client,
      prefix,
      namespaces: SEED_NAMESPACES,
      sourceChannel,
      targetChannel: 'processor:status',
      event: 'status',
      schema: workerStatusSchema,
      lease: { ttlMs: 5000 },
      logger: { ...silentLogger, warn: (message) => warnings.push(message) },
      onError: (e) => errors.push(e),
    });
    closers.push(() => bridge.close());
    const sink = collect(prefix);
    await sink.start();
    await waitUntil(() => bridge.isActive(), 'bridge active');

    await client.publish(sourceChannel, JSON.stringify(status(1)));
    await client.publish(sourceChannel, 'not json {');
    await client.publish(sourceChannel, JSON.stringify({ ...status(2), workers: 'three' }));
    await client.publish(sourceChannel, JSON.stringify({ running: true }));
    await client.publish(sourceChannel, 'x'.repeat(70_000));
    await client.publish(sourceChannel, JSON.stringify(status(3)));
    await waitUntil(() => sink.received.length === 2 && bridge.stats().received === 6, 'valid ones republished');

    expect(sink.totals()).toEqual([1, 3]);
    expect(sink.received.map((p) => [p.channel, p.event, p.offset])).toEqual([
      ['processor:status', 'status', 1],
      ['processor:status', 'status', 2],
    ]);
    expect(bridge.stats()).toMatchObject({ active: true, received: 6, republished: 2, invalid: 4, fenced: 0 });
    expect(warnings).toHaveLength(4);
    expect(warnings[0]).toMatch(/not valid JSON/);
    expect(warnings[1]).toMatch(/schema: workers: /);
    expect(warnings[2]).toMatch(/schema: /);
    expect(warnings[3]).toMatch(/larger than 65536 bytes/);
    expect(errors.map((e) => e.code)).toEqual(['bad_frame', 'bad_frame', 'bad_frame', 'bad_frame']);
  });

  it('runs as two instances: the standby takes over after the active one is killed, without republishing twice', async () => {
    const prefix = `${uniqueId('ha')}:`;
    const sourceChannel = `${uniqueId('src')}:processor:status:realtime`;
    const ttlMs = 2000;
    const fixture = fileURLToPath(new URL('./fixtures/bridge-instance.ts', import.meta.url));
    const child: ChildProcess = spawn(
      process.execPath,
      ['--conditions=@taskpulse/source', '--import', 'tsx', fixture, server.url, prefix, sourceChannel, String(ttlMs)],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    closers.push(() => {
      child.kill('SIGKILL');
    });
    let childState: { active: boolean; token: string } = { active: false, token: '' };
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      const last = lines[lines.length - 1];
      if (last) childState = JSON.parse(last);
    });
    await waitUntil(() => childState.active, `child bridge active (stderr: ${stderr})`, 30_000);

    const standby = createJsonBridge({
      redis: client,
      prefix,
      namespaces: SEED_NAMESPACES,
      sourceChannel,
      targetChannel: 'processor:status',
      event: 'status',
      schema: workerStatusSchema,
      lease: { ttlMs },
    });
    closers.push(() => standby.close());
    const sink = collect(prefix);
    await sink.start();

    for (let n = 1; n <= 10; n++) await client.publish(sourceChannel, JSON.stringify(status(n)));
    await waitUntil(() => sink.received.length === 10, 'phase 1 republished by the child');
    expect(standby.isActive()).toBe(false);
    expect(standby.stats()).toMatchObject({ received: 0, republished: 0 });
    expect(await client.get(standby.lease.key)).toBe(childState.token);

    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    let n = 10;
    while (!standby.isActive()) {
      await client.publish(sourceChannel, JSON.stringify(status(++n))); // lost while nobody is active
      await sleep(20);
    }
    const firstAfterTakeover = n + 1;
    for (let i = 0; i < 10; i++) await client.publish(sourceChannel, JSON.stringify(status(++n)));
    await waitUntil(() => sink.totals().includes(n), 'phase 2 republished by the standby');
    await sleep(50);

    const totals = sink.totals();
    expect(new Set(totals).size).toBe(totals.length); // nothing republished twice
    expect(totals.slice(0, 10)).toEqual(range(1, 10));
    expect(totals.filter((t) => t >= firstAfterTakeover)).toEqual(range(firstAfterTakeover, n));
    expect(sink.received.map((p) => p.offset)).toEqual(range(1, sink.received.length));
    expect(await client.get(standby.lease.key)).toBe(standby.lease.token);
    expect(standby.stats()).toMatchObject({ acquisitions: 1, republished: totals.length - 10 });
  });
});
