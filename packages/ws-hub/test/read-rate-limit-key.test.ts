/**
 * Review of issue 9.8's read rate limit: anonymous clients are keyed by the TCP peer address, so
 * all clients behind a reverse proxy share one budget unless the hub is told how to tell them
 * apart (`readRateLimit.clientKey`).
 */
import { uniqueId } from '@taskpulse/testkit';
import { describe, expect, it } from 'vitest';
import { call } from './fixtures/http-client';
import { startHub } from './helpers/hub';

const namespaces = { x: { historySize: 10 } };

async function readsUntilLimited(url: string, headers: Record<string, string>, max: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < max; i++) {
    const r = await call(url, { headers });
    statuses.push(r.status);
    if (r.status === 429) break;
  }
  return statuses;
}

describe('read rate limit keys', () => {
  it('by default, anonymous clients from one address share one budget', async () => {
    const t = await startHub({ namespaces, http: { readRateLimit: { perSecond: 0.01, burst: 3 } } });
    const url = `${t.httpUrl}/taskpulse/channels/x:${uniqueId('k')}/state`;
    expect(await readsUntilLimited(url, { 'x-real-ip': '10.0.0.1' }, 10)).toEqual([200, 200, 200, 429]);
    // Another client behind the same proxy (same peer address) is limited too.
    expect((await call(url, { headers: { 'x-real-ip': '10.0.0.2' } })).status).toBe(429);
    await t.close();
  });

  it('clientKey tells clients behind a proxy apart', async () => {
    const t = await startHub({
      namespaces,
      http: {
        readRateLimit: {
          perSecond: 0.01,
          burst: 3,
          clientKey: (request, principal) => principal.userId ?? String(request.headers['x-real-ip']),
        },
      },
    });
    const url = `${t.httpUrl}/taskpulse/channels/x:${uniqueId('k')}/state`;
    expect(await readsUntilLimited(url, { 'x-real-ip': '10.0.0.1' }, 10)).toEqual([200, 200, 200, 429]);
    expect(await readsUntilLimited(url, { 'x-real-ip': '10.0.0.2' }, 10)).toEqual([200, 200, 200, 429]);
    await t.close();
  });
});
