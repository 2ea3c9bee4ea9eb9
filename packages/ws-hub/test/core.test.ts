import { CloseCode, type Publication, type ServerFrame } from '@taskpulse/protocol';
import { describe, expect, it, vi } from 'vitest';
import type { SessionTransport } from '../src/core/session';
import { createHubCore } from '../src/index';
import { TEST_NAMESPACES } from './helpers/hub';

function fakeTransport(name = 'test') {
  const frames: ServerFrame[] = [];
  const closes: Array<{ code: number; reason: string }> = [];
  const transport: SessionTransport = {
    name,
    sendControl: (text) => frames.push(JSON.parse(text)),
    deliver: (p) => frames.push(JSON.parse(p.frame)),
    close: (code, reason) => closes.push({ code, reason }),
  };
  const pubs = () => frames.filter((f): f is Extract<ServerFrame, { type: 'publication' }> => f.type === 'publication');
  return { transport, frames, closes, pubs };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('hub core sessions', () => {
  it('subscribes fresh, then delivers live publications once each', async () => {
    const core = createHubCore({ namespaces: TEST_NAMESPACES });
    const t = fakeTransport();
    const s = core.openSession({}, t.transport);
    await core.publish('task:1', 'progress', { p: 1 });
    expect(await s.subscribe('task:1', undefined, 'r1')).toBe(true);
    expect(t.frames[0]).toMatchObject({ type: 'subscribed', id: 'r1', channel: 'task:1', offset: 1, kind: 'events' });
    expect(t.frames[0]).not.toHaveProperty('recovered');
    await core.publish('task:1', 'progress', { p: 2 });
    await core.publish('task:1', 'progress', { p: 3 });
    expect(t.pubs().map((p) => p.offset)).toEqual([2, 3]);
    s.close();
    await core.close();
  });

  it('recovers missed publications after a position, with concurrent publishing, no gap, no duplicate', async () => {
    const core = createHubCore({ namespaces: TEST_NAMESPACES });
    const first = await core.publish('task:2', 'e', 0);
    for (let i = 1; i < 50; i++) await core.publish('task:2', 'e', i);
    const t = fakeTransport();
    const s = core.openSession({}, t.transport);
    const publishing = (async () => {
      for (let i = 50; i < 100; i++) {
        await core.publish('task:2', 'e', i);
        if (i % 7 === 0) await tick();
      }
    })();
    await s.subscribe('task:2', { epoch: first.epoch, offset: 10 });
    await publishing;
    await tick();
    expect(t.frames[0]).toMatchObject({ type: 'subscribed', recovered: true });
    expect(t.pubs().map((p) => p.offset)).toEqual(Array.from({ length: 90 }, (_, i) => i + 11));
    expect(s.positions()['task:2']).toEqual({ epoch: first.epoch, offset: 100 });
    await core.close();
  });

  it('says recovered=false for an unknown epoch and sends state for state channels', async () => {
    const core = createHubCore({ namespaces: { processor: { kind: 'state' } } });
    await core.publish('processor:status', 'status', { running: true });
    const t = fakeTransport();
    const s = core.openSession({}, t.transport);
    await s.subscribe('processor:status', { epoch: 'gone', offset: 5 });
    const subscribed = t.frames[0] as Extract<ServerFrame, { type: 'subscribed' }>;
    expect(subscribed).toMatchObject({ recovered: false, kind: 'state', offset: 1 });
    expect((subscribed.state as Publication).data).toEqual({ running: true });
    await core.close();
  });

  it('denies user:43 to user 42 and unknown namespaces when configured', async () => {
    const core = createHubCore({ namespaces: { user: { access: 'user' } } });
    const t = fakeTransport();
    const s = core.openSession({ userId: '42' }, t.transport);
    expect(await s.subscribe('user:43', undefined, 1)).toBe(false);
    expect(t.frames[0]).toMatchObject({ type: 'error', code: 'forbidden', id: 1, channel: 'user:43' });
    expect(await s.subscribe('user:42', undefined, 2)).toBe(true);
    await core.close();
  });

  it('answers bad frames with correlated errors and closes after too many', async () => {
    const core = createHubCore({ namespaces: TEST_NAMESPACES, limits: { maxInvalidFrames: 3 } });
    const t = fakeTransport();
    const s = core.openSession({}, t.transport);
    s.handleText('{"type":"subscribe","id":"x1","channel":"has space"}');
    s.handleText('not json');
    expect(t.frames[0]).toMatchObject({ type: 'error', code: 'bad_frame', id: 'x1' });
    expect(t.frames[1]).toMatchObject({ type: 'error', code: 'bad_frame' });
    expect(t.closes).toEqual([]);
    s.handleText('[]');
    expect(t.closes[0]?.code).toBe(CloseCode.BadRequest);
    await core.close();
  });

  it('enforces channels per connection and counts stats', async () => {
    const core = createHubCore({ namespaces: TEST_NAMESPACES, limits: { maxChannelsPerConnection: 2 } });
    const t = fakeTransport('websocket');
    const s = core.openSession({ userId: 'u1', projectIds: ['p1'] }, t.transport);
    await s.subscribe('task:a');
    await s.subscribe('task:b');
    expect(await s.subscribe('task:c', undefined, 'c')).toBe(false);
    expect(t.frames.at(-1)).toMatchObject({ type: 'error', code: 'too_many_channels', id: 'c' });
    expect(core.stats()).toMatchObject({
      total_clients: 1,
      by_user: { u1: 1 },
      by_project: { p1: 1 },
      by_transport: { websocket: 1 },
      by_channel: { 'task:a': 1, 'task:b': 1 },
    });
    s.close();
    expect(core.stats().total_clients).toBe(0);
    expect(core.router.channelCount).toBe(0);
    await core.close();
  });

  it('admits up to the per-user and global limits', async () => {
    const core = createHubCore({
      namespaces: TEST_NAMESPACES,
      limits: { maxConnections: 3, maxConnectionsPerUser: 2 },
    });
    for (let i = 0; i < 2; i++) {
      core.admit({ userId: 'u' });
      core.openSession({ userId: 'u' }, fakeTransport().transport);
    }
    expect(() => core.admit({ userId: 'u' })).toThrow(expect.objectContaining({ code: 'too_many_connections' }));
    core.admit({ userId: 'v' });
    core.openSession({ userId: 'v' }, fakeTransport().transport);
    expect(() => core.admit({ userId: 'w' })).toThrow(expect.objectContaining({ code: 'too_many_connections' }));
    await core.close();
  });

  it('rate-limits frames with a token bucket', async () => {
    const core = createHubCore({ namespaces: TEST_NAMESPACES, limits: { maxFramesPerSecond: 1, frameBurst: 3 } });
    const t = fakeTransport();
    const s = core.openSession({}, t.transport);
    for (let i = 0; i < 5; i++) s.handleText(`{"type":"ping","id":${i}}`);
    expect(t.frames.filter((f) => f.type === 'pong')).toHaveLength(3);
    expect(t.frames.filter((f) => f.type === 'error' && f.code === 'rate_limited')).toHaveLength(2);
    await core.close();
  });
});

describe('abuse counters', () => {
  it('count within a rolling minute: occasional bad frames never close, a burst does', async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] });
    try {
      const core = createHubCore({ namespaces: TEST_NAMESPACES, limits: { maxInvalidFrames: 3 } });
      const t = fakeTransport();
      const s = core.openSession({}, t.transport);
      for (let i = 0; i < 10; i++) {
        s.handleText('not json');
        s.handleText('not json');
        vi.setSystemTime(Date.now() + 61_000);
      }
      expect(t.frames.filter((f) => f.type === 'error')).toHaveLength(20);
      expect(t.closes).toEqual([]);
      for (let i = 0; i < 3; i++) s.handleText('not json');
      expect(t.closes[0]?.code).toBe(CloseCode.BadRequest);
      await core.close();
    } finally {
      vi.useRealTimers();
    }
  });
});
