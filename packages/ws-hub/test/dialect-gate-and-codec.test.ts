/**
 * Dialect connections share the native session's abuse limits (rolling window, review item 3),
 * a channel codec closes only on a failed initial subscription (item 4), and dialect client
 * records are closed to clients (item 5).
 */
import { CloseCode, SEED_NAMESPACES, type ServerFrame, TaskpulseError } from '@taskpulse/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CLIENT_RECORD_NAMESPACE,
  createBrokerClientStore,
  createChannelCodec,
  createFrameGate,
  defineDialect,
  type SessionTransport,
  taskProgressDialect,
} from '../src/dialects/index';
import { createHubCore } from '../src/index';
import { call } from './fixtures/http-client';
import { LegacyClient } from './fixtures/legacy-client';
import { startHub, TEST_NAMESPACES, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';

function fakeTransport() {
  const frames: ServerFrame[] = [];
  const closes: Array<{ code: number; reason: string }> = [];
  const transport: SessionTransport = {
    name: 'dialect',
    sendControl: (text) => frames.push(JSON.parse(text)),
    deliver: () => {},
    close: (code, reason) => closes.push({ code, reason }),
  };
  return { transport, frames, closes };
}

let t: TestHub | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await t?.close();
  t = undefined;
});

describe('frame gate', () => {
  it('counts invalid frames within a rolling minute, like the session: occasional mistakes never close', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    const core = createHubCore({ namespaces: TEST_NAMESPACES, limits: { maxInvalidFrames: 3 } });
    const t = fakeTransport();
    const session = core.openSession({}, t.transport);
    const gate = createFrameGate(core, session);
    for (let i = 0; i < 10; i++) {
      expect(gate.parse('not json')).toBeUndefined();
      gate.reject('unknown action');
      vi.setSystemTime(Date.now() + 61_000);
    }
    expect(t.frames.filter((f) => f.type === 'error')).toHaveLength(20);
    expect(t.closes).toEqual([]);
    expect(gate.parse('{"action":"ok"}')).toEqual({ action: 'ok' });
    // Native and dialect mistakes share one counter.
    session.handleText('not json');
    gate.parse('[]');
    gate.reject('unknown action');
    expect(t.closes[0]?.code).toBe(CloseCode.BadRequest);
    await core.close();
  });

  it('shares the session rate budget and closes a sustained flood with 4429', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    const core = createHubCore({ namespaces: TEST_NAMESPACES, limits: { frameBurst: 2, maxFramesPerSecond: 1 } });
    const t = fakeTransport();
    const session = core.openSession({}, t.transport);
    const gate = createFrameGate(core, session);
    expect(gate.parse('{}')).toEqual({});
    expect(gate.parse('{}')).toEqual({});
    expect(gate.parse('{}')).toBeUndefined();
    expect(t.frames.at(-1)).toMatchObject({ type: 'error', code: 'rate_limited' });
    expect(t.frames.at(-1)).not.toHaveProperty('id');
    gate.parse('{}');
    expect(t.closes).toEqual([]);
    gate.parse('{}');
    expect(t.closes[0]?.code).toBe(CloseCode.RateLimited);
    await core.close();
  });
});

describe('channel codec errors', () => {
  const dialect = (channels: string[]) =>
    defineDialect({
      name: 'queue',
      path: '/ws/queue',
      codec: createChannelCodec({
        name: 'queue',
        channels: () => channels,
        encode: (p) => JSON.stringify(p.data),
        onMessage: (_m, connection) => connection.sendLatest('queue-updates'),
      }),
    });

  it('keeps the connection open when sendLatest fails (a short broker outage)', async () => {
    t = await startHub({ namespaces: SEED_NAMESPACES, dialects: [dialect(['queue-updates'])] });
    const core = t.hub.core;
    await core.publish('queue-updates', 'queue', { n: 1 });
    const client = await LegacyClient.connect(`${t.httpUrl.replace('http', 'ws')}/ws/queue`);
    await waitUntil(() => core.router.listenerCount('queue-updates') === 1, 'subscribed');
    const read = vi.spyOn(core, 'readState').mockRejectedValueOnce(new TaskpulseError('unavailable', 'broker down'));
    client.send({ action: 'get' });
    await waitUntil(() => read.mock.calls.length === 1, 'sendLatest ran');
    client.send({ action: 'get' });
    await client.waitFor((c) => c.messages.length === 1, 'the latest value after the outage');
    expect(client.messages).toEqual([{ n: 1 }]);
    expect(client.closeInfo).toBeUndefined();
    client.ws.close();
  });

  it('still closes with the error close code when an initial subscription fails', async () => {
    t = await startHub({
      namespaces: SEED_NAMESPACES,
      dialects: [dialect(['queue-updates', 'user:42'])],
    });
    const client = await LegacyClient.connect(`${t.httpUrl.replace('http', 'ws')}/ws/queue`);
    expect((await client.closed).code).toBe(CloseCode.Forbidden);
  });
});

describe('dialect client records', () => {
  it('are not readable over HTTP with the seed namespaces', async () => {
    const warn = vi.fn();
    t = await startHub({
      namespaces: SEED_NAMESPACES,
      dialects: [taskProgressDialect()],
      logger: { warn, error() {}, info() {}, debug() {} },
    });
    const store = createBrokerClientStore(t.hub.core.broker);
    await store.save('abc', { userId: '42', projectIds: ['7'], tasks: { t1: null }, generation: 1 });
    expect(await store.load('abc')).toMatchObject({ userId: '42' });
    const channel = `${CLIENT_RECORD_NAMESPACE}:abc`;
    const state = await call(`${t.httpUrl}/taskpulse/channels/${encodeURIComponent(channel)}/state`);
    expect(state.status).toBe(403);
    expect(state.text).not.toContain('42');
    expect((await call(`${t.httpUrl}/taskpulse/poll?channel=${channel}`)).status).toBe(403);
    expect(warn).not.toHaveBeenCalled();
  });

  it('make the default store warn when their namespace is readable', async () => {
    const warn = vi.fn();
    t = await startHub({
      namespaces: { task: {} },
      allowUnknownNamespaces: true,
      dialects: [taskProgressDialect()],
      logger: { warn, error() {}, info() {}, debug() {} },
    });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toContain('CLIENT_RECORD_NAMESPACES');
  });
});
