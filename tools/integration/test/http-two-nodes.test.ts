/**
 * Two hub nodes on one private Redis: SSE, polling, long-poll and the seed 001 dialect work with a
 * client that moves between nodes, with no sticky sessions.
 */
import { SEED_NAMESPACES } from '@taskpulse/protocol';
import { createRedisBroker, type RedisBroker } from '@taskpulse/redis-bridge';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import type { PollResponse } from '@taskpulse/ws-hub';
import { CLIENT_RECORD_NAMESPACES, taskProgressDialect } from '@taskpulse/ws-hub/dialects';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, liveSubscribers, SseStream, testAuthenticate } from './fixtures/http-client';
import { LegacyClient } from './fixtures/legacy-client';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';

const PUBLISH_KEY = 'two-nodes-key';
const namespaces = { ...SEED_NAMESPACES, ...CLIENT_RECORD_NAMESPACES };

let redis: RedisServer;
const brokers: RedisBroker[] = [];
const nodes: TestHub[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const prefix = `tp-${uniqueId()}:`;
  for (let i = 0; i < 2; i++) {
    const broker = createRedisBroker({ redis: redis.url, prefix, namespaces });
    await broker.ready();
    brokers.push(broker);
    nodes.push(
      await startHub({
        broker,
        authenticate: testAuthenticate,
        dialects: [taskProgressDialect()],
        http: { publishApiKeys: [PUBLISH_KEY] },
      }),
    );
  }
}, 30_000);

afterAll(async () => {
  for (const n of nodes) await n.close();
  for (const b of brokers) await b.close();
  await redis?.stop();
});

const [A, B] = [0, 1];
const node = (i: number) => nodes[i] as TestHub;
/** A session on the node holds the channel's subscription (live in Redis, not just requested). */
const subscribedOn = (i: number, channel: string) => liveSubscribers(node(i).hub.core, channel) > 0;
const publishVia = (i: number, channel: string, data: unknown) =>
  call(`${node(i).httpUrl}/taskpulse/publish`, {
    headers: { 'x-api-key': PUBLISH_KEY },
    body: { channel, event: 'progress', data },
  });

describe('two hub nodes on one Redis', () => {
  it('polling alternates between nodes: same positions, same ETags, nothing lost or repeated', async () => {
    const ch = `task:${uniqueId()}`;
    let cursor = (await call<PollResponse>(`${node(A).httpUrl}/taskpulse/poll?channel=${ch}`)).body.cursor;
    let etag = '';
    const seen: number[] = [];
    for (let round = 0; round < 6; round++) {
      await publishVia(round % 2, ch, { round });
      await publishVia((round + 1) % 2, ch, { round, second: true });
      const res = await call<PollResponse>(
        `${node(round % 2 === 0 ? B : A).httpUrl}/taskpulse/poll?channel=${ch}&since=${cursor}`,
      );
      expect(res.status).toBe(200);
      seen.push(...(res.body.channels[ch]?.publications.map((p) => p.offset) ?? []));
      cursor = res.body.cursor;
      etag = res.headers.get('etag') as string;
    }
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // The ETag of one node is valid on the other: nothing changed → 304 on both.
    for (const i of [A, B]) {
      const res = await call(`${node(i).httpUrl}/taskpulse/poll?channel=${ch}&since=${cursor}`, {
        headers: { 'if-none-match': etag },
      });
      expect(res.status).toBe(304);
    }
  });

  it('a long poll on one node wakes on a publication made through the other', async () => {
    const ch = `task:${uniqueId()}`;
    const start = await call<PollResponse>(`${node(A).httpUrl}/taskpulse/poll?channel=${ch}`);
    const pending = call<PollResponse>(
      `${node(A).httpUrl}/taskpulse/poll?channel=${ch}&since=${start.body.cursor}&wait=30000`,
    );
    await waitUntil(() => node(A).hub.core.router.listenerCount(ch) === 1, 'the long poll to wait');
    await publishVia(B, ch, { from: 'B' });
    const res = await pending;
    expect(res.body.channels[ch]?.publications.map((p) => p.data)).toEqual([{ from: 'B' }]);
  });

  it('an SSE stream dropped on one node resumes on the other with Last-Event-ID', async () => {
    const ch = `task:${uniqueId()}`;
    const first = await SseStream.open(`${node(A).httpUrl}/taskpulse/sse?channel=${ch}&channel=user:42&token=u42`);
    await first.waitFor((s) => s.frames().filter((f) => f.type === 'subscribed').length === 2, 'subscribed on A');
    for (let i = 1; i <= 3; i++) await publishVia(B, ch, { i });
    await publishVia(A, 'user:42', { note: 1 });
    await first.waitFor((s) => s.publications().length === 4, 'four publications on A');
    first.close();
    for (let i = 4; i <= 6; i++) await publishVia(A, ch, { i });
    await publishVia(B, 'user:42', { note: 2 });

    const second = await SseStream.open(`${node(B).httpUrl}/taskpulse/sse?channel=${ch}&channel=user:42&token=u42`, {
      'last-event-id': first.lastEventId as string,
    });
    await second.waitFor((s) => s.publications().length === 4, 'the missed publications on B');
    expect(second.publications(ch).map((p) => p.data)).toEqual([{ i: 4 }, { i: 5 }, { i: 6 }]);
    expect(second.publications('user:42').map((p) => p.data)).toEqual([{ note: 2 }]);
    expect(
      second
        .frames()
        .filter((f) => f.type === 'subscribed')
        .every((f) => f.type === 'subscribed' && f.recovered),
    ).toBe(true);
    await publishVia(A, ch, { i: 7 });
    await second.waitFor((s) => s.publications(ch).length === 4, 'a live publication from A');
    second.close();
    // And user 43 cannot open user 42's channel on either node.
    for (const i of [A, B]) {
      await expect(SseStream.open(`${node(i).httpUrl}/taskpulse/sse?channel=user:42&token=u43`)).rejects.toMatchObject({
        status: 403,
      });
    }
  });

  it("seed 001's old_client_id restores subscriptions on the other node", async () => {
    const wsUrl = (i: number, q: string) => `${node(i).httpUrl.replace('http', 'ws')}/api/v1/ws?${q}`;
    const task = `t${uniqueId()}`;
    const a = await LegacyClient.connect(wsUrl(A, 'token=u42'));
    await a.waitFor((c) => c.ofType('connected').length === 1, 'connected on A');
    const clientId = a.messages[0].payload.client_id as string;
    a.send({ action: 'subscribe', task_id: task });
    await waitUntil(() => subscribedOn(A, `task:${task}`), 'subscribed on A');
    await publishVia(B, `task:${task}`, { task_id: task, progress: 10 });
    await a.waitFor((c) => c.ofType('progress').length === 1, 'progress on A');
    await a.close();
    await waitUntil(() => node(A).hub.core.router.listenerCount(`task:${task}`) === 0, 'A released the task');
    await publishVia(A, `task:${task}`, { task_id: task, progress: 20 });

    const b = await LegacyClient.connect(wsUrl(B, `token=u42&old_client_id=${clientId}`));
    await b.waitFor((c) => c.ofType('progress').length === 1, 'the missed progress on B');
    expect(b.messages[0]).toEqual({ type: 'connected', payload: { client_id: clientId } });
    await publishVia(A, `task:${task}`, { task_id: task, progress: 30 });
    await b.waitFor((c) => c.ofType('progress').length === 2, 'live progress on B');
    expect(b.ofType('progress').map((m) => m.payload.progress)).toEqual([20, 30]);
    await b.close();
  });
});
