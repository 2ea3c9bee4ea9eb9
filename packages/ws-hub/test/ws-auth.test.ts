import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SEED_NAMESPACES, TaskpulseError } from '@taskpulse/protocol';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createJwtAuthenticator } from '../src/index';
import { startHub, type TestHub } from './helpers/hub';
import { TestClient, type TestClientOptions } from './helpers/ws-client';

const SECRET = 'test-secret-that-is-long-enough-for-hs256';
const key = new TextEncoder().encode(SECRET);

function token(claims: Record<string, unknown>, options: { expiresIn?: string | number; issuer?: string } = {}) {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (options.issuer) jwt.setIssuer(options.issuer);
  jwt.setExpirationTime(options.expiresIn ?? '5m');
  return jwt.sign(key);
}

describe('authentication and authorization', () => {
  let t: TestHub;
  const clients: TestClient[] = [];
  const connect = async (options: TestClientOptions) => {
    const c = await TestClient.connect(t.wsUrl, options);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startHub({
      namespaces: { ...SEED_NAMESPACES },
      authenticate: createJwtAuthenticator({ secret: SECRET, issuer: 'taskpulse-test' }),
      allowedOrigins: ['https://app.example'],
    });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await t.close();
  });

  const origin = 'https://app.example';

  it('refuses an upgrade without a token with HTTP 401 and a JSON body', async () => {
    const r = await TestClient.expectRejected(t.wsUrl, { origin });
    expect(r.status).toBe(401);
    expect(r.body?.error).toMatchObject({ code: 'unauthorized', message: 'no token' });
  });

  it('refuses a token with a bad signature, a wrong issuer or an expired one with 401', async () => {
    const good = await token({ sub: '42' }, { issuer: 'taskpulse-test' });
    const forged = `${good.slice(0, -4)}AAAA`;
    expect((await TestClient.expectRejected(t.wsUrl, { origin, token: forged })).status).toBe(401);
    const wrongIssuer = await token({ sub: '42' }, { issuer: 'someone-else' });
    expect((await TestClient.expectRejected(t.wsUrl, { origin, token: wrongIssuer })).status).toBe(401);
    const expired = await token(
      { sub: '42' },
      { issuer: 'taskpulse-test', expiresIn: Math.floor(Date.now() / 1000) - 60 },
    );
    const r = await TestClient.expectRejected(t.wsUrl, { origin, token: expired });
    expect(r.status).toBe(401);
    expect(r.body?.error).toMatchObject({ code: 'unauthorized', message: 'token expired' });
    expect((await TestClient.expectRejected(t.wsUrl, { origin, token: 'not.a.jwt' })).status).toBe(401);
  });

  it('refuses a foreign or missing Origin with HTTP 403, before looking at the token', async () => {
    const jwt = await token({ sub: '42' }, { issuer: 'taskpulse-test' });
    const foreign = await TestClient.expectRejected(t.wsUrl, { origin: 'https://evil.example', token: jwt });
    expect(foreign.status).toBe(403);
    expect(foreign.body?.error?.code).toBe('forbidden');
    expect((await TestClient.expectRejected(t.wsUrl, { token: jwt })).status).toBe(403);
  });

  it('accepts the token from the query, the Authorization header or the cookie; the principal carries user and projects', async () => {
    const jwt = await token({ sub: '42', projects: ['7', 9] }, { issuer: 'taskpulse-test' });
    await connect({ origin, token: jwt });
    await connect({ origin, headers: { authorization: `Bearer ${jwt}` } });
    await connect({ origin, headers: { cookie: `other=1; taskpulse_token=${jwt}` } });
    expect(t.hub.stats().by_user).toEqual({ 42: 3 });
    expect(t.hub.stats().by_project).toEqual({ 7: 3, 9: 3 });
  });

  it('isolates users: user 42 gets user:42 and its projects, never user:43 or another project', async () => {
    const u42 = await connect({
      origin,
      token: await token({ sub: '42', projects: ['7'] }, { issuer: 'taskpulse-test' }),
    });
    const u43 = await connect({ origin, token: await token({ sub: '43' }, { issuer: 'taskpulse-test' }) });
    await u42.subscribe('user:42');
    await u42.subscribe('project:7');
    expect(await u42.subscribeRaw('user:43')).toMatchObject({ type: 'error', code: 'forbidden', channel: 'user:43' });
    expect(await u42.subscribeRaw('project:8')).toMatchObject({ type: 'error', code: 'forbidden' });
    expect(await u42.subscribeRaw('user-notifications:43')).toMatchObject({ type: 'error', code: 'forbidden' });
    await u43.subscribe('user:43');
    await t.hub.core.publish('user:43', 'note', { secret: 'for 43' });
    await t.hub.core.publish('user:42', 'note', { hello: 42 });
    await u43.waitForPublications('user:43', 1);
    await u42.waitForPublications('user:42', 1);
    expect(u42.publications.map((p) => p.channel)).toEqual(['user:42']);
    expect(u43.publications.map((p) => p.channel)).toEqual(['user:43']);
    // HTTP-free reads go through the same authorization.
    await expect(t.hub.core.readHistory({ userId: '42' }, 'user:43')).rejects.toMatchObject({ code: 'forbidden' });
  });
});

describe('custom authentication hooks and other key types', () => {
  let t: TestHub | undefined;
  let jwks: Server | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
    await new Promise<void>((r) => (jwks ? jwks.close(() => r()) : r()));
    jwks = undefined;
  });

  it('maps a TaskpulseError thrown by authenticate to its status, and null to an anonymous principal', async () => {
    t = await startHub({
      authenticate: (request) => {
        const who = request.headers['x-who'];
        if (who === 'banned') throw new TaskpulseError('forbidden', 'banned');
        if (who === 'crash') throw new Error('database down');
        return who === undefined ? null : { userId: String(who) };
      },
      authorize: async (principal, channel) => principal.userId === 'admin' || channel.startsWith('task:'),
    });
    expect((await TestClient.expectRejected(t.wsUrl, { headers: { 'x-who': 'banned' } })).status).toBe(403);
    // An unexpected failure of the hook is an authentication failure, not a 500.
    expect((await TestClient.expectRejected(t.wsUrl, { headers: { 'x-who': 'crash' } })).status).toBe(401);
    const anonymous = await TestClient.connect(t.wsUrl);
    expect(await anonymous.subscribeRaw('system-alerts')).toMatchObject({ type: 'error', code: 'forbidden' });
    expect((await anonymous.subscribeRaw('task:1')).type).toBe('subscribed');
    const admin = await TestClient.connect(t.wsUrl, { headers: { 'x-who': 'admin' } });
    expect((await admin.subscribeRaw('system-alerts')).type).toBe('subscribed');
    await anonymous.close();
    await admin.close();
  });

  it('verifies RS256 tokens with a PEM public key and ES256 tokens from a JWKS URL', async () => {
    const rsa = await generateKeyPair('RS256');
    const pem = await exportSPKI(rsa.publicKey);
    const ec = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(ec.publicKey)), kid: 'k1', alg: 'ES256' };
    jwks = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks?.listen(0, '127.0.0.1', () => r()));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;

    const viaPem = createJwtAuthenticator({ publicKey: pem, userIdClaim: 'uid' });
    const viaJwks = createJwtAuthenticator({ jwksUrl, audience: 'hub' });
    t = await startHub({
      authenticate: (request) => (request.headers['x-kind'] === 'jwks' ? viaJwks(request) : viaPem(request)),
    });
    const rsToken = await new SignJWT({ uid: 'u-rsa' })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('1m')
      .sign(rsa.privateKey);
    const esToken = await new SignJWT({ sub: 'u-ec' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setAudience('hub')
      .setExpirationTime('1m')
      .sign(ec.privateKey);
    const a = await TestClient.connect(t.wsUrl, { token: rsToken });
    const b = await TestClient.connect(t.wsUrl, { token: esToken, headers: { 'x-kind': 'jwks' } });
    expect(t.hub.stats().by_user).toEqual({ 'u-rsa': 1, 'u-ec': 1 });
    // An HS256 token is not accepted by an RSA key (no algorithm confusion).
    const hs = await token({ uid: 'x' });
    expect((await TestClient.expectRejected(t.wsUrl, { token: hs })).status).toBe(401);
    await a.close();
    await b.close();
  });

  it('answers 503 unavailable when the key set cannot be fetched (not the fault of the client)', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    t = await startHub({ authenticate: createJwtAuthenticator({ jwksUrl: `http://127.0.0.1:${port}/jwks.json` }) });
    const ec = await generateKeyPair('ES256');
    const jwt = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).sign(ec.privateKey);
    const refused = await TestClient.expectRejected(t.wsUrl, { token: jwt });
    expect(refused.status).toBe(503);
    expect(refused.body?.error?.code).toBe('unavailable');
    // A malformed token is still the client's fault.
    expect((await TestClient.expectRejected(t.wsUrl, { token: 'x.y.z' })).status).toBe(401);
  });

  it('accepts requests without a token as anonymous when optional, but still rejects bad tokens', async () => {
    t = await startHub({ authenticate: createJwtAuthenticator({ secret: SECRET, optional: true }) });
    const anonymous = await TestClient.connect(t.wsUrl);
    expect(t.hub.stats().by_user).toEqual({});
    expect((await TestClient.expectRejected(t.wsUrl, { token: 'garbage' })).status).toBe(401);
    await anonymous.close();
  });

  it('rejects a configuration without exactly one key source', () => {
    expect(() => createJwtAuthenticator({})).toThrow(/exactly one/);
    expect(() => createJwtAuthenticator({ secret: 'a', jwksUrl: 'http://x' })).toThrow(/exactly one/);
  });
});
