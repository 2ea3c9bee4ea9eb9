import { SEED_NAMESPACES } from '@taskpulse/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePositionsCursor, encodePositionsCursor } from '../src/http/positions-cursor';
import type { PollResponse } from '../src/index';
import { call, SseStream, testAuthenticate } from './fixtures/http-client';
import { startHub, type TestHub } from './helpers/hub';
import { activeListeners } from './helpers/listeners';
import { waitUntil } from './helpers/wait';

let t: TestHub;
let poll: (query: string) => string;

beforeAll(async () => {
  t = await startHub({ authenticate: testAuthenticate, namespaces: SEED_NAMESPACES });
  poll = (query) => `${t.httpUrl}/taskpulse/poll?${query}`;
});

afterAll(async () => {
  await t.close();
});

const publish = (channel: string, data: unknown, event = 'progress') => t.hub.core.publish(channel, event, data);

describe('HTTP polling', () => {
  it('reads several channels in one request, then only what is new after the returned cursor', async () => {
    await publish('task:p1', { n: 1 });
    await publish('task:p1', { n: 2 });
    await publish('processor:status', { running: true }, 'status');
    const first = await call<PollResponse>(poll('channel=task:p1&channel=processor:status&channel=task:empty'));
    expect(first.status).toBe(200);
    const { channels } = first.body;
    expect(channels['task:p1']).toMatchObject({ kind: 'events', offset: 2, publications: [] });
    expect(channels['task:p1']?.state).toMatchObject({ offset: 2, data: { n: 2 } });
    expect(channels['processor:status']).toMatchObject({
      kind: 'state',
      offset: 1,
      state: { data: { running: true } },
    });
    expect(channels['task:empty']).toMatchObject({ offset: 0, state: null });
    expect(channels['task:p1']).not.toHaveProperty('recovered');
    expect(decodePositionsCursor(first.body.cursor)).toEqual(first.body.positions);

    await publish('task:p1', { n: 3 });
    await publish('task:p1', { n: 4 });
    await publish('task:empty', { n: 1 });
    const next = await call<PollResponse>(
      poll(`channel=task:p1&channel=processor:status&channel=task:empty&since=${first.body.cursor}`),
    );
    expect(next.body.channels['task:p1']).toMatchObject({ recovered: true, offset: 4 });
    expect(next.body.channels['task:p1']?.publications.map((p) => p.data)).toEqual([{ n: 3 }, { n: 4 }]);
    expect(next.body.channels['task:empty']?.publications.map((p) => p.offset)).toEqual([1]);
    expect(next.body.channels['processor:status']).toMatchObject({ recovered: true, publications: [] });
    expect(next.body.channels['task:p1']).not.toHaveProperty('state');
  });

  it('answers 304 to If-None-Match while nothing changed, and 200 once something did', async () => {
    const url = poll('channels=task:etag,processor:status');
    const a = await call<PollResponse>(url);
    const etag = a.headers.get('etag') as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(a.headers.get('cache-control')).toBe('private, no-cache');
    const b = await call(url, { headers: { 'if-none-match': etag } });
    expect(b.status).toBe(304);
    expect(b.text).toBe('');
    expect(b.headers.get('etag')).toBe(etag);
    // Incremental polling: the next request, from the returned cursor, is also a 304.
    const inc = `${url}&since=${a.body.cursor}`;
    expect((await call(inc, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await call(inc, { headers: { 'if-none-match': `W/${etag}, "other"` } })).status).toBe(304);
    await publish('task:etag', { n: 1 });
    const c = await call<PollResponse>(inc, { headers: { 'if-none-match': etag } });
    expect(c.status).toBe(200);
    expect(c.headers.get('etag')).not.toBe(etag);
    expect(c.body.channels['task:etag']?.publications).toHaveLength(1);
  });

  it('accepts POST bodies with per-channel positions or a cursor', async () => {
    for (let i = 1; i <= 3; i++) await publish('task:post', { i });
    const state = await call<PollResponse>(poll('channel=task:post'));
    const epoch = state.body.positions['task:post']?.epoch as string;
    const a = await call<PollResponse>(poll(''), {
      body: { channels: { 'task:post': { epoch, offset: 1 }, 'task:post2': null } },
    });
    expect(a.status).toBe(200);
    expect(a.body.channels['task:post']?.publications.map((p) => p.offset)).toEqual([2, 3]);
    expect(a.body.channels['task:post2']).toMatchObject({ offset: 0 });
    const cursor = encodePositionsCursor({ 'task:post': { epoch, offset: 2 } });
    const b = await call<PollResponse>(poll(''), { body: { channels: ['task:post'], since: cursor } });
    expect(b.body.channels['task:post']?.publications.map((p) => p.offset)).toEqual([3]);
  });

  it("takes seed 004's incremental last_id for a single channel", async () => {
    for (let i = 1; i <= 4; i++) await publish('task:signals', { i });
    const a = await call<PollResponse>(poll('channel=task:signals&last_id=2&limit=10'));
    expect(a.body.channels['task:signals']?.publications.map((p) => p.offset)).toEqual([3, 4]);
    expect(a.body.last_id).toBe(4);
    const epoch = a.body.positions['task:signals']?.epoch as string;
    const b = await call<PollResponse>(poll(`channel=task:signals&last_id=4&epoch=${epoch}`));
    expect(b.body).toMatchObject({ last_id: 4, channels: { 'task:signals': { recovered: true, publications: [] } } });
    // A stale epoch is detected when the client sends it.
    const c = await call<PollResponse>(poll('channel=task:signals&last_id=4&epoch=old'));
    expect(c.body.channels['task:signals']).toMatchObject({ recovered: false, offset: 4, state: { offset: 4 } });
    const d = await call(poll('channel=task:signals&channel=task:x&last_id=1'));
    expect(d.status).toBe(400);
  });

  it('pages with limit and says when more is waiting', async () => {
    for (let i = 1; i <= 5; i++) await publish('task:page', { i });
    const start = await call<PollResponse>(poll('channel=task:page'));
    const epoch = start.body.positions['task:page']?.epoch as string;
    let cursor = encodePositionsCursor({ 'task:page': { epoch, offset: 0 } });
    const seen: number[] = [];
    for (let round = 0; round < 5; round++) {
      const r = await call<PollResponse>(poll(`channel=task:page&limit=2&since=${cursor}`));
      const ch = r.body.channels['task:page'];
      seen.push(...(ch?.publications.map((p) => p.offset) ?? []));
      cursor = r.body.cursor;
      if (!ch?.more) break;
    }
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it('says recovered:false with the current state when the position cannot be continued', async () => {
    await publish('processor:status', { running: false, n: 5 }, 'status');
    const gone = encodePositionsCursor({ 'processor:status': { epoch: 'gone', offset: 2 } });
    const r = await call<PollResponse>(poll(`channel=processor:status&since=${gone}`));
    expect(r.body.channels['processor:status']).toMatchObject({
      recovered: false,
      publications: [],
      state: { data: { running: false, n: 5 } },
    });
    expect(r.body.positions['processor:status']?.epoch).not.toBe('gone');
  });

  it('long-polls: a waiting request is answered by the next publication', async () => {
    const start = await call<PollResponse>(poll('channel=task:lp'));
    const pending = call<PollResponse>(poll(`channel=task:lp&since=${start.body.cursor}&wait=30000`));
    await waitUntil(() => activeListeners(t.hub.core, 'task:lp') === 1, 'the long poll to wait');
    await publish('task:lp', { woke: true });
    // No timed assertion: an answer within the test timeout (well under the 30 s wait) proves the wake-up.
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.body.channels['task:lp']?.publications.map((p) => p.data)).toEqual([{ woke: true }]);
    expect(activeListeners(t.hub.core, 'task:lp')).toBe(0);
  });

  it('long-polls with If-None-Match: 304 at the end of the wait when nothing changed', async () => {
    const start = await call<PollResponse>(poll('channel=task:lp304'));
    const etag = start.headers.get('etag') as string;
    const r = await call(poll(`channel=task:lp304&wait=100`), { headers: { 'if-none-match': etag } });
    expect(r.status).toBe(304);
    const idle = await call<PollResponse>(poll(`channel=task:lp304&since=${start.body.cursor}&wait=100`));
    expect(idle.status).toBe(200);
    expect(idle.body.channels['task:lp304']?.publications).toEqual([]);
  });

  it('releases a long poll whose client went away', async () => {
    const start = await call<PollResponse>(poll('channel=task:gone'));
    const controller = new AbortController();
    const pending = fetch(poll(`channel=task:gone&since=${start.body.cursor}&wait=30000`), {
      signal: controller.signal,
    }).catch(() => 'aborted');
    await waitUntil(() => activeListeners(t.hub.core, 'task:gone') === 1, 'the long poll to wait');
    controller.abort();
    expect(await pending).toBe('aborted');
    await waitUntil(() => activeListeners(t.hub.core, 'task:gone') === 0, 'the waiter to be released');
  });

  it('resumes over SSE from a poll cursor (switching transports loses nothing)', async () => {
    const start = await call<PollResponse>(poll('channel=task:switch'));
    await publish('task:switch', { n: 1 });
    const s = await SseStream.open(`${t.httpUrl}/taskpulse/sse?channel=task:switch&since=${start.body.cursor}`);
    await s.waitFor((x) => x.publications('task:switch').length === 1, 'the publication made between');
    s.close();
  });

  it('refuses bad polls with a JSON error', async () => {
    const cases: Array<
      [string, { method?: string; body?: unknown; headers?: Record<string, string> }, number, string]
    > = [
      ['', {}, 400, 'bad_request'],
      ['channel=Bad', {}, 400, 'bad_channel'],
      ['channel=task:1&since=%%%', {}, 400, 'bad_request'],
      ['channel=task:1&wait=31000', {}, 400, 'bad_request'],
      ['channel=task:1&wait=-1', {}, 400, 'bad_request'],
      ['channel=task:1&limit=0', {}, 400, 'bad_request'],
      ['channel=task:1&last_id=x', {}, 400, 'bad_request'],
      ['channel=user:43', { headers: { authorization: 'Bearer u42' } }, 403, 'forbidden'],
      ['channel=user:42&token=bad', {}, 401, 'unauthorized'],
      ['', { body: '{"channels": ' }, 400, 'bad_request'],
      ['', { body: [] }, 400, 'bad_request'],
      ['', { body: { channels: 'task:1' } }, 400, 'bad_request'],
      ['', { body: { channels: { 'task:1': { epoch: 'e', offset: 1.5 } } } }, 400, 'bad_request'],
      ['', { body: { channels: { 'task:1': { epoch: '', offset: 1 } } } }, 400, 'bad_request'],
      ['', { body: { channels: ['task:1'], wait: 'long' } }, 400, 'bad_request'],
      ['', { body: { channels: ['user:43'] }, headers: { authorization: 'Bearer u42' } }, 403, 'forbidden'],
      ['', { body: { channels: ['task:1'], pad: 'x'.repeat(1_100_000) } }, 413, 'frame_too_large'],
      ['channel=task:1', { method: 'PUT', body: {} }, 405, 'bad_request'],
    ];
    for (const [query, init, status, code] of cases) {
      const res = await call(poll(query), init);
      expect({
        query,
        init: JSON.stringify(init).slice(0, 80),
        status: res.status,
        code: res.body?.error?.code,
      }).toEqual({
        query,
        init: JSON.stringify(init).slice(0, 80),
        status,
        code,
      });
    }
    // user 42 reads its own channel
    expect((await call(poll('channel=user:42&token=u42'))).status).toBe(200);
  });
});
