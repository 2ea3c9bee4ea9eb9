import { SEED_NAMESPACES, type SubscribedFrame } from '@taskpulse/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePositionsCursor, encodePositionsCursor } from '../src/http/positions-cursor';
import { call, SseStream, testAuthenticate } from './fixtures/http-client';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';

const namespaces = {
  ...SEED_NAMESPACES,
  gauge: { kind: 'state' as const, historySize: 1, maxPayloadBytes: 1024 * 1024 },
  bulk: { historySize: 1000, maxPayloadBytes: 1024 * 1024 },
};

let t: TestHub;
let sse: (query: string) => string;

beforeAll(async () => {
  t = await startHub({
    authenticate: testAuthenticate,
    namespaces,
    limits: { maxConnectionsPerUser: 3, maxBufferedBytes: 256 * 1024 },
    http: { sseHeartbeatIntervalMs: 50, sseRetryMs: 1500 },
  });
  sse = (query) => `${t.httpUrl}/taskpulse/sse?${query}`;
});

afterAll(async () => {
  await t.close();
});

const sseCount = () => t.hub.stats().by_transport.sse ?? 0;

async function metric(name: string): Promise<number> {
  const m = await t.hub.metrics.registry.getSingleMetric(name)?.get();
  return m?.values.reduce((a, v) => a + v.value, 0) ?? 0;
}

describe('SSE stream', () => {
  it('carries several channels in one stream; each event id encodes every position', async () => {
    await t.hub.core.publish('task:s1', 'progress', { p: 1 });
    await t.hub.core.publish('task:s1', 'progress', { p: 2 });
    await t.hub.core.publish('processor:status', 'status', { running: true });
    const s = await SseStream.open(sse('channel=task:s1&channel=processor:status'));
    await s.waitFor((x) => x.frames().filter((f) => f.type === 'subscribed').length === 2, 'two subscribed');
    expect(s.retry).toBe(1500);
    const [welcome, sub1, sub2] = s.frames();
    expect(welcome).toMatchObject({ type: 'welcome', protocolVersion: 1 });
    expect(s.events[0]?.id).toBeUndefined();
    expect(sub1).toMatchObject({ type: 'subscribed', channel: 'task:s1', kind: 'events', offset: 2 });
    expect(sub2).toMatchObject({ type: 'subscribed', channel: 'processor:status', kind: 'state', offset: 1 });
    expect((sub2 as SubscribedFrame).state).toMatchObject({ data: { running: true } });
    expect(sseCount()).toBe(1);

    await t.hub.core.publish('task:s1', 'progress', { p: 3 });
    await t.hub.core.publish('processor:status', 'status', { running: false });
    await s.waitFor((x) => x.publications().length === 2, 'two publications');
    expect(s.publications().map((p) => [p.channel, p.offset])).toEqual([
      ['task:s1', 3],
      ['processor:status', 2],
    ]);
    const positions = decodePositionsCursor(s.lastEventId as string);
    expect(Object.keys(positions).sort()).toEqual(['processor:status', 'task:s1']);
    expect(positions['task:s1']?.offset).toBe(3);
    expect(positions['processor:status']?.offset).toBe(2);
    s.close();
    await waitUntil(() => sseCount() === 0, 'the SSE session to close');
  });

  it('answers with the SSE headers and sends heartbeat comments', async () => {
    const s = await SseStream.open(sse('channel=task:hb'));
    await s.waitFor((x) => x.comments >= 2, 'two heartbeat comments');
    s.close();
    const res = await fetch(sse('channel=task:hb'));
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    await res.body?.cancel();
  });

  it('resumes with Last-Event-ID after a dropped stream: every missed publication once, in order', async () => {
    const ch = 'task:resume';
    const first = await SseStream.open(sse(`channel=${ch}&channel=task:other`));
    await first.waitFor((x) => x.frames().filter((f) => f.type === 'subscribed').length === 2, 'subscribed');
    for (let i = 1; i <= 5; i++) await t.hub.core.publish(ch, 'progress', { i });
    await first.waitFor((x) => x.publications(ch).length === 5, '5 publications');
    const lastId = first.lastEventId as string;
    first.close();
    await first.ended;
    for (let i = 6; i <= 15; i++) await t.hub.core.publish(ch, 'progress', { i });

    const second = await SseStream.open(sse(`channel=${ch}&channel=task:other`), { 'last-event-id': lastId });
    await second.waitFor((x) => x.publications(ch).length === 10, '10 missed publications');
    const sub = second.frames().find((f) => f.type === 'subscribed' && f.channel === ch);
    expect(sub).toMatchObject({ recovered: true, offset: 15 });
    await t.hub.core.publish(ch, 'progress', { i: 16 });
    await second.waitFor((x) => x.publications(ch).length === 11, 'live publication');
    expect(second.publications(ch).map((p) => p.offset)).toEqual(Array.from({ length: 11 }, (_, i) => i + 6));
    second.close();

    // The same position given as `lastEventId=` (EventSource polyfills) or `since=` (a poll cursor).
    for (const param of ['lastEventId', 'since']) {
      const third = await SseStream.open(sse(`channel=${ch}&${param}=${lastId}`));
      await third.waitFor((x) => x.publications(ch).length === 11, `recovery with ${param}`);
      expect(third.publications(ch)[0]?.offset).toBe(6);
      third.close();
    }
  });

  it('says recovered:false with the current state when the epoch in Last-Event-ID is gone', async () => {
    await t.hub.core.publish('processor:status', 'status', { running: true, n: 9 });
    const cursor = encodePositionsCursor({ 'processor:status': { epoch: 'gone', offset: 3 } });
    const s = await SseStream.open(sse('channel=processor:status'), { 'last-event-id': cursor });
    await s.waitFor((x) => x.frames().some((f) => f.type === 'subscribed'), 'subscribed');
    const sub = s.frames().find((f) => f.type === 'subscribed') as SubscribedFrame;
    expect(sub.recovered).toBe(false);
    expect(sub.state).toMatchObject({ data: { n: 9 } });
    s.close();
  });

  it('authenticates by header, cookie or query; refuses a bad token (401) and another user (403)', async () => {
    const mine = 'channel=user:42';
    for (const [query, headers] of [
      [mine, { authorization: 'Bearer u42' }],
      [mine, { cookie: 'other=1; taskpulse_token=u42' }],
      [`${mine}&token=u42`, {}],
    ] as const) {
      const s = await SseStream.open(sse(query), headers);
      await s.waitFor((x) => x.frames().some((f) => f.type === 'subscribed'), 'subscribed');
      s.close();
    }
    await expect(SseStream.open(sse(`${mine}&token=bad`))).rejects.toMatchObject({
      status: 401,
      body: { error: { code: 'unauthorized' } },
    });
    await expect(SseStream.open(sse('channel=user:43&token=u42'))).rejects.toMatchObject({
      status: 403,
      body: { error: { code: 'forbidden' } },
    });
    // One forbidden channel refuses the whole stream, before anything is sent.
    await expect(SseStream.open(sse('channel=user:42&channel=user:43&token=u42'))).rejects.toMatchObject({
      status: 403,
    });
    await expect(SseStream.open(sse('channel=user:43'))).rejects.toMatchObject({ status: 403 });
  });

  it('counts SSE streams as connections: the per-user limit answers 429', async () => {
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await SseStream.open(sse('channel=task:lim&token=u77')));
    await expect(SseStream.open(sse('channel=task:lim&token=u77'))).rejects.toMatchObject({
      status: 429,
      body: { error: { code: 'too_many_connections', details: { status: 429 } } },
    });
    expect(t.hub.stats().by_user['77']).toBe(3);
    for (const s of open) s.close();
    await waitUntil(() => (t.hub.stats().by_user['77'] ?? 0) === 0, 'streams to close');
  });

  it('cuts a reader that stops reading once its backlog passes maxBufferedBytes; it resumes from its last id', async () => {
    const ch = 'bulk:slow';
    const blob = 'x'.repeat(200_000);
    const before = await metric('taskpulse_slow_consumer_disconnects_total');
    const s = await SseStream.open(sse(`channel=${ch}`));
    await s.waitFor((x) => x.frames().some((f) => f.type === 'subscribed'), 'subscribed');
    s.pause();
    let published = 0;
    while (sseCount() > 0 && published < 500) {
      published++;
      await t.hub.core.publish(ch, 'chunk', { blob, n: published });
    }
    expect(sseCount()).toBe(0);
    expect(await metric('taskpulse_slow_consumer_disconnects_total')).toBe(before + 1);
    s.resume();
    await s.ended;
    const got = s.publications(ch).length;
    expect(got).toBeLessThan(published);

    const again = await SseStream.open(sse(`channel=${ch}`), { 'last-event-id': s.lastEventId as string });
    await again.waitFor((x) => x.publications(ch).length === published - got, 'the rest');
    const offsets = [...s.publications(ch), ...again.publications(ch)].map((p) => p.offset);
    expect(offsets).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    again.close();
  });

  it('conflates a state channel for a slow reader instead of cutting it', async () => {
    const ch = 'gauge:slow';
    const blob = 'y'.repeat(50_000);
    const before = await metric('taskpulse_slow_consumer_disconnects_total');
    const s = await SseStream.open(sse(`channel=${ch}`));
    await s.waitFor((x) => x.frames().some((f) => f.type === 'subscribed'), 'subscribed');
    s.pause();
    const total = 600; // 30 MB: far more than the socket buffers and the 256 KiB backlog limit
    for (let n = 1; n <= total; n++) await t.hub.core.publish(ch, 'value', { blob, n });
    expect(sseCount()).toBe(1);
    s.resume();
    await s.waitFor((x) => x.publications(ch).at(-1)?.offset === total, 'the newest value');
    const offsets = s.publications(ch).map((p) => p.offset);
    expect(offsets.length).toBeLessThan(total);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(await metric('taskpulse_slow_consumer_disconnects_total')).toBe(before);
    s.close();
  });

  it('refuses bad requests with a JSON error before streaming', async () => {
    const cases: Array<[string, Record<string, string>, number, string]> = [
      ['', {}, 400, 'bad_request'],
      ['channel=has%20space', {}, 400, 'bad_channel'],
      ['channel=task:1', { 'last-event-id': 'not a cursor!' }, 400, 'bad_request'],
      [
        'channel=task:1',
        { 'last-event-id': Buffer.from('{"task:1":["e",-1]}').toString('base64url') },
        400,
        'bad_request',
      ],
      [`${Array.from({ length: 51 }, (_, i) => `channel=task:${i}`).join('&')}`, {}, 429, 'too_many_channels'],
    ];
    for (const [query, headers, status, code] of cases) {
      const res = await call(sse(query), { headers });
      expect({ query, status: res.status, code: res.body?.error?.code }).toEqual({ query, status, code });
    }
    const post = await call(sse('channel=task:1'), { method: 'POST', body: {} });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect(post.body.error.code).toBe('bad_request');
  });
});
