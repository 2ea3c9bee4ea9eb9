/** A misconfigured JWT key is the server's fault (`internal`), not every client's (review item 7). */

import { TaskpulseError } from '@taskpulse/protocol';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import type { ConnectionRequest } from '../src/index';
import { createJwtAuthenticator } from '../src/index';
import { startHub } from './helpers/hub';
import { TestClient } from './helpers/ws-client';

const requestWith = (token: string): ConnectionRequest => ({
  url: '/',
  headers: { authorization: `Bearer ${token}` },
  remoteAddress: undefined,
});

async function codeOf(result: unknown): Promise<string> {
  try {
    await result;
  } catch (error) {
    expect(error).toBeInstanceOf(TaskpulseError);
    return (error as TaskpulseError).code;
  }
  throw new Error('expected a rejection');
}

describe('JWT key configuration errors', () => {
  it('answers internal for a PEM that cannot be imported, unauthorized for bad tokens with a good key', async () => {
    const rsa = await generateKeyPair('RS256');
    const good = await new SignJWT({ sub: 'u1' })
      .setProtectedHeader({ alg: 'RS256' })
      .setExpirationTime('1m')
      .sign(rsa.privateKey);
    const broken = createJwtAuthenticator({
      publicKey: '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----',
    });
    expect(await codeOf(broken(requestWith(good)))).toBe('internal');
    // Not cached: still the configuration's fault on the next request.
    expect(await codeOf(broken(requestWith(good)))).toBe('internal');
    const unsupported = createJwtAuthenticator({ publicKey: await exportSPKI(rsa.publicKey), algorithms: ['XX999'] });
    expect(await codeOf(unsupported(requestWith(good)))).toBe('internal');

    const ok = createJwtAuthenticator({ publicKey: await exportSPKI(rsa.publicKey) });
    expect(await ok(requestWith(good))).toMatchObject({ userId: 'u1' });
    expect(await codeOf(ok(requestWith('a.b.c')))).toBe('unauthorized');
    const hs = await new SignJWT({ sub: 'u1' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('s'));
    expect(await codeOf(ok(requestWith(hs)))).toBe('unauthorized');
  });

  it('reaches clients of a hub as 500 before the upgrade, while a crashing custom hook stays 401', async () => {
    const t = await startHub({
      authenticate: createJwtAuthenticator({
        publicKey: '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----',
      }),
    });
    try {
      const rejected = await TestClient.expectRejected(t.wsUrl, { headers: { authorization: 'Bearer a.b.c' } });
      expect(rejected.status).toBe(500);
    } finally {
      await t.close();
    }
  });
});
