/**
 * The watched-channel cache of HTTP polling: once a channel is watched, an up-to-date poll (and a
 * poll a few publications behind) is answered without a broker read; after a reset or a broker
 * outage the next poll reads the broker again, so nothing is lost.
 */
import type { Broker, BrokerHandler, BrokerStatus, BrokerSubscription } from '@taskpulse/protocol';
import { SEED_NAMESPACES } from '@taskpulse/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBroker, type PollResponse } from '../src/index';
import { call } from './fixtures/http-client';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';

/**
 * A memory broker that counts reads, can fake an outage (status `down`, deliveries dropped while
 * down, as a pub/sub connection would miss them) and a reset (a new, empty broker: a new epoch).
 */
class TestBroker implements Broker {
  inner = createMemoryBroker({ namespaces: SEED_NAMESPACES });
  reads = 0;
  down = false;
  readonly #subs = new Map<BrokerHandler, BrokerSubscription>();

  publish: Broker['publish'] = (...args) => this.inner.publish(...args);
  namespaceOptions: Broker['namespaceOptions'] = (channel) => this.inner.namespaceOptions(channel);
  history: Broker['history'] = (channel, options) => {
    this.reads++;
    return this.inner.history(channel, options);
  };
  state: Broker['state'] = (channel) => {
    this.reads++;
    return this.inner.state(channel);
  };
  status(): BrokerStatus {
    return this.down ? 'down' : this.inner.status();
  }
  async subscribe(channel: string, handler: BrokerHandler): Promise<BrokerSubscription> {
    await this.#attach(channel, handler);
    return {
      channel,
      unsubscribe: async () => {
        await this.#subs.get(handler)?.unsubscribe();
        this.#subs.delete(handler);
      },
    };
  }
  async #attach(channel: string, handler: BrokerHandler): Promise<void> {
    const sub = await this.inner.subscribe(channel, {
      onPublication: (p) => {
        if (!this.down) handler.onPublication(p);
      },
    });
    this.#subs.set(handler, sub);
  }
  /** Loses everything: a new epoch; every subscriber hears `onReset` with the new position. */
  async reset(channel: string): Promise<void> {
    const old = this.inner;
    this.inner = createMemoryBroker({ namespaces: SEED_NAMESPACES });
    const handlers = [...this.#subs.keys()];
    for (const h of handlers) await this.#attach(channel, h);
    await old.close();
    const s = await this.inner.state(channel);
    for (const h of handlers) h.onReset?.({ channel, reason: 'history_lost', ...s } as never);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

let t: TestHub | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function setup(): Promise<{
  broker: TestBroker;
  poll: (q: string, headers?: Record<string, string>) => Promise<Awaited<ReturnType<typeof call<PollResponse>>>>;
}> {
  const broker = new TestBroker();
  t = await startHub({ broker });
  const url = t.httpUrl;
  return { broker, poll: (q, headers = {}) => call<PollResponse>(`${url}/taskpulse/poll?${q}`, { headers }) };
}

/** Polls until the hub answers from memory (the channel watched and its state read). */
async function watched(poll: (q: string) => Promise<unknown>, channel: string): Promise<void> {
  const core = (t as TestHub).hub.core;
  await waitUntil(async () => {
    const hits = core.watched.counts.hits;
    await poll(`channel=${channel}`);
    return core.watched.counts.hits > hits;
  }, 'the channel watched');
}

describe('polling from the watched-channel cache', () => {
  it('answers an up-to-date poll (304 and idle 200) and a poll a few behind without a broker read', async () => {
    const { broker, poll } = await setup();
    await broker.publish('task:w', 'progress', { n: 1 });
    await watched(poll, 'task:w');
    const first = await poll('channel=task:w');
    expect(first.body.channels['task:w']).toMatchObject({ offset: 1, state: { data: { n: 1 } } });
    const reads = broker.reads;

    const cursor = first.body.cursor;
    const etag = first.headers.get('etag') as string;
    const notModified = await poll(`channel=task:w&since=${cursor}`, { 'if-none-match': etag });
    expect(notModified.status).toBe(304);
    const idle = await poll(`channel=task:w&since=${cursor}`);
    expect(idle.body.channels['task:w']).toMatchObject({ recovered: true, publications: [], offset: 1 });
    expect(idle.body.cursor).toBe(cursor);

    for (let n = 2; n <= 4; n++) await broker.publish('task:w', 'progress', { n });
    const behind = await poll(`channel=task:w&since=${cursor}&limit=2`);
    expect(behind.body.channels['task:w']).toMatchObject({ recovered: true, offset: 3, more: true });
    expect(behind.body.channels['task:w']?.publications.map((p) => p.data)).toEqual([{ n: 2 }, { n: 3 }]);
    const rest = await poll(`channel=task:w&since=${behind.body.cursor}`);
    expect(rest.body.channels['task:w']?.publications.map((p) => p.data)).toEqual([{ n: 4 }]);
    expect(rest.body.channels['task:w']).not.toHaveProperty('more');
    expect(rest.body.last_id).toBe(4);
    expect(broker.reads).toBe(reads);

    // From the start of the kept publications (the state read's newest one, then each received).
    const epoch = first.body.positions['task:w']?.epoch as string;
    const start = Buffer.from(JSON.stringify({ 'task:w': [epoch, 0] })).toString('base64url');
    const all = await poll(`channel=task:w&since=${start}`);
    expect(all.body.channels['task:w']?.publications.map((p) => p.data)).toEqual([
      { n: 1 },
      { n: 2 },
      { n: 3 },
      { n: 4 },
    ]);
    expect(broker.reads).toBe(reads);
  });

  it('reads the broker after a reset: recovered false with the new state, then from memory again', async () => {
    const { broker, poll } = await setup();
    await broker.publish('task:r', 'progress', { n: 1 });
    await watched(poll, 'task:r');
    const before = (await poll('channel=task:r')).body.cursor;
    await broker.reset('task:r');
    await broker.publish('task:r', 'progress', { after: 1 });
    const r = await poll(`channel=task:r&since=${before}`);
    expect(r.body.channels['task:r']).toMatchObject({ recovered: false, offset: 1, state: { data: { after: 1 } } });
    await watched(poll, 'task:r');
    await broker.publish('task:r', 'progress', { after: 2 });
    const reads = broker.reads;
    const next = await poll(`channel=task:r&since=${r.body.cursor}`);
    expect(next.body.channels['task:r']?.publications.map((p) => p.data)).toEqual([{ after: 2 }]);
    expect(broker.reads).toBe(reads);
  });

  it('never answers from memory while the broker is down, and re-reads once it is back', async () => {
    const { broker, poll } = await setup();
    await watched(poll, 'task:o');
    const cursor = (await poll('channel=task:o')).body.cursor;
    broker.down = true;
    await broker.publish('task:o', 'progress', { missed: true });
    const reads = broker.reads;
    const during = await poll(`channel=task:o&since=${cursor}`);
    expect(broker.reads).toBeGreaterThan(reads);
    expect(during.body.channels['task:o']?.publications.map((p) => p.data)).toEqual([{ missed: true }]);
    broker.down = false;
    // The cache missed that publication: it must not answer "nothing new" from the old position.
    const after = await poll(`channel=task:o&since=${cursor}`);
    expect(after.body.channels['task:o']?.publications.map((p) => p.data)).toEqual([{ missed: true }]);
  });

  it('drops the watch of a channel on close and keeps reads free of broker writes', async () => {
    const { broker, poll } = await setup();
    await watched(poll, 'task:none');
    const core = (t as TestHub).hub.core;
    expect(core.watched.has('task:none')).toBe(true);
    expect((await broker.inner.state('task:none')).offset).toBe(0);
    await t?.close();
    t = undefined;
    expect(core.watched.size).toBe(0);
    expect(core.router.channelCount).toBe(0);
  });
});
