/**
 * Issue 9.1 and 9.2: an SSE stream never loses publications silently when it is cut early, and a
 * stream opened while Redis is down ends (so the EventSource retries) instead of idling forever.
 */
import type { Publication, ServerFrame, SubscribedFrame } from '@taskpulse/protocol';
import { createRedisBroker, type RedisBroker } from '@taskpulse/redis-bridge';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { EventSource } from 'eventsource';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
// Internal: the SSE cursor codec is not part of the public surface, so it is read from the sources.
import { decodePositionsCursor, encodePositionsCursor } from '../../../packages/ws-hub/src/http/positions-cursor';
import { SseStream } from './fixtures/http-client';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';

const namespaces = { task: { historySize: 100 } };
const hubs: TestHub[] = [];
const cleanups: Array<() => unknown> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const t of hubs.splice(0)) await t.close();
});

async function hub(options: Parameters<typeof startHub>[0]) {
  const t = await startHub(options);
  hubs.push(t);
  return t;
}

function subscribedOf(stream: SseStream): SubscribedFrame[] {
  return stream.frames().filter((f): f is SubscribedFrame => f.type === 'subscribed');
}

describe('SSE event ids carry every position (issue 9.1)', () => {
  it('a resume cut after its first event loses nothing on the next resume (the issue reproduction)', async () => {
    const t = await hub({ namespaces, http: { sseHeartbeatIntervalMs: 60_000 } });
    const chans = ['task:r1', 'task:r2', 'task:r3'];
    const url = `${t.httpUrl}/taskpulse/sse?${chans.map((c) => `channel=${c}`).join('&')}`;
    for (const c of chans) await t.hub.core.publish(c, 'e', { n: 1 });

    const first = await SseStream.open(url);
    await first.waitFor((s) => subscribedOf(s).length === 3, 'three subscribed');
    const cursor = first.lastEventId as string;
    expect(Object.keys(decodePositionsCursor(cursor)).sort()).toEqual(chans);
    first.close();

    // Five publications per channel while away.
    for (let n = 2; n <= 6; n++) for (const c of chans) await t.hub.core.publish(c, 'e', { n });

    // A resume cut right after its first event: the browser keeps that event's id.
    const cut = await SseStream.open(url, { 'last-event-id': cursor });
    await cut.waitFor((s) => s.events.some((e) => e.id !== undefined), 'a first event with an id');
    const firstId = cut.events.find((e) => e.id !== undefined)?.id as string;
    cut.close();
    expect(Object.keys(decodePositionsCursor(firstId)).sort()).toEqual(chans);

    const again = await SseStream.open(url, { 'last-event-id': firstId });
    await again.waitFor((s) => s.publications().length >= 15, 'the fifteen missed publications');
    for (const c of chans) {
      expect(again.publications(c).map((p) => p.offset)).toEqual([2, 3, 4, 5, 6]);
    }
    expect(subscribedOf(again).map((f) => f.recovered)).toEqual([true, true, true]);
    again.close();
  });

  it('flags a channel the resuming stream has no position for with recovered: false', async () => {
    const t = await hub({ namespaces });
    await t.hub.core.publish('task:f1', 'e', 1);
    const state = await t.hub.broker.state('task:f1');
    const cursor = encodePositionsCursor({ 'task:f1': { epoch: state.epoch, offset: state.offset } });
    const s = await SseStream.open(`${t.httpUrl}/taskpulse/sse?channel=task:f1&channel=task:f2`, {
      'last-event-id': cursor,
    });
    await s.waitFor((x) => subscribedOf(x).length === 2, 'two subscribed');
    const [a, b] = subscribedOf(s);
    expect(a).toMatchObject({ channel: 'task:f1', recovered: true });
    expect(b).toMatchObject({ channel: 'task:f2', recovered: false });
    s.close();
  });
});

describe('SSE while Redis is down (issues 9.2 and 9.11)', () => {
  let redis: RedisServer;
  let broker: RedisBroker;
  let worker: RedisBroker;

  afterAll(async () => {
    await broker?.close();
    await worker?.close();
    await redis?.stop();
  });

  it('a stream opened while Redis is down ends, and the EventSource resumes by itself once Redis is back', async () => {
    redis = await startRedis();
    const prefix = `${uniqueId('sse-down')}:`;
    broker = createRedisBroker({ redis: redis.url, prefix, namespaces, commandTimeoutMs: 500 });
    worker = createRedisBroker({ redis: redis.url, prefix, namespaces, commandTimeoutMs: 500 });
    await broker.ready();
    const t = await hub({ broker, http: { sseRetryMs: 200 }, brokerCheckIntervalMs: 50 });
    await redis.kill();
    await waitUntil(() => !t.hub.ready(), 'the hub to see Redis down');

    const frames: ServerFrame[] = [];
    let opens = 0;
    const source = new EventSource(`${t.httpUrl}/taskpulse/sse?channel=task:down`);
    cleanups.push(() => source.close());
    source.onopen = () => {
      opens++;
    };
    source.onmessage = (event) => frames.push(JSON.parse(event.data) as ServerFrame);

    await waitUntil(
      () => frames.some((f) => f.type === 'error' && f.code === 'unavailable'),
      'an unavailable error event',
    );
    expect(frames).toContainEqual(expect.objectContaining({ type: 'live', available: false, code: 'unavailable' }));
    // The stream ended: the EventSource reconnected by itself (an open stream would never do that).
    await waitUntil(() => opens >= 2, 'the EventSource to reconnect', 15_000);

    await redis.restart();
    await waitUntil(() => t.hub.ready(), 'the hub to see Redis back', 20_000);
    await waitUntil(
      () => frames.some((f) => f.type === 'subscribed' && f.channel === 'task:down'),
      'a subscribed answer after the restart',
      20_000,
    );
    await worker.publish('task:down', 'e', { after: 'restart' });
    await waitUntil(
      () => frames.some((f) => f.type === 'publication' || f.type === 'batch'),
      'the publication made after the restart',
    );
    const pubs = frames.flatMap((f) =>
      f.type === 'publication' ? [f as Publication] : f.type === 'batch' ? f.publications : [],
    );
    expect(pubs.map((p) => p.data)).toEqual([{ after: 'restart' }]);
  }, 60_000);

  it('a connected SSE stream is told when live data stops and when it resumes', async () => {
    const prefix = `${uniqueId('sse-live')}:`;
    if (!redis.running) await redis.restart();
    const b = createRedisBroker({ redis: redis.url, prefix, namespaces, commandTimeoutMs: 500 });
    cleanups.push(() => b.close());
    await b.ready();
    const t = await hub({ broker: b, brokerCheckIntervalMs: 50 });
    const s = await SseStream.open(`${t.httpUrl}/taskpulse/sse?channel=task:live`);
    cleanups.push(() => s.close());
    await s.waitFor((x) => subscribedOf(x).length === 1, 'subscribed');
    await redis.kill();
    await s.waitFor(
      (x) => x.frames().some((f) => f.type === 'live' && !f.available),
      'live: false after the kill',
      15_000,
    );
    await redis.restart();
    await s.waitFor(
      (x) => x.frames().some((f) => f.type === 'live' && f.available),
      'live: true after the restart',
      20_000,
    );
    const live = s.frames().filter((f) => f.type === 'live');
    expect(live.map((f) => (f.type === 'live' ? f.available : null))).toEqual([false, true]);
  }, 60_000);
});
