import { type Publication, TaskpulseError } from '@taskpulse/protocol';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { collector } from '@taskpulse/testkit/conformance';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelKeys, createPublisher, createSubscriber, type Publisher, type Subscriber } from '../src/index';
import { publishUnseen, range, sleep, timeline, waitUntil } from './helpers';

const NAMESPACES = {
  namespaces: { t: { historySize: 100 }, small: { historySize: 5 }, tiny: { maxPayloadBytes: 256 } },
  allowUnknownNamespaces: false,
};

describe('subscriber', () => {
  let server: RedisServer;
  let client: Redis;
  let publisher: Publisher;
  let subscriber: Subscriber;
  const errors: TaskpulseError[] = [];
  const prefix = `${uniqueId('sub')}:`;

  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.url);
    publisher = createPublisher({ redis: client, prefix, ...NAMESPACES });
    subscriber = createSubscriber({ redis: client, prefix, ...NAMESPACES, onError: (e) => errors.push(e) });
  });
  afterAll(async () => {
    await subscriber?.close();
    await publisher?.close();
    client?.disconnect();
    await server?.stop();
  });

  const numsub = async (channel: string) => {
    const reply = (await client.pubsub('NUMSUB', channelKeys(prefix, channel).pubsub)) as [string, number];
    return Number(reply[1]);
  };

  it('makes one Redis subscription per channel, dropped after the last handler', async () => {
    const c = `t:${uniqueId()}`;
    const a = collector();
    const b = collector();
    const subA = await subscriber.subscribe(c, a.handler);
    const subB = await subscriber.subscribe(c, b.handler);
    expect(await numsub(c)).toBe(1);
    expect(subscriber.channels()).toContain(c);
    await publisher.publish(c, 'e', 1);
    await a.waitFor(1);
    await b.waitFor(1);
    await subA.unsubscribe();
    expect(await numsub(c)).toBe(1);
    await publisher.publish(c, 'e', 2);
    await b.waitFor(2);
    await subB.unsubscribe();
    expect(await numsub(c)).toBe(0);
    expect(subscriber.channels()).not.toContain(c);
    expect(a.publications.map((p) => p.data)).toEqual([1]);
  });

  it('keeps the epoch of a channel subscribed before its first publication', async () => {
    const c = `t:${uniqueId()}`;
    const t = timeline();
    const sub = await subscriber.subscribe(c, t.handler);
    const first = await publisher.publish(c, 'e', 'x');
    await waitUntil(() => t.pubs().length === 1, 'first publication');
    expect(t.resets()).toEqual([]);
    expect(t.pubs()[0]).toMatchObject({ epoch: first.epoch, offset: 1, data: 'x' });
    await sub.unsubscribe();
  });

  it('recovers missed publications from history, in order, before newer ones', async () => {
    const c = `t:${uniqueId()}`;
    const t = timeline();
    const sub = await subscriber.subscribe(c, t.handler);
    await publisher.publish(c, 'e', 1);
    await waitUntil(() => t.pubs().length === 1, 'first');
    const before = subscriber.stats().recovered;
    // Offsets 2..4 reach history but not the subscriber; offset 5 arrives live and reveals the gap.
    for (const n of [2, 3, 4]) await publishUnseen(client, prefix, c, n);
    await publisher.publish(c, 'e', 5);
    await publisher.publish(c, 'e', 6);
    await waitUntil(() => t.pubs().length === 6, 'recovered publications');
    await sleep(30);
    expect(t.pubs().map((p) => p.offset)).toEqual(range(1, 6));
    expect(t.pubs().map((p) => p.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.resets()).toEqual([]);
    expect(subscriber.stats().recovered - before).toBeGreaterThanOrEqual(3);
    await sub.unsubscribe();
  });

  it('finishes a recovery while publications keep flowing on the channel', async () => {
    const c = `t:${uniqueId()}`;
    const t = timeline();
    const sub = await subscriber.subscribe(c, t.handler);
    await publisher.publish(c, 'e', 0);
    await waitUntil(() => t.pubs().length === 1, 'first');
    // Several concurrent publishers, so that live publications arrive while a history read is in flight.
    let publishing = true;
    let published = 1;
    const loop = Promise.all(
      range(1, 4).map(async () => {
        while (publishing) {
          published++;
          await publisher.publish(c, 'e', 'live');
        }
      }),
    );
    await waitUntil(() => t.pubs().length >= 20, 'live flow');
    const recoveredBefore = subscriber.stats().recovered;
    // Publications that reach history but not the subscriber: the next live one reveals the gap.
    for (let n = 0; n < 10; n++) await publishUnseen(client, prefix, c, 'unseen');
    published += 10;
    await waitUntil(() => subscriber.stats().recovered - recoveredBefore >= 10, 'recovery');
    // Once the recovery is over, live publications are delivered without reading history again:
    // wait for a stretch of 50 deliveries with no recovered publication (a livelocked recovery
    // keeps re-reading history, so every stretch recovers some).
    let mark = { recovered: subscriber.stats().recovered, delivered: t.pubs().length };
    await waitUntil(() => {
      const now = { recovered: subscriber.stats().recovered, delivered: t.pubs().length };
      if (now.recovered !== mark.recovered) mark = now;
      return now.delivered >= mark.delivered + 50;
    }, 'recovery finished while publishing');
    publishing = false;
    await loop;
    await waitUntil(() => t.pubs().length === published, 'delivery caught up');
    expect(t.pubs().map((p) => p.offset)).toEqual(range(1, published));
    expect(t.resets()).toEqual([]);
    await sub.unsubscribe();
  });

  it('drops duplicates', async () => {
    const c = `t:${uniqueId()}`;
    const t = timeline();
    const sub = await subscriber.subscribe(c, t.handler);
    await publisher.publish(c, 'e', 1);
    await waitUntil(() => t.pubs().length === 1, 'first');
    const raw = JSON.stringify(t.pubs()[0]);
    const dupsBefore = subscriber.stats().duplicates;
    await client.publish(channelKeys(prefix, c).pubsub, raw);
    await client.publish(channelKeys(prefix, c).pubsub, raw);
    await publisher.publish(c, 'e', 2);
    await waitUntil(() => t.pubs().length === 2, 'second');
    await sleep(30);
    expect(t.pubs().map((p) => p.offset)).toEqual([1, 2]);
    expect(subscriber.stats().duplicates - dupsBefore).toBe(2);
    await sub.unsubscribe();
  });

  it('reports history_too_short with the current state when the gap is older than history, then goes on', async () => {
    const c = `small:${uniqueId()}`;
    const t = timeline();
    const sub = await subscriber.subscribe(c, t.handler);
    await publisher.publish(c, 'e', 1);
    await waitUntil(() => t.pubs().length === 1, 'first');
    for (let n = 2; n <= 10; n++) await publishUnseen(client, prefix, c, n, { historySize: 5 });
    await publisher.publish(c, 'e', 11);
    await waitUntil(() => t.resets().length === 1, 'reset');
    await publisher.publish(c, 'e', 12);
    await waitUntil(() => t.pubs().some((p) => p.offset === 12), 'after reset');
    const [reset] = t.resets();
    expect(reset).toMatchObject({ channel: c, reason: 'history_too_short', offset: 11 });
    expect(reset?.latest?.data).toBe(11);
    expect(t.events.map((x) => (x.kind === 'pub' ? x.p.offset : `reset@${x.e.offset}`))).toEqual([1, 'reset@11', 12]);
    await sub.unsubscribe();
  });

  it('reports epoch_changed when the channel lost its history (keys gone) and delivers the new epoch', async () => {
    const c = `t:${uniqueId()}`;
    const t = timeline();
    const sub = await subscriber.subscribe(c, t.handler);
    const old = await publisher.publish(c, 'e', 1);
    await waitUntil(() => t.pubs().length === 1, 'first');
    const keys = channelKeys(prefix, c);
    await client.del(keys.meta, keys.history); // as if the keys expired
    const fresh = await publisher.publish(c, 'e', 'new-1');
    await waitUntil(() => t.resets().length === 1, 'reset');
    await publisher.publish(c, 'e', 'new-2');
    await waitUntil(() => t.pubs().some((p) => p.data === 'new-2'), 'delivery in the new epoch');
    expect(fresh.epoch).not.toBe(old.epoch);
    const [reset] = t.resets();
    // The reset carries the current state of the new generation; delivery goes on after it.
    expect(reset).toMatchObject({ reason: 'epoch_changed', epoch: fresh.epoch, offset: 1 });
    expect(reset?.latest?.data).toBe('new-1');
    expect(t.events.map((x) => (x.kind === 'pub' ? `${x.p.data}@${x.p.offset}` : `reset@${x.e.offset}`))).toEqual([
      '1@1',
      'reset@1',
      'new-2@2',
    ]);
    expect(t.pubs()[1]?.epoch).toBe(fresh.epoch);
    await sub.unsubscribe();
  });

  it('rejects malformed, mistyped, foreign and huge messages, counts them, and keeps other channels flowing', async () => {
    const c = `tiny:${uniqueId()}`;
    const other = `t:${uniqueId()}`;
    const t = timeline();
    const o = collector();
    const subC = await subscriber.subscribe(c, t.handler);
    const subO = await subscriber.subscribe(other, o.handler);
    const first = await publisher.publish(c, 'e', 1);
    await waitUntil(() => t.pubs().length === 1, 'first');
    const invalidBefore = subscriber.stats().invalid;
    const errorsBefore = errors.length;
    const pubsub = channelKeys(prefix, c).pubsub;
    const valid = t.pubs()[0] as Publication;
    const bad = [
      'not json',
      '[1,2,3]',
      JSON.stringify({ ...valid, offset: 'two' }),
      JSON.stringify({ ...valid, offset: -1 }),
      JSON.stringify({ ...valid, channel: 'Bad Channel' }),
      JSON.stringify({ ...valid, channel: other, offset: 2 }),
      JSON.stringify({ ...valid, offset: 2, data: 'x'.repeat(10_000) }),
      JSON.stringify({ ...valid, offset: 999 }),
      JSON.stringify({ ...valid, epoch: 'bogus', offset: 2 }),
    ];
    for (const message of bad) await client.publish(pubsub, message);
    await publisher.publish(other, 'e', 'other');
    await publisher.publish(c, 'e', 2);
    await o.waitFor(1);
    await waitUntil(
      () => t.pubs().length === 2 && subscriber.stats().invalid - invalidBefore === bad.length,
      'valid after bad',
    );
    await sleep(50);
    expect(t.pubs().map((p) => [p.offset, p.data])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(t.pubs()[1]?.epoch).toBe(first.epoch);
    expect(t.resets()).toEqual([]);
    expect(o.publications.map((p) => p.data)).toEqual(['other']);
    expect(subscriber.stats().invalid - invalidBefore).toBe(bad.length);
    const reported = errors.slice(errorsBefore);
    expect(reported).toHaveLength(bad.length);
    expect(reported.every((e) => e instanceof TaskpulseError)).toBe(true);
    expect(new Set(reported.map((e) => e.code))).toEqual(new Set(['bad_frame', 'frame_too_large']));
    await subC.unsubscribe();
    await subO.unsubscribe();
  });

  it('takes one handler object twice (one delivery per subscription), and lets a handler unsubscribe another mid-delivery', async () => {
    const c = `t:${uniqueId()}`;
    const twice = collector();
    const first = await subscriber.subscribe(c, twice.handler);
    const second = await subscriber.subscribe(c, twice.handler);
    await publisher.publish(c, 'e', 1);
    await twice.waitFor(2);
    await first.unsubscribe();
    await first.unsubscribe(); // idempotent: the other subscription stays
    expect(await numsub(c)).toBe(1);
    await publisher.publish(c, 'e', 2);
    await twice.waitFor(3);

    // A handler that drops the next one while a publication is being handed out: the delivery
    // in progress still reaches it, later ones do not.
    const later = collector();
    let laterSub: Awaited<ReturnType<Subscriber['subscribe']>> | undefined;
    const dropper = await subscriber.subscribe(c, {
      onPublication() {
        void laterSub?.unsubscribe();
      },
    });
    laterSub = await subscriber.subscribe(c, later.handler);
    await publisher.publish(c, 'e', 3);
    await later.waitFor(1);
    await publisher.publish(c, 'e', 4);
    await twice.waitFor(5);
    await sleep(30);
    expect(later.publications.map((p) => p.data)).toEqual([3]);
    expect(twice.publications.map((p) => p.data)).toEqual([1, 1, 2, 3, 4]);
    await dropper.unsubscribe();
    await second.unsubscribe();
    expect(await numsub(c)).toBe(0);
  });

  it('isolates a throwing handler from the other handlers of the channel', async () => {
    const c = `t:${uniqueId()}`;
    const good = collector();
    const errorsBefore = subscriber.stats().handlerErrors;
    const bad = await subscriber.subscribe(c, {
      onPublication() {
        throw new Error('boom');
      },
    });
    const ok = await subscriber.subscribe(c, good.handler);
    await publisher.publish(c, 'e', 1);
    await publisher.publish(c, 'e', 2);
    await good.waitFor(2);
    expect(good.publications.map((p) => p.offset)).toEqual([1, 2]);
    expect(subscriber.stats().handlerErrors - errorsBefore).toBe(2);
    await bad.unsubscribe();
    await ok.unsubscribe();
  });

  it('rejects bad channel names and unknown namespaces before touching Redis', async () => {
    await expect(subscriber.subscribe('has space', collector().handler)).rejects.toMatchObject({ code: 'bad_channel' });
    await expect(subscriber.subscribe('nope:1', collector().handler)).rejects.toMatchObject({
      code: 'unknown_channel',
    });
  });
});
