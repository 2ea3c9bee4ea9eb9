/**
 * Issue 9.9 and 9.17: one namespace option shape for every factory (a wrong shape is a type error
 * and a TypeError naming the option), and a hub without a namespace table refuses unknown
 * namespaces, saying how to open them.
 */
import { SEED_NAMESPACES } from '@taskpulse/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createHub, createHubCore, createMemoryBroker } from '../src/index';
import { startHub, type TestHub } from './helpers/hub';
import { TestClient } from './helpers/ws-client';

const hubs: TestHub[] = [];
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

async function hubWith(options: Parameters<typeof startHub>[0]): Promise<TestHub> {
  const t = await startHub(options);
  hubs.push(t);
  return t;
}

describe('namespace options shape (issue 9.17)', () => {
  it('rejects the nested table with a TypeError naming the option, in every hub factory', () => {
    // The nested shape of earlier versions must not typecheck either.
    expect(() =>
      // @ts-expect-error `namespaces` is the flat record of namespace name to options
      createHub({ namespaces: { namespaces: SEED_NAMESPACES } }),
    ).toThrow(/createHub: namespaces\["namespaces"\] has an unknown field "task" .*flat record/);
    expect(() =>
      // @ts-expect-error idem
      createHubCore({ namespaces: { namespaces: SEED_NAMESPACES } }),
    ).toThrow(TypeError);
    expect(() =>
      // @ts-expect-error idem
      createMemoryBroker({ namespaces: { namespaces: SEED_NAMESPACES } }),
    ).toThrow(/^createMemoryBroker: namespaces\["namespaces"\]/);
    // A misspelt field passes the index signature of the type; it is refused at run time.
    expect(() => createMemoryBroker({ namespaces: { task: { kindd: 'state' } } })).toThrow(/unknown field "kindd"/);
    // @ts-expect-error `defaults` is now `namespaceDefaults`
    expect(() => createHubCore({ defaults: { historySize: 5 } })).toThrow(/namespaceDefaults/);
  });

  it('refuses a namespace table beside a given broker (the broker carries its own)', async () => {
    const broker = createMemoryBroker({ namespaces: SEED_NAMESPACES });
    expect(() => createHubCore({ broker, namespaces: SEED_NAMESPACES })).toThrow(
      /createHub: .*a given broker carries its own/,
    );
    expect(() => createHubCore({ broker, allowUnknownNamespaces: true })).toThrow(TypeError);
    await broker.close();
  });

  it('applies the flat table: per-user access and state kind are kept', async () => {
    const t = await hubWith({ namespaces: SEED_NAMESPACES });
    const c = await TestClient.connect(t.wsUrl);
    clients.push(c);
    const processor = await c.subscribe('processor:status');
    expect(processor.kind).toBe('state');
    // Anonymous: `user:43` is per-user, so refused (the table was not silently dropped).
    const user = await c.subscribeRaw('user:43');
    expect(user).toMatchObject({ type: 'error', code: 'forbidden', channel: 'user:43' });
  });
});

describe('open defaults (issue 9.9)', () => {
  it('a hub without a namespace table refuses every channel, saying how to open it', async () => {
    const t = await hubWith({ namespaces: {} });
    const c = await TestClient.connect(t.wsUrl);
    clients.push(c);
    const answer = await c.subscribeRaw('task:1');
    expect(answer).toMatchObject({ type: 'error', code: 'unknown_channel', channel: 'task:1' });
    const message = (answer as { message: string }).message;
    expect(message).toContain('namespaces');
    expect(message).toContain('allowUnknownNamespaces: true');
    // HTTP reads answer 404 unknown_channel, and create nothing.
    const read = await fetch(`${t.httpUrl}/taskpulse/channels/task:1/state`);
    expect(read.status).toBe(404);
    expect(((await read.json()) as { error: { code: string } }).error.code).toBe('unknown_channel');
    // The core's own publish is refused the same way.
    await expect(t.hub.core.publish('task:1', 'e', 1)).rejects.toMatchObject({ code: 'unknown_channel' });
  });

  it('createHub() with no options at all refuses unknown namespaces too', async () => {
    const core = createHubCore();
    await expect(core.publish('anything:1', 'e', 1)).rejects.toMatchObject({ code: 'unknown_channel' });
    await core.close();
  });

  it('allowUnknownNamespaces: true opens every namespace with namespaceDefaults', async () => {
    const core = createHubCore({ allowUnknownNamespaces: true, namespaceDefaults: { kind: 'state' } });
    await core.publish('anything:1', 'e', 1);
    expect(core.broker.namespaceOptions('anything:1')).toMatchObject({ kind: 'state', access: 'public' });
    await core.close();
  });
});
