/**
 * Issues 9.3 and 9.4, seed 001 dialect: positions are saved as publications are delivered, so a
 * hub killed with SIGKILL does not replay them to an `old_client_id` reconnect; and a subscribe
 * is registered when it is received, so nothing published after that is lost.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SEED_NAMESPACES } from '@taskpulse/protocol';
import { connectedMessageSchema } from '@taskpulse/protocol/payloads';
import { createRedisBroker, type RedisBroker } from '@taskpulse/redis-bridge';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import {
  type ClientRecord,
  type ClientRecordStore,
  createBrokerClientStore,
  taskProgressDialect,
} from '@taskpulse/ws-hub/dialects';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LegacyClient } from './fixtures/legacy-client';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';

const children: ChildProcess[] = [];
const clients: LegacyClient[] = [];
const hubs: TestHub[] = [];
let redis: RedisServer | undefined;
let worker: RedisBroker | undefined;

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const t of hubs.splice(0)) await t.close();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});
afterAll(async () => {
  await worker?.close();
  await redis?.stop();
});

async function spawnHub(redisUrl: string, prefix: string): Promise<{ child: ChildProcess; port: number }> {
  const packageDir = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--conditions=@taskpulse/source', '--import', 'tsx', 'test/fixtures/dialect-hub-child.ts'],
    {
      cwd: packageDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, REDIS_URL: redisUrl, REDIS_PREFIX: prefix },
    },
  );
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  let port = 0;
  await waitUntil(
    () => {
      if (child.exitCode !== null) throw new Error(`hub child exited: ${err}`);
      port = Number(/listening (\d+)/.exec(out)?.[1] ?? 0);
      return port > 0;
    },
    'the hub child to listen',
    30_000,
  );
  return { child, port };
}

async function connect(url: string): Promise<{ client: LegacyClient; clientId: string }> {
  const client = await LegacyClient.connect(url);
  clients.push(client);
  await client.waitFor((c) => c.ofType('connected').length === 1, 'connected');
  return { client, clientId: connectedMessageSchema.parse(client.messages[0]).payload.client_id };
}

const steps = (c: LegacyClient) => c.ofType('progress').map((m) => m.payload.step as number);

describe('seed 001 dialect delivery', () => {
  it('a hub killed with SIGKILL does not replay delivered progress to an old_client_id reconnect (9.3)', async () => {
    redis = await startRedis();
    const prefix = `${uniqueId('tp-kill')}:`;
    worker = createRedisBroker({ redis: redis.url, prefix, namespaces: SEED_NAMESPACES });
    const store = createBrokerClientStore(worker);
    const taskId = uniqueId('t');
    const a = await spawnHub(redis.url, prefix);
    const { client, clientId } = await connect(`ws://127.0.0.1:${a.port}/api/v1/ws`);
    client.send({ action: 'subscribe', task_id: taskId });
    // The subscription is saved once it is active.
    await waitUntil(async () => (await store.load(clientId))?.tasks[taskId] !== undefined, 'the saved subscription');
    await worker.publish(`task:${taskId}`, 'progress', { step: 1 });
    await client.waitFor((c) => steps(c).length === 1, 'progress #1');
    // Give the hub its chance to save the position it delivered (it used to save only on close).
    await waitUntil(
      async () => (await store.load(clientId))?.tasks[taskId]?.offset === 1,
      'the saved position',
      5000,
    ).catch(() => undefined);

    a.child.kill('SIGKILL');
    await client.closed;
    await worker.publish(`task:${taskId}`, 'progress', { step: 2 });

    const b = await spawnHub(redis.url, prefix);
    const again = await connect(`ws://127.0.0.1:${b.port}/api/v1/ws?old_client_id=${clientId}`);
    expect(again.clientId).toBe(clientId);
    await again.client.waitFor((c) => steps(c).length >= 1, 'the missed progress #2');
    // The restore is done (it saves the record under a new generation): #3 is live.
    await waitUntil(async () => ((await store.load(clientId))?.generation ?? 0) >= 2, 'the restored record');
    await worker.publish(`task:${taskId}`, 'progress', { step: 3 });
    await again.client.waitFor((c) => steps(c).includes(3), 'progress #3');
    expect([...steps(client), ...steps(again.client)]).toEqual([1, 2, 3]);
  }, 90_000);

  it('delivers a progress published after the subscribe was received, however long the setup takes (9.4)', async () => {
    // A store whose first load is slow (a busy Redis): the subscribe queues behind the restore.
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const records = new Map<string, ClientRecord>();
    const store: ClientRecordStore = {
      async load(id) {
        await gate;
        return records.get(id) ?? null;
      },
      async save(id, record) {
        records.set(id, record);
      },
    };
    const t = await startHub({ namespaces: SEED_NAMESPACES, dialects: [taskProgressDialect({ store })] });
    hubs.push(t);
    const taskId = uniqueId('t');
    await t.hub.core.publish(`task:${taskId}`, 'progress', { step: 1 });
    const { client } = await connect(
      `${t.httpUrl.replace('http', 'ws')}/api/v1/ws?old_client_id=${uniqueId('c').replace(/[^A-Za-z0-9_-]/g, '')}`,
    );
    // Observe (not change) the moment the hub takes the client's frame in.
    const session = [...t.hub.core.sessions()][0];
    if (!session) throw new Error('no session');
    let received = false;
    const admit = session.admitFrame.bind(session);
    session.admitFrame = (text?: string) => {
      received = true;
      return admit(text);
    };
    client.send({ action: 'subscribe', task_id: taskId });
    await waitUntil(() => received, 'the hub to receive the subscribe');
    await new Promise((r) => setImmediate(r));
    // Published after the hub received the subscribe, before the subscription is set up.
    await t.hub.core.publish(`task:${taskId}`, 'progress', { step: 2 });
    release();
    await t.hub.core.publish(`task:${taskId}`, 'progress', { step: 3 });
    await client.waitFor((c) => steps(c).includes(3), 'progress #3');
    expect(steps(client)).toEqual([2, 3]);
  });
});
