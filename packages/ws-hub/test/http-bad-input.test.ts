/**
 * Bad input on every HTTP endpoint: a clear 4xx with an error code, never a 500, never a crash.
 */
import { isErrorCode, SEED_NAMESPACES } from '@taskpulse/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_RECORD_NAMESPACES, processorStatusDialect, taskProgressDialect } from '../src/dialects/index';
import { decodePositionsCursor, encodePositionsCursor } from '../src/http/positions-cursor';
import { call, testAuthenticate } from './fixtures/http-client';
import { startHub, type TestHub } from './helpers/hub';

let t: TestHub;

beforeAll(async () => {
  t = await startHub({
    authenticate: testAuthenticate,
    namespaces: { ...SEED_NAMESPACES, ...CLIENT_RECORD_NAMESPACES },
    allowUnknownNamespaces: false,
    dialects: [processorStatusDialect(), taskProgressDialect()],
    http: { publishApiKeys: ['k'], maxUrlBytes: 4096 },
  });
});

afterAll(async () => {
  await t.close();
});

const GET_ENDPOINTS = [
  '/taskpulse/sse?channel=task:1',
  '/taskpulse/poll?channel=task:1',
  '/taskpulse/channels/task:1/history',
  '/taskpulse/channels/task:1/state',
  '/taskpulse/stats',
  '/taskpulse/healthz',
  '/taskpulse/readyz',
  '/taskpulse/metrics',
  '/api/processor/status',
  '/api/v1/progress/t1',
  '/api/v1/progress/t1/history',
  '/api/v1/progress/stats',
  '/api/v1/websocket/stats',
];
const AUTHENTICATED = GET_ENDPOINTS.filter((p) => /sse|poll|channels|processor|progress\/t1/.test(p));

function expectClientError(
  res: { status: number; body: { error?: { code?: unknown } } | null },
  where: string,
  status?: number,
  code?: string,
) {
  expect(res.status, where).toBeGreaterThanOrEqual(400);
  expect(res.status, where).toBeLessThan(500);
  expect(isErrorCode(res.body?.error?.code), `${where}: ${JSON.stringify(res.body)}`).toBe(true);
  if (status !== undefined) expect(res.status, where).toBe(status);
  if (code !== undefined) expect(res.body?.error?.code, where).toBe(code);
}

describe('bad input on every endpoint', () => {
  it('wrong method → 405 bad_request with Allow', async () => {
    for (const path of GET_ENDPOINTS) {
      const res = await call(`${t.httpUrl}${path}`, { method: 'DELETE' });
      expectClientError(res, `DELETE ${path}`, 405, 'bad_request');
      expect(res.headers.get('allow'), path).toMatch(/GET/);
    }
    expectClientError(await call(`${t.httpUrl}/taskpulse/publish`, { method: 'GET' }), 'GET publish', 405);
  });

  it('oversize query → 414 bad_request', async () => {
    const pad = `&pad=${'x'.repeat(5000)}`;
    for (const path of [...GET_ENDPOINTS, '/taskpulse/publish?']) {
      const res = await call(`${t.httpUrl}${path}${path.includes('?') ? pad : `?${pad.slice(1)}`}`);
      expectClientError(res, path, 414, 'bad_request');
    }
  });

  it('bad token → 401 unauthorized on every authenticated endpoint', async () => {
    for (const path of AUTHENTICATED) {
      const res = await call(`${t.httpUrl}${path}`, { headers: { authorization: 'Bearer bad' } });
      expectClientError(res, path, 401, 'unauthorized');
    }
  });

  it('unknown channels → 404 unknown_channel, invalid ones → 400 bad_channel', async () => {
    for (const [channel, status, code] of [
      ['nope:1', 404, 'unknown_channel'],
      ['Bad', 400, 'bad_channel'],
      ['task:*', 400, 'bad_channel'],
      [`task:${'x'.repeat(300)}`, 400, 'bad_channel'],
    ] as const) {
      const c = encodeURIComponent(channel);
      for (const path of [
        `/taskpulse/sse?channel=${c}`,
        `/taskpulse/poll?channel=${c}`,
        `/taskpulse/channels/${c}/state`,
      ]) {
        expectClientError(await call(`${t.httpUrl}${path}`), path, status, code);
      }
    }
  });

  it('bad JSON bodies → 400 bad_request', async () => {
    for (const path of ['/taskpulse/poll', '/taskpulse/publish']) {
      for (const body of ['{', '"just a string"', 'null', '[1,2]', '{"channels":{"task:1":[1,2,3]}}']) {
        const res = await call(`${t.httpUrl}${path}`, { method: 'POST', body, headers: { 'x-api-key': 'k' } });
        expectClientError(res, `${path} ${body}`);
      }
    }
  });

  it('random queries on the streaming and polling endpoints never produce a 5xx', async () => {
    const param = fc.constantFrom(
      'channel',
      'channels',
      'since',
      'last_id',
      'epoch',
      'wait',
      'limit',
      'lastEventId',
      'since_offset',
      'since_epoch',
    );
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.integer().map(String),
      fc.constantFrom('task:1', 'user:43', '-1', ''),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/taskpulse/poll', '/taskpulse/sse', '/taskpulse/channels/task:1/history'),
        fc.array(fc.tuple(param, value), { maxLength: 6 }),
        async (path, pairs) => {
          const query = new URLSearchParams(pairs).toString();
          const controller = new AbortController();
          const res = await fetch(`${t.httpUrl}${path}?${query}&wait=0`, { signal: controller.signal });
          // A valid SSE request streams: its head is enough.
          controller.abort();
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
    expect((await call(`${t.httpUrl}/taskpulse/healthz`)).status).toBe(200);
  });
});

describe('position cursors', () => {
  it('round-trip any positions and reject anything malformed with bad_request', () => {
    const channel = fc.constantFrom('task:1', 'user:42', 'processor:status', 'task:a.b/c=d');
    const position = fc.record({ epoch: fc.string({ minLength: 1, maxLength: 64 }), offset: fc.nat() });
    fc.assert(
      fc.property(fc.dictionary(channel, position), (positions) => {
        expect(decodePositionsCursor(encodePositionsCursor(positions))).toEqual(positions);
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (garbage) => {
        try {
          decodePositionsCursor(garbage);
        } catch (error) {
          expect((error as { code?: string }).code).toBe('bad_request');
        }
      }),
    );
  });

  it('share a decoded cursor between requests, frozen, and never cache a refusal', () => {
    const cursor = encodePositionsCursor({ 'task:7': { epoch: 'e1', offset: 3 } });
    const first = decodePositionsCursor(cursor);
    expect(decodePositionsCursor(cursor)).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first['task:7'])).toBe(true);
    // the limit is part of what was checked: a lower one refuses the same cursor
    const two = encodePositionsCursor({ 'task:1': { epoch: 'e', offset: 1 }, 'task:2': { epoch: 'e', offset: 2 } });
    expect(decodePositionsCursor(two, { maxChannels: 2 })).toEqual({
      'task:1': { epoch: 'e', offset: 1 },
      'task:2': { epoch: 'e', offset: 2 },
    });
    for (let i = 0; i < 2; i++) {
      expect(() => decodePositionsCursor(two, { maxChannels: 1 })).toThrow(/more than 1 channels/);
      expect(() => decodePositionsCursor('not*a*cursor')).toThrow(/base64url/);
    }
    // more distinct cursors than the cache holds: each still decodes to its own positions
    for (let offset = 0; offset < 3000; offset++) {
      const c = encodePositionsCursor({ 'task:n': { epoch: 'e', offset } });
      expect(decodePositionsCursor(c)['task:n']?.offset).toBe(offset);
    }
    expect(decodePositionsCursor(cursor)).toEqual({ 'task:7': { epoch: 'e1', offset: 3 } });
  });
});
