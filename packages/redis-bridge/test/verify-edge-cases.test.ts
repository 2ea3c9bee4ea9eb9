/**
 * Review of issue 9.5 (live messages verified against the stored history): channels the read-back
 * cannot serve still get their publications (no history, or a burst larger than the history
 * trimmed before the read-back), a forgery among them is still never delivered, and a channel
 * first seen empty is not reported as a lost generation.
 */
import { messageOf, type Publication, type ResetEvent } from '@taskpulse/protocol';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannelSync } from '../src/channel-sync';
import type { RawRead } from '../src/history-reader';
import { createPublisher, createSubscriber, type Publisher, type Subscriber } from '../src/index';
import { publishUnseen, sleep, timeline, waitUntil } from './helpers';

const namespaces = {
  ev0: { historySize: 0 },
  small: { historySize: 10 },
  st0: { kind: 'state' as const, historySize: 0 },
};
let server: RedisServer;
let client: Redis;
let publisher: Publisher;
let subscriber: Subscriber;
const prefix = `${uniqueId('verify')}:`;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url);
  publisher = createPublisher({ redis: client, prefix, namespaces });
  subscriber = createSubscriber({ redis: client, prefix, namespaces });
});
afterAll(async () => {
  await subscriber?.close();
  await publisher?.close();
  client?.disconnect();
  await server?.stop();
});

describe('verified live delivery, edge cases', () => {
  it('an events channel with historySize 0 delivers its publications (nothing to read back)', async () => {
    const c = `ev0:${uniqueId()}`;
    const t = timeline();
    await subscriber.subscribe(c, t.handler);
    for (let i = 1; i <= 5; i++) {
      await publisher.publish(c, 'e', i);
      await waitUntil(() => t.pubs().length === i, `publication ${i}`);
    }
    await sleep(30);
    expect(t.pubs().map((p) => [p.offset, p.data])).toEqual([1, 2, 3, 4, 5].map((i) => [i, i]));
    expect(t.resets()).toEqual([]);
  });

  it('a burst larger than the history within one read is delivered whole, in order, without a reset', async () => {
    const c = `small:${uniqueId()}`;
    const t = timeline();
    await subscriber.subscribe(c, t.handler);
    await publisher.publish(c, 'e', 0);
    await waitUntil(() => t.pubs().length === 1, 'the first publication');
    // 200 concurrent publishes on a channel that keeps 10: most are trimmed before any read-back.
    await Promise.all(Array.from({ length: 200 }, (_, i) => publisher.publish(c, 'e', i + 1)));
    await waitUntil(() => t.pubs().length === 201 || t.resets().length > 0, 'the burst');
    expect(t.resets()).toEqual([]);
    expect(t.pubs().map((p) => p.offset)).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
  });

  it('a state channel without history delivers values that arrive faster than one read', async () => {
    const c = `st0:${uniqueId()}`;
    const t = timeline();
    await subscriber.subscribe(c, t.handler);
    await Promise.all(Array.from({ length: 50 }, (_, i) => publisher.publish(c, 'e', i + 1)));
    await waitUntil(() => t.pubs().length === 50 || t.resets().length > 0, 'the values');
    expect(t.resets()).toEqual([]);
    expect(t.pubs().map((p) => p.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('a channel subscribed while empty whose history no longer starts at 1 resets as history_too_short', async () => {
    const c = `small:${uniqueId()}`;
    const t = timeline();
    await subscriber.subscribe(c, t.handler); // the empty position: epoch "0", offset 0
    for (let i = 1; i <= 30; i++) await publishUnseen(client, prefix, c, i, { historySize: 10 });
    await publisher.publish(c, 'e', 31);
    await waitUntil(() => t.resets().length === 1, 'the reset');
    expect(t.resets()[0]).toMatchObject({ reason: 'history_too_short', offset: 31 });
  });
});

/** A verified channel at offset 1 whose history kept only offset 5 when it was read back. */
function trimmedChannel(barrierResult: boolean) {
  const pub = (offset: number, data: unknown): Publication => ({
    channel: 't:x',
    epoch: 'E',
    offset,
    event: 'e',
    data,
    ts: 1,
  });
  const delivered: Publication[] = [];
  const resets: ResetEvent[] = [];
  const barriers = { count: 0 };
  const invalid: string[] = [];
  let reads = 0;
  const entry = (p: Publication) => {
    const message = messageOf(p);
    return { offset: p.offset, message, text: message.text };
  };
  const sync = createChannelSync({
    channel: 't:x',
    read: async (): Promise<RawRead> => {
      reads++;
      if (reads === 1) return { epoch: 'E', offset: 1, entries: [], newestEntry: null };
      const last = pub(5, 'genuine-5');
      return { epoch: 'E', offset: 5, entries: [entry(last)], newestEntry: entry(last) };
    },
    latest: (e) => e?.message?.publication() ?? null,
    deliver: (p) => delivered.push(p.publication()),
    reset: (e) => resets.push(e),
    invalid: (reason) => invalid.push(reason),
    failed: (e) => {
      throw e;
    },
    duplicate: () => {},
    recovered: () => {},
    batchSize: 100,
    retryDelayMs: 10,
    maxBuffered: 1000,
    verify: true,
    barrier: async () => {
      barriers.count++;
      return barrierResult;
    },
  });
  /** A live message; `verified`: its MAC was checked under the channel's key on arrival. */
  const receive = (p: Publication, verified = false) => sync.receive(messageOf(p), verified);
  return { sync, pub, delivered, resets, receive, barriers, invalid };
}

describe('publications trimmed before they were read back (channel sync)', () => {
  it('are delivered from what arrived live once the barrier shows every genuine message arrived', async () => {
    const c = trimmedChannel(true);
    await c.sync.start();
    for (let o = 2; o <= 5; o++) c.receive(c.pub(o, `genuine-${o}`));
    await waitUntil(() => c.delivered.length === 4, 'four publications');
    expect(c.delivered.map((p) => [p.offset, p.data])).toEqual([2, 3, 4, 5].map((o) => [o, `genuine-${o}`]));
    expect(c.resets).toEqual([]);
  });

  it('never delivers a forgery among them: two different texts for one offset are a reset', async () => {
    const c = trimmedChannel(true);
    await c.sync.start();
    c.receive(c.pub(3, 'forged-3'));
    for (let o = 2; o <= 5; o++) c.receive(c.pub(o, `genuine-${o}`));
    await waitUntil(() => c.resets.length === 1, 'the reset');
    expect(c.resets[0]).toMatchObject({ reason: 'history_too_short', offset: 5 });
    expect(c.delivered.map((p) => p.data)).not.toContain('forged-3');
  });

  it('resets when the barrier cannot show that nothing was missed (a reconnect, a Cluster)', async () => {
    const c = trimmedChannel(false);
    await c.sync.start();
    for (let o = 2; o <= 5; o++) c.receive(c.pub(o, `genuine-${o}`));
    await waitUntil(() => c.resets.length === 1, 'the reset');
    expect(c.delivered).toEqual([]);
  });

  // Texts whose MAC was checked are genuine by themselves: no barrier is needed (a Cluster has none).
  it('delivers MAC-verified texts that cover the trimmed offsets without a barrier', async () => {
    const c = trimmedChannel(false);
    await c.sync.start();
    // 3 first: a gap, so the channel reads back, and 2 and 4 arrive while it does.
    for (const o of [3, 2, 4]) c.receive(c.pub(o, `genuine-${o}`), true);
    await waitUntil(() => c.delivered.length === 4 || c.resets.length > 0, 'four publications');
    expect(c.resets).toEqual([]);
    expect(c.delivered.map((p) => [p.offset, p.data])).toEqual([2, 3, 4, 5].map((o) => [o, `genuine-${o}`]));
    expect(c.barriers.count).toBe(0);
  });

  it('prefers the MAC-verified text to an unverified forgery of the same offset', async () => {
    const c = trimmedChannel(false);
    await c.sync.start();
    c.receive(c.pub(3, 'forged-3'));
    for (const o of [3, 2, 4]) c.receive(c.pub(o, `genuine-${o}`), true);
    await waitUntil(() => c.delivered.length === 4 || c.resets.length > 0, 'four publications');
    expect(c.resets).toEqual([]);
    expect(c.delivered.map((p) => p.data)).toEqual(['genuine-2', 'genuine-3', 'genuine-4', 'genuine-5']);
    expect(c.invalid).toEqual(['offset 3 does not match its MAC-verified text']);
  });

  it('falls back to the barrier when one trimmed offset has no verified text, and resets without one', async () => {
    const c = trimmedChannel(false);
    await c.sync.start();
    c.receive(c.pub(3, 'genuine-3'), true);
    c.receive(c.pub(2, 'genuine-2'), true);
    c.receive(c.pub(4, 'genuine-4')); // unverified: only a barrier could vouch for it
    await waitUntil(() => c.resets.length === 1, 'the reset');
    expect(c.barriers.count).toBe(1);
    expect(c.delivered).toEqual([]);
  });
});
