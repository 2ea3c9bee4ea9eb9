import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NamespaceTable } from '@taskpulse/protocol';
import { createRedisBroker, type RedisBroker } from '@taskpulse/redis-bridge';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';
import { TestClient } from './helpers/ws-client';

/** Retries a publish until Redis answers again after a restart (the broker rejects while it is away). */
async function publishOnceRedisIsBack(worker: RedisBroker, data: string): Promise<void> {
  await waitUntil(
    async () => {
      try {
        await worker.publish('task:restart', 'e', data);
        return true;
      } catch {
        return false;
      }
    },
    'a publish to succeed after the restart',
    20_000,
    100,
  );
}

const NAMESPACES: NamespaceTable = {
  namespaces: { task: { historySize: 2000 }, processor: { kind: 'state', historySize: 1 } },
};

describe('several hubs on one Redis', () => {
  let redis: RedisServer;
  const brokers: RedisBroker[] = [];
  const hubs: TestHub[] = [];
  const clients: TestClient[] = [];
  const children: ChildProcess[] = [];
  let dir: string;

  const broker = (prefix: string) => {
    const b = createRedisBroker({ redis: redis.url, prefix, ...NAMESPACES });
    brokers.push(b);
    return b;
  };
  const hubOn = async (prefix: string) => {
    const b = broker(prefix);
    // A hub refuses WebSocket upgrades (503) until its broker is ready.
    await b.ready();
    const t = await startHub({ broker: b });
    hubs.push(t);
    return t;
  };
  const connect = async (url: string) => {
    const c = await TestClient.connect(url);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'taskpulse-mn-'));
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    for (const t of hubs.splice(0)) await t.close();
    for (const b of brokers.splice(0)) await b.close();
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fans a publication out to clients on both hubs, with one Redis subscription per channel per hub', async () => {
    const prefix = `${uniqueId('mn')}:`;
    const [a, b] = await Promise.all([hubOn(prefix), hubOn(prefix)]);
    const onA = await Promise.all([connect(a.wsUrl), connect(a.wsUrl), connect(a.wsUrl)]);
    const onB = await Promise.all([connect(b.wsUrl), connect(b.wsUrl)]);
    for (const c of [...onA, ...onB]) await c.subscribe('task:both');

    const numsub = await redis.command('PUBSUB', 'NUMSUB', `${prefix}{task:both}`);
    expect(Number(/:(\d+)\r\n$/.exec(numsub)?.[1])).toBe(2);

    const worker = broker(prefix);
    for (let i = 1; i <= 30; i++) await worker.publish('task:both', 'progress', { i });
    // A publication made through one hub reaches the other hub's clients too.
    await a.hub.core.publish('task:both', 'progress', { i: 31 });
    for (const c of [...onA, ...onB]) {
      const pubs = await c.waitForPublications('task:both', 31);
      expect(pubs.map((p) => p.offset)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
      expect(c.violations).toEqual([]);
    }
    expect(onB[0]?.publications).toEqual(onA[0]?.publications);
  });

  it('lets a client whose hub was killed resume on the other hub with nothing lost and nothing duplicated', async () => {
    const prefix = `${uniqueId('fo')}:`;
    // Hub A in its own process, so that it can really be killed (SIGKILL: no goodbye).
    const packageDir = fileURLToPath(new URL('..', import.meta.url));
    const childA = spawn(
      process.execPath,
      ['--conditions=@taskpulse/source', '--import', 'tsx', join(packageDir, 'test/fixtures/dialect-hub-child.ts')],
      {
        cwd: packageDir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          REDIS_URL: redis.url,
          REDIS_PREFIX: prefix,
          NAMESPACES_JSON: JSON.stringify(NAMESPACES.namespaces),
        },
      },
    );
    children.push(childA);
    let out = '';
    childA.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    let portA = 0;
    await waitUntil(
      () => {
        portA = Number(/listening (\d+)/.exec(out)?.[1] ?? 0);
        return portA > 0;
      },
      'hub A to listen',
      20_000,
    );
    const b = await hubOn(prefix);

    const onA = await connect(`ws://127.0.0.1:${portA}/taskpulse/ws`);
    await onA.subscribe('task:failover');
    const worker = broker(prefix);
    const total = 400;
    let published = 0;
    const publishing = (async () => {
      while (published < total) {
        await worker.publish('task:failover', 'step', { n: published + 1 });
        published++;
        if (published % 5 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    })();

    await onA.waitForPublications('task:failover', 100, 20_000);
    childA.kill('SIGKILL');
    const closed = await onA.closed;
    expect(closed.code).toBe(1006);
    const position = onA.positions.get('task:failover');
    expect(position).toBeDefined();

    const onB = await connect(b.wsUrl);
    const sub = await onB.subscribe('task:failover', position);
    expect(sub.recovered).toBe(true);
    await publishing;
    const seenOnA = onA.publicationsOf('task:failover');
    const rest = await onB.waitForPublications('task:failover', total - seenOnA.length, 20_000);
    const offsets = [...seenOnA, ...rest].map((p) => p.offset);
    expect(offsets).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(onA.violations).toEqual([]);
    expect(onB.violations).toEqual([]);
    // Its waits (hub A's start from sources, then the publications) take up to 20 s each.
  }, 60_000);
});

describe('Redis restarted under a running hub', () => {
  const clients: TestClient[] = [];
  let redis: RedisServer | undefined;
  let t: TestHub | undefined;
  const brokers: RedisBroker[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await t?.close();
    t = undefined;
    for (const b of brokers.splice(0)) await b.close();
    await redis?.stop();
    redis = undefined;
  });

  async function setup(persistence: boolean) {
    redis = await startRedis({ persistence });
    const prefix = `${uniqueId('rr')}:`;
    const hubBroker = createRedisBroker({ redis: redis.url, prefix, commandTimeoutMs: 1000, ...NAMESPACES });
    const worker = createRedisBroker({ redis: redis.url, prefix, commandTimeoutMs: 1000, ...NAMESPACES });
    brokers.push(hubBroker, worker);
    t = await startHub({ broker: hubBroker });
    await waitUntil(() => t?.hub.ready(), 'the hub to be ready');
    const c = await TestClient.connect(t.wsUrl);
    clients.push(c);
    await c.subscribe('task:restart');
    for (let i = 1; i <= 5; i++) await worker.publish('task:restart', 'e', i);
    await c.waitForPublications('task:restart', 5);
    return { hub: t.hub, worker, client: c, server: redis };
  }

  it('keeps clients connected, reports not ready while Redis is away, and resumes where it left off', async () => {
    const { hub, worker, client, server } = await setup(true);
    await server.kill();
    await waitUntil(() => !hub.ready(), 'the hub to report not ready', 15_000);
    // Connected clients are still served: app-level ping, and a clear error for what needs Redis.
    expect((await client.request({ type: 'ping' })).type).toBe('pong');
    expect(await client.subscribeRaw('task:while-down')).toMatchObject({ type: 'error', code: 'unavailable' });
    expect(client.closeInfo).toBeUndefined();

    await server.restart();
    await waitUntil(() => hub.ready(), 'the hub to be ready again', 20_000);
    await publishOnceRedisIsBack(worker, 'after');
    for (let i = 7; i <= 10; i++) await worker.publish('task:restart', 'e', i);
    const pubs = await client.waitForPublications('task:restart', 10, 20_000);
    // Persistence kept the history: same epoch, offsets continue without gap or duplicate.
    expect(pubs.map((p) => p.offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(new Set(pubs.map((p) => p.epoch)).size).toBe(1);
    expect(client.violations).toEqual([]);
    // New subscriptions work again.
    expect((await client.subscribeRaw('task:while-down')).type).toBe('subscribed');
  });

  it('re-baselines subscribers when Redis comes back empty (history lost), then delivers on', async () => {
    const { hub, worker, client, server } = await setup(false);
    const epochBefore = client.positions.get('task:restart')?.epoch;
    await server.kill();
    await waitUntil(() => !hub.ready(), 'the hub to report not ready', 15_000);
    await server.restart();
    await waitUntil(() => hub.ready(), 'the hub to be ready again', 20_000);
    await publishOnceRedisIsBack(worker, 'fresh');
    // The history is gone: the hub says so plainly with an unsolicited subscribed frame in the
    // new epoch (recovered: false), whether it noticed on resubscribing or on the first publication.
    const rebaseline = (await client.waitForFrame(
      (f) => f.type === 'subscribed' && f.recovered === false && f.epoch !== epochBefore,
      'an unsolicited subscribed frame with the new epoch',
      20_000,
    )) as { epoch: string; offset: number };
    const at = client.frames.findIndex((f) => f.type === 'subscribed' && f.epoch === rebaseline.epoch);
    // Then live delivery goes on in the new epoch, contiguous from the new baseline (which is the
    // empty position, epoch "0", when the hub noticed before the first publication of the new epoch).
    for (let i = 1; i <= 3; i++) await worker.publish('task:restart', 'e', `after-${i}`);
    await client.waitUntil(
      () => client.publicationsOf('task:restart').some((p) => p.data === 'after-3'),
      'publications after the reset',
      20_000,
    );
    const newEpoch = client.publicationsOf('task:restart').filter((p) => p.epoch !== epochBefore);
    expect(new Set(newEpoch.map((p) => p.epoch)).size).toBe(1);
    if (rebaseline.epoch !== '0') expect(newEpoch[0]?.epoch).toBe(rebaseline.epoch);
    expect(newEpoch.map((p) => p.data).slice(-3)).toEqual(['after-1', 'after-2', 'after-3']);
    expect(newEpoch[0]?.offset).toBe(rebaseline.offset + 1);
    // Nothing of the new epoch arrived before the frame that announced it.
    expect(client.frames.slice(0, at).some((f) => 'epoch' in f && f.epoch === rebaseline.epoch)).toBe(false);
    expect(client.closeInfo).toBeUndefined();
    expect(client.violations).toEqual([]);
  });
});
