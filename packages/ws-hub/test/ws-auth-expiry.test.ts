/**
 * Issue 9.13: a live connection ends when its JWT expires — close 4401 on WebSocket, end of stream
 * on SSE — with real tokens expiring within 1–2 s and real sockets; refresh in place when the hub
 * enables it; tokens without `exp` refused by default.
 */
import { SEED_NAMESPACES, type ServerFrame } from '@taskpulse/protocol';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { createJwtAuthenticator } from '../src/index';
import { SseStream } from './fixtures/http-client';
import { startHub, type TestHub } from './helpers/hub';
import { TestClient } from './helpers/ws-client';

const SECRET = 'expiry-test-secret-long-enough-for-hs256';
const key = new TextEncoder().encode(SECRET);

/** A token for `sub` expiring at `exp` (seconds since the epoch), or without `exp` when null. */
function token(sub: string, exp: number | null, extra: Record<string, unknown> = {}): Promise<string> {
  const jwt = new SignJWT({ sub, ...extra }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(key);
}

const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

const hubs: TestHub[] = [];
const clients: TestClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

async function hub(refreshInPlace: boolean, requireExpiry?: boolean): Promise<TestHub> {
  const auth = createJwtAuthenticator({
    secret: SECRET,
    clockToleranceMs: 0,
    ...(requireExpiry !== undefined ? { requireExpiry } : {}),
  });
  const t = await startHub({
    namespaces: SEED_NAMESPACES,
    authenticate: auth,
    ...(refreshInPlace ? { verifyToken: auth.verifyToken } : {}),
  });
  hubs.push(t);
  return t;
}

async function connect(t: TestHub, jwt: string): Promise<TestClient> {
  const c = await TestClient.connect(t.wsUrl, { token: jwt });
  clients.push(c);
  return c;
}

function answer(c: TestClient, id: string): Promise<ServerFrame> {
  return c.waitForFrame((f) => (f as { id?: unknown }).id === id, `answer ${id}`);
}

describe('credential expiry on live connections (issue 9.13)', () => {
  it('closes the connection with 4401 when its token expires, after an unauthorized error frame', async () => {
    const t = await hub(false);
    const exp = inSeconds(2);
    const c = await connect(t, await token('dave', exp));
    expect(c.welcome.expiresAt).toBe(exp * 1000);
    await c.subscribe('user:dave');
    await t.hub.core.publish('user:dave', 'note', { n: 1 });
    await c.waitForPublications('user:dave', 1);
    const closed = await c.closed;
    expect(closed).toEqual({ code: 4401, reason: 'token expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
    expect(c.errors().at(-1)).toMatchObject({ code: 'unauthorized' });
    expect(c.errors().at(-1)).not.toHaveProperty('id');
    // The client refreshes its token and reconnects; the old one is refused at the upgrade.
    const refused = await TestClient.expectRejected(t.wsUrl, { token: await token('dave', exp) });
    expect(refused.status).toBe(401);
    const again = await connect(t, await token('dave', inSeconds(60)));
    await again.subscribe('user:dave');
  });

  it('ends an SSE stream at expiry, after an unauthorized frame', async () => {
    const t = await hub(false);
    const jwt = await token('dave', inSeconds(2));
    const stream = await SseStream.open(`${t.httpUrl}/taskpulse/sse?channel=user:dave&token=${jwt}`);
    await stream.ended;
    expect(stream.frames().at(-1)).toMatchObject({ type: 'error', code: 'unauthorized' });
  });

  it('refreshes in place when the hub enables it: the connection outlives the first token', async () => {
    const t = await hub(true);
    const exp = inSeconds(2);
    const c = await connect(t, await token('dave', exp));
    await c.subscribe('user:dave');
    const later = inSeconds(60);
    c.send({ type: 'refresh', id: 'r-1', token: await token('dave', later) });
    expect(await answer(c, 'r-1')).toEqual({ type: 'refreshed', id: 'r-1', expiresAt: later * 1000 });
    // Wait past the first expiry: still open, still delivering.
    await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 - Date.now()) + 500));
    expect(c.closeInfo).toBeUndefined();
    await t.hub.core.publish('user:dave', 'note', { n: 2 });
    await c.waitForPublications('user:dave', 1);
  });

  it('keeps the old credentials after an invalid refresh, and closes with 4403 on another user', async () => {
    const t = await hub(true);
    const c = await connect(t, await token('dave', inSeconds(60)));
    c.send({ type: 'refresh', id: 'bad', token: 'not-a-jwt' });
    expect(await answer(c, 'bad')).toMatchObject({ type: 'error', code: 'unauthorized' });
    expect(await c.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    c.send({ type: 'refresh', id: 'other', token: await token('erin', inSeconds(60)) });
    expect(await answer(c, 'other')).toMatchObject({ type: 'error', code: 'forbidden' });
    expect((await c.closed).code).toBe(4403);
  });

  it('drops subscriptions the refreshed credentials no longer allow', async () => {
    const t = await hub(true);
    const c = await connect(t, await token('dave', inSeconds(60), { projects: ['7', '8'] }));
    await c.subscribe('project:7');
    await c.subscribe('project:8');
    c.send({ type: 'refresh', id: 'narrow', token: await token('dave', inSeconds(60), { projects: ['7'] }) });
    expect(await answer(c, 'narrow')).toMatchObject({ type: 'refreshed' });
    const dropped = await c.waitForFrame((f) => f.type === 'error' && f.channel === 'project:8', 'the drop');
    expect(dropped).toMatchObject({ code: 'forbidden' });
    await t.hub.core.publish('project:8', 'e', 1);
    await t.hub.core.publish('project:7', 'e', 1);
    await c.waitForPublications('project:7', 1);
    expect(c.publicationsOf('project:8')).toEqual([]);
  });

  it('answers refresh with bad_request when refresh in place is off', async () => {
    const t = await hub(false);
    const c = await connect(t, await token('dave', inSeconds(60)));
    c.send({ type: 'refresh', id: 'no', token: await token('dave', inSeconds(120)) });
    const refused = await answer(c, 'no');
    expect(refused).toMatchObject({ type: 'error', code: 'bad_request' });
    expect((refused as { message: string }).message).toContain('reconnect with the new token');
  });

  it('refuses tokens without exp by default, and accepts them (never expiring) with requireExpiry: false', async () => {
    const strict = await hub(false);
    const noExp = await token('dave', null);
    const refused = await TestClient.expectRejected(strict.wsUrl, { token: noExp });
    expect(refused.status).toBe(401);
    expect(refused.body?.error?.message).toBe('token has no exp claim');
    const lenient = await hub(false, false);
    const c = await connect(lenient, noExp);
    expect(c.welcome.expiresAt).toBeUndefined();
  });
});
