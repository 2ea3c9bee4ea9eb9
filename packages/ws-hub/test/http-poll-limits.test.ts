/**
 * Long polls admitted like connections (review item 1), `last_id` resolved once per request
 * (item 2) and after authorization (item 6), batch publishing checked whole (item 8).
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SEED_NAMESPACES, TaskpulseError } from '@taskpulse/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { handlePoll, PollWaiters } from '../src/http/poll-endpoint';
import type { HubCore } from '../src/index';
import { call, testAuthenticate } from './fixtures/http-client';
import { startHub, type TestHub } from './helpers/hub';
import { activeListeners } from './helpers/listeners';
import { waitUntil } from './helpers/wait';

let t: TestHub | undefined;

afterEach(async () => {
  await t?.close();
  t = undefined;
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('long polls and connection limits', () => {
  it('refuses a poll that would wait beyond the per-user and global limits, and answers one that need not wait', async () => {
    t = await startHub({
      authenticate: testAuthenticate,
      namespaces: SEED_NAMESPACES,
      limits: { maxConnections: 3, maxConnectionsPerUser: 2 },
    });
    const hub = t;
    const url = (channel: string) => `${hub.httpUrl}/taskpulse/poll?channel=${channel}&wait=5000`;
    const base = await call(`${hub.httpUrl}/taskpulse/poll?channel=task:lim`, { headers: bearer('u1') });
    const since = `&since=${base.body.cursor}`;
    const waiting = [
      call(url(`task:lim${since}`), { headers: bearer('u1') }),
      call(url(`task:lim${since}`), { headers: bearer('u1') }),
    ];
    await waitUntil(() => activeListeners(hub.hub.core, 'task:lim') === 2, 'two polls waiting');
    const perUser = await call(url(`task:lim${since}`), { headers: bearer('u1') });
    expect(perUser.status).toBe(429);
    expect(perUser.body.error).toMatchObject({ code: 'too_many_connections', details: { status: 429, limit: 2 } });
    // Another user still fits, until the node's limit of waiting polls.
    const third = call(url(`task:lim${since}`), { headers: bearer('u2') });
    await waitUntil(() => activeListeners(hub.hub.core, 'task:lim') === 3, 'three polls waiting');
    const global = await call(url(`task:lim${since}`), { headers: bearer('u3') });
    expect(global.status).toBe(503);
    expect(global.headers.get('retry-after')).toBe('1');
    expect(global.body.error).toMatchObject({ code: 'too_many_connections', details: { status: 503, limit: 3 } });
    // A poll with something to answer is not refused.
    await hub.hub.core.publish('task:other', 'progress', { n: 1 });
    expect((await call(url('task:other'), { headers: bearer('u1') })).status).toBe(200);

    await hub.hub.core.publish('task:lim', 'progress', { n: 1 });
    const answers = await Promise.all([...waiting, third]);
    for (const r of answers) expect(r.body.channels['task:lim'].publications).toHaveLength(1);
    // Released: the user may wait again.
    const again = call(url(`task:lim&since=${answers[0]?.body.cursor}`), { headers: bearer('u1') });
    await waitUntil(() => activeListeners(hub.hub.core, 'task:lim') === 1, 'waiting again');
    await hub.hub.core.publish('task:lim', 'progress', { n: 2 });
    expect((await again).status).toBe(200);
  });

  it('counts open connections too: a poll does not wait on a node at its connection limit', async () => {
    t = await startHub({ namespaces: SEED_NAMESPACES, limits: { maxConnections: 1 } });
    const core = t.hub.core;
    core.openSession({}, { name: 'test', sendControl() {}, deliver() {}, close() {} });
    const waits = await call(`${t.httpUrl}/taskpulse/poll?channel=task:full&last_id=0&wait=5000`);
    expect(waits.status).toBe(503);
    expect(activeListeners(core, 'task:full')).toBe(0);
    const plain = await call(`${t.httpUrl}/taskpulse/poll?channel=task:full`);
    expect(plain.status).toBe(200);
  });

  it('returns at once, holding nothing, when the client is gone before the wait starts', async () => {
    t = await startHub({ namespaces: SEED_NAMESPACES });
    const core: HubCore = t.hub.core;
    const socket = Object.assign(new EventEmitter(), { destroyed: true });
    const request = Object.assign(new EventEmitter(), {
      method: 'GET',
      headers: {},
      socket,
    }) as unknown as IncomingMessage;
    const writes: unknown[] = [];
    const response = Object.assign(new EventEmitter(), {
      destroyed: true,
      socket,
      writeHead: (...args: unknown[]) => writes.push(args),
      end: () => writes.push('end'),
    }) as unknown as ServerResponse;
    const waiters = new PollWaiters();
    const settings = {
      maxWaitMs: 60_000,
      defaultLimit: 100,
      maxLimit: 1000,
      maxBodyBytes: 1024,
      waiters,
      onClose: () => () => {},
    };
    const started = Date.now();
    const url = new URL('http://x/taskpulse/poll?channel=task:gone&last_id=0&wait=60000');
    await handlePoll(core, {}, request, response, url, settings, {});
    expect(Date.now() - started).toBeLessThan(1000);
    expect(activeListeners(core, 'task:gone')).toBe(0);
    expect(waiters.size).toBe(0);
    expect(writes).toEqual([]);
  });

  it('releases the waiter when the wait ends by timeout or by the client leaving', async () => {
    t = await startHub({ namespaces: SEED_NAMESPACES, limits: { maxConnections: 1 } });
    const hub = t;
    expect((await call(`${hub.httpUrl}/taskpulse/poll?channel=task:to&last_id=0&wait=50`)).status).toBe(200);
    const controller = new AbortController();
    const gone = fetch(`${hub.httpUrl}/taskpulse/poll?channel=task:to&last_id=0&wait=5000`, {
      signal: controller.signal,
    }).catch(() => null);
    await waitUntil(() => activeListeners(hub.hub.core, 'task:to') === 1, 'waiting');
    controller.abort();
    await gone;
    await waitUntil(() => activeListeners(hub.hub.core, 'task:to') === 0, 'released');
    expect((await call(`${hub.httpUrl}/taskpulse/poll?channel=task:to&last_id=0&wait=50`)).status).toBe(200);
  });
});

describe('last_id', () => {
  it('is resolved once per poll request, not on every re-read of the wait', async () => {
    t = await startHub({ namespaces: SEED_NAMESPACES });
    const core = t.hub.core;
    await core.publish('task:lid', 'progress', { n: 1 });
    // The hub's watched-channel cache reads the state once when it starts watching: not counted.
    await waitUntil(async () => {
      await call(`${t?.httpUrl}/taskpulse/poll?channel=task:lid`);
      return core.watched.counts.hits > 0;
    }, 'the channel watched');
    const state = vi.spyOn(core.broker, 'state');
    const waiting = call(`${t.httpUrl}/taskpulse/poll?channel=task:lid&last_id=1&wait=5000`);
    await waitUntil(() => activeListeners(core, 'task:lid') === 1, 'waiting');
    const before = state.mock.calls.filter(([c]) => c === 'task:lid').length;
    expect(before).toBe(1);
    await core.publish('task:lid', 'progress', { n: 2 });
    const r = await waiting;
    expect(r.body).toMatchObject({ last_id: 2 });
    expect(r.body.channels['task:lid'].publications.map((p: { data: unknown }) => p.data)).toEqual([{ n: 2 }]);
    expect(state.mock.calls.filter(([c]) => c === 'task:lid').length).toBe(1);
  });

  it('is resolved after authorization on SSE and polling: a forbidden channel is never read', async () => {
    t = await startHub({ authenticate: testAuthenticate, namespaces: SEED_NAMESPACES });
    const state = vi.spyOn(t.hub.core.broker, 'state');
    const sse = await call(`${t.httpUrl}/taskpulse/sse?channel=user:43&last_id=3`, { headers: bearer('u42') });
    expect(sse.status).toBe(403);
    const poll = await call(`${t.httpUrl}/taskpulse/poll?channel=user:43&last_id=3`, { headers: bearer('u42') });
    expect(poll.status).toBe(403);
    expect(state).not.toHaveBeenCalled();
  });
});

describe('batch publishing', () => {
  it('publishes nothing when an item names an unknown namespace, and names the index of a broker failure', async () => {
    t = await startHub({
      namespaces: SEED_NAMESPACES,
      allowUnknownNamespaces: false,
      http: { publishApiKeys: ['k'] },
    });
    const core = t.hub.core;
    const url = `${t.httpUrl}/taskpulse/publish`;
    const headers = { 'x-api-key': 'k', 'content-type': 'application/json' };
    const item = (channel: string, n: number) => ({ channel, event: 'progress', data: { n } });
    const bad = await call(url, { headers, body: { publications: [item('task:b1', 1), item('nope:x', 2)] } });
    expect(bad.status).toBe(404);
    expect(bad.body.error).toMatchObject({ code: 'unknown_channel', details: { index: 1 } });
    expect((await core.broker.state('task:b1')).latest).toBeNull();

    const publish = core.broker.publish.bind(core.broker);
    let calls = 0;
    vi.spyOn(core.broker, 'publish').mockImplementation((...args) => {
      if (++calls === 2) return Promise.reject(new TaskpulseError('unavailable', 'broker down'));
      return publish(...args);
    });
    const mid = await call(url, {
      headers,
      body: { publications: [item('task:b2', 1), item('task:b2', 2), item('task:b2', 3)] },
    });
    expect(mid.status).toBe(503);
    expect(mid.body.error).toMatchObject({ code: 'unavailable', details: { index: 1 } });
    expect(mid.body.error.message).toContain('publications[1]');
    expect((await core.broker.state('task:b2')).latest?.data).toEqual({ n: 1 });
  });
});
