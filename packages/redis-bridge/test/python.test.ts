import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type RedisServer, requirePythonModules, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelKeys, createRedisBroker, luaScriptPath, type RedisBroker } from '../src/index';
import { timeline, waitUntil } from './helpers';

const FIXTURE = fileURLToPath(new URL('./fixtures/python-publish.py', import.meta.url));

function pythonPublish(
  python: string,
  args: Record<string, unknown>,
): Promise<Array<{ epoch: string; offset: number }>> {
  return new Promise((resolve, reject) => {
    execFile(python, [FIXTURE, JSON.stringify(args)], { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`python failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

describe('the shipped Lua script, run from Python (redis-py)', () => {
  let python: string;
  let server: RedisServer;
  let broker: RedisBroker;
  let client: Redis;
  const prefix = `${uniqueId('py')}:`;

  beforeAll(async () => {
    python = requirePythonModules(['redis']);
    server = await startRedis();
    client = new Redis(server.url);
    broker = createRedisBroker({ redis: client, prefix, namespaces: { task: { historySize: 100 } } });
  });
  afterAll(async () => {
    await broker?.close();
    client?.disconnect();
    await server?.stop();
  });

  /** Publishes `publications` on an events channel with the Python fixture (history 100, TTL one day). */
  const publishFromPython = (channel: string, publications: unknown[]) =>
    pythonPublish(python, {
      port: server.port,
      script: luaScriptPath('publish'),
      prefix,
      channel,
      historySize: 100,
      ttlMs: 86_400_000,
      kind: 'events',
      publications,
    });

  it('publishes publications a TypeScript subscriber cannot tell from TypeScript ones', async () => {
    const channel = `task:${uniqueId()}`;
    const t = timeline();
    await broker.subscribe(channel, t.handler);
    const data = { progress: 42.5, message: 'étape 2/5 — 中文 😀', nested: { ok: true, list: [1, null, 'x'] } };
    const fields = { event: 'progress', data, ts: 1_700_000_000_123, id: 'msg_1', priority: 3 };

    const ts = await broker.publish(channel, fields.event, fields.data, {
      ts: fields.ts,
      id: fields.id,
      priority: fields.priority,
    });
    const [py] = await publishFromPython(channel, [fields]);
    expect(py).toEqual({ epoch: ts.epoch, offset: 2 });

    await waitUntil(() => t.pubs().length === 2, 'both publications');
    const [fromTs, fromPy] = t.pubs();
    expect(fromPy).toEqual({ ...fromTs, offset: 2 });
    expect(Object.keys(fromPy ?? {})).toEqual(Object.keys(fromTs ?? {}));
    expect(t.resets()).toEqual([]);

    // Byte for byte, the stored texts differ only by the offset.
    const entries = await client.xrange(channelKeys(prefix, channel).history, '-', '+');
    const texts = entries.map(([, f]) => f[1] as string);
    expect(entries.map(([id]) => id)).toEqual(['1-0', '2-0']);
    expect(texts[1]?.replace('"offset":2', '"offset":1')).toBe(texts[0]);

    const history = await broker.history(channel);
    expect(history.publications).toEqual([fromTs, fromPy]);
  });

  it('creates the epoch from its candidate on a new channel, and TypeScript publishes continue it', async () => {
    const channel = `task:${uniqueId()}`;
    const results = await publishFromPython(
      channel,
      [1, 2, 3].map((n) => ({ event: 'step', data: { n }, ts: Date.now() })),
    );
    expect(results.map((r) => r.offset)).toEqual([1, 2, 3]);
    expect(new Set(results.map((r) => r.epoch)).size).toBe(1);
    const next = await broker.publish(channel, 'step', { n: 4 });
    expect(next).toMatchObject({ epoch: results[0]?.epoch, offset: 4 });
    const state = await broker.state(channel);
    expect(state.latest?.data).toEqual({ n: 4 });
  });

  it('passes a MAC key candidate, so that a hub verifies its publications without reading them back', async () => {
    const channel = `task:${uniqueId()}`;
    await publishFromPython(channel, [{ event: 'step', data: { n: 0 }, ts: Date.now() }]);
    expect(await client.hget(channelKeys(prefix, channel).meta, 'mac')).toMatch(/^[0-9a-f]{40}$/);
    const t = timeline();
    await broker.subscribe(channel, t.handler); // learns the channel's key with its first read
    const before = broker.stats().macVerified;
    await publishFromPython(
      channel,
      [1, 2, 3].map((n) => ({ event: 'step', data: { n }, ts: Date.now() })),
    );
    await waitUntil(() => t.pubs().length === 3, 'the Python publications');
    expect(broker.stats().macVerified - before).toBe(3);
    expect(t.pubs().map((p) => p.data)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });
});
