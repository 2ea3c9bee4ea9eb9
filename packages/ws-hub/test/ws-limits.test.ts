import { CloseCode, TaskpulseError } from '@taskpulse/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { HubOptions } from '../src/index';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';
import { TestClient, type TestClientOptions } from './helpers/ws-client';

// The user id comes from a header in these tests (the JWT path is tested in ws-auth).
const headerAuth: HubOptions['authenticate'] = (request) => {
  const user = request.headers['x-user'];
  if (typeof user !== 'string') throw new TaskpulseError('unauthorized', 'no user');
  return { userId: user };
};

describe('limits', () => {
  let t: TestHub | undefined;
  const clients: TestClient[] = [];
  const connect = async (options: TestClientOptions = {}) => {
    const c = await TestClient.connect((t as TestHub).wsUrl, options);
    clients.push(c);
    return c;
  };
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await t?.close();
    t = undefined;
  });

  it('refuses connections past maxConnections with HTTP 503 before the upgrade', async () => {
    t = await startHub({ limits: { maxConnections: 3 } });
    for (let i = 0; i < 3; i++) await connect();
    const refused = await TestClient.expectRejected(t.wsUrl);
    expect(refused.status).toBe(503);
    expect(refused.body?.error).toMatchObject({ code: 'too_many_connections', details: { status: 503, limit: 3 } });
    // A slot frees when a client leaves.
    await clients.pop()?.close();
    await waitUntil(() => t?.hub.stats().total_clients === 2, 'the closed connection to be released');
    await connect();
  });

  it('refuses a user past maxConnectionsPerUser with HTTP 429, other users unaffected', async () => {
    t = await startHub({ authenticate: headerAuth, limits: { maxConnectionsPerUser: 2 } });
    const u1 = { headers: { 'x-user': 'u1' } };
    await connect(u1);
    const second = await connect(u1);
    const refused = await TestClient.expectRejected(t.wsUrl, u1);
    expect(refused.status).toBe(429);
    expect(refused.body?.error?.code).toBe('too_many_connections');
    await connect({ headers: { 'x-user': 'u2' } });
    expect(t.hub.stats().by_user).toEqual({ u1: 2, u2: 1 });
    await second.close();
    await waitUntil(() => t?.hub.stats().by_user.u1 === 1, 'u1 to have one connection');
    await connect(u1);
  });

  it('refuses subscriptions past maxChannelsPerConnection with a correlated too_many_channels error', async () => {
    t = await startHub({ limits: { maxChannelsPerConnection: 3 } });
    const c = await connect();
    for (let i = 0; i < 3; i++) await c.subscribe(`task:c${i}`);
    const refused = await c.subscribeRaw('task:c3');
    expect(refused).toMatchObject({ type: 'error', code: 'too_many_channels', channel: 'task:c3' });
    expect(c.closeInfo).toBeUndefined();
    await c.request({ type: 'unsubscribe', channel: 'task:c0' });
    expect((await c.subscribeRaw('task:c3')).type).toBe('subscribed');
  });

  it('answers a frame above maxFrameBytes with frame_too_large and closes with 4413', async () => {
    t = await startHub({ limits: { maxFrameBytes: 1024 } });
    const c = await connect();
    c.send({ type: 'ping', id: 'big', pad: 'x'.repeat(1500) });
    const closed = await c.closed;
    expect(closed.code).toBe(CloseCode.FrameTooLarge);
    expect(c.errors()).toContainEqual(expect.objectContaining({ code: 'frame_too_large' }));
  });

  it('lets ws cut frames far above the limit (beyond maxPayload) with 1009', async () => {
    t = await startHub({ limits: { maxFrameBytes: 1024 } });
    const c = await connect();
    c.send({ type: 'ping', pad: 'x'.repeat(10_000) });
    expect((await c.closed).code).toBe(1009);
    // The hub is unharmed.
    const d = await connect();
    expect((await d.request({ type: 'ping' })).type).toBe('pong');
  });

  it('rate-limits client frames: rate_limited errors, then close 4429 when it goes on', async () => {
    t = await startHub({ limits: { maxFramesPerSecond: 5, frameBurst: 5 } });
    const c = await connect();
    for (let i = 0; i < 40; i++) c.send({ type: 'ping', id: i });
    const closed = await c.closed;
    expect(closed.code).toBe(CloseCode.RateLimited);
    const limited = c.errors().filter((e) => e.code === 'rate_limited');
    expect(limited.length).toBeGreaterThan(0);
    expect(c.frames.filter((f) => f.type === 'pong').length).toBeGreaterThanOrEqual(5);
  });

  it('closes a connection with 4408 after idleTimeoutMs without subscription or frame; subscribed ones stay', async () => {
    t = await startHub({ limits: { idleTimeoutMs: 200 } });
    const idle = await connect();
    const busy = await connect();
    await busy.subscribe('task:keep');
    const closed = await idle.closed;
    expect(closed.code).toBe(CloseCode.Timeout);
    expect(idle.errors()).toContainEqual(expect.objectContaining({ code: 'idle_timeout' }));
    expect(busy.closeInfo).toBeUndefined();
    await t.hub.core.publish('task:keep', 'e', 1);
    await busy.waitForPublications('task:keep', 1);
  });

  it('closes with 4400 after maxInvalidFrames invalid frames', async () => {
    t = await startHub({ limits: { maxInvalidFrames: 3 } });
    const c = await connect();
    c.send('not json');
    c.send('{"type":"nope"}');
    c.send('[]');
    expect((await c.closed).code).toBe(CloseCode.BadRequest);
    expect(c.errors().map((e) => e.code)).toEqual(['bad_frame', 'bad_frame', 'bad_frame']);
  });
});
