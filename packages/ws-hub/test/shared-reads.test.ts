import type { Broker, HistoryOptions, ServerFrame } from '@taskpulse/protocol';
import { describe, expect, it } from 'vitest';
import type { SessionTransport } from '../src/core/session';
import { createHubCore, createMemoryBroker } from '../src/index';

/** A memory broker that counts reads and can hold history reads until released. */
function countingBroker() {
  const inner = createMemoryBroker({
    namespaceDefaults: { historySize: 1000 },
    namespaces: { task: {}, small: { historySize: 10 } },
  });
  const counts = { history: 0, state: 0 };
  let gate: Promise<void> | null = null;
  let release = () => {};
  const broker: Broker = {
    ...inner,
    publish: inner.publish.bind(inner),
    subscribe: inner.subscribe.bind(inner),
    namespaceOptions: inner.namespaceOptions.bind(inner),
    status: inner.status.bind(inner),
    close: inner.close.bind(inner),
    async history(channel: string, options?: HistoryOptions) {
      counts.history++;
      const result = await inner.history(channel, options);
      if (gate) await gate;
      return result;
    },
    // Recovery reads pass the stored texts through: they come here.
    async historyMessages(channel: string, options?: HistoryOptions) {
      counts.history++;
      const result = await (inner.historyMessages as NonNullable<Broker['historyMessages']>)(channel, options);
      if (gate) await gate;
      return result;
    },
    async state(channel: string) {
      counts.state++;
      return inner.state(channel);
    },
  };
  return {
    broker,
    counts,
    hold() {
      gate = new Promise((r) => {
        release = () => {
          gate = null;
          r();
        };
      });
    },
    release: () => release(),
  };
}

function collecting() {
  const frames: ServerFrame[] = [];
  const transport: SessionTransport = {
    name: 'test',
    sendControl: (text) => frames.push(JSON.parse(text)),
    deliver: (p) => frames.push(JSON.parse(p.frame)),
    close: () => {},
  };
  const offsets = () => frames.flatMap((f) => (f.type === 'publication' ? [f.offset] : []));
  return { frames, transport, offsets };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('shared recovery reads', () => {
  it('serves 200 clients recovering from one position with one history read, each exactly once', async () => {
    const { broker, counts } = countingBroker();
    const core = createHubCore({ broker, limits: { maxConnectionsPerUser: 1000 } });
    const first = await core.publish('task:herd', 'e', 0);
    for (let i = 1; i < 500; i++) await core.publish('task:herd', 'e', i);
    const clients = Array.from({ length: 200 }, () => collecting());
    const sessions = clients.map((c) => core.openSession({}, c.transport));
    await Promise.all(sessions.map((s) => s.subscribe('task:herd', { epoch: first.epoch, offset: 100 })));
    expect(counts.history).toBe(1);
    for (const c of clients) {
      expect(c.frames[0]).toMatchObject({ type: 'subscribed', recovered: true });
      expect(c.offsets()).toEqual(range(101, 500));
    }
    await core.close();
    await broker.close();
  });

  it('shares one read between clients at different positions of the same epoch', async () => {
    const { broker, counts } = countingBroker();
    const core = createHubCore({ broker });
    const first = await core.publish('task:mixed', 'e', 0);
    for (let i = 1; i < 50; i++) await core.publish('task:mixed', 'e', i);
    const clients = [10, 20, 30, 49, 50].map((offset) => ({ offset, ...collecting() }));
    await Promise.all(
      clients.map((c) =>
        core.openSession({}, c.transport).subscribe('task:mixed', { epoch: first.epoch, offset: c.offset }),
      ),
    );
    expect(counts.history).toBe(1);
    for (const c of clients) expect(c.offsets()).toEqual(range(c.offset + 1, 50));
    await core.close();
    await broker.close();
  });

  it('fills the window between a shared read and a later attach from the router tail', async () => {
    const gated = countingBroker();
    const core = createHubCore({ broker: gated.broker });
    const first = await core.publish('task:late', 'e', 0);
    for (let i = 1; i < 10; i++) await core.publish('task:late', 'e', i);
    const a = collecting();
    const b = collecting();
    gated.hold();
    // A attaches and starts the read; the read's snapshot ends at offset 10.
    const subA = core.openSession({}, a.transport).subscribe('task:late', { epoch: first.epoch, offset: 5 });
    await new Promise((r) => setTimeout(r, 10));
    // Published after the snapshot, before B attaches: only the router's tail has them for B.
    for (let i = 10; i < 15; i++) await core.publish('task:late', 'e', i);
    const subB = core.openSession({}, b.transport).subscribe('task:late', { epoch: first.epoch, offset: 5 });
    await new Promise((r) => setTimeout(r, 10));
    gated.release();
    await Promise.all([subA, subB]);
    await core.publish('task:late', 'e', 15);
    expect(gated.counts.history).toBe(1);
    expect(a.offsets()).toEqual(range(6, 16));
    expect(b.offsets()).toEqual(range(6, 16));
    await core.close();
    await gated.broker.close();
  });

  it('answers a herd whose gap is older than history with one read, recovered=false for all', async () => {
    const { broker, counts } = countingBroker();
    const core = createHubCore({ broker });
    const first = await core.publish('small:old', 'e', 0);
    for (let i = 1; i < 50; i++) await core.publish('small:old', 'e', i);
    const clients = Array.from({ length: 50 }, () => collecting());
    await Promise.all(
      clients.map((c) => core.openSession({}, c.transport).subscribe('small:old', { epoch: first.epoch, offset: 5 })),
    );
    expect(counts.history).toBe(1);
    for (const c of clients) {
      expect(c.frames[0]).toMatchObject({ type: 'subscribed', recovered: false, offset: 50 });
      expect(c.offsets()).toEqual([]);
    }
    await core.close();
    await broker.close();
  });

  it('coalesces the state reads of a fresh-subscribe herd', async () => {
    const { broker, counts } = countingBroker();
    const core = createHubCore({ broker });
    await core.publish('task:fresh', 'e', 0);
    const clients = Array.from({ length: 100 }, () => collecting());
    await Promise.all(clients.map((c) => core.openSession({}, c.transport).subscribe('task:fresh')));
    expect(counts.state).toBe(1);
    await core.publish('task:fresh', 'e', 1);
    for (const c of clients) expect(c.offsets()).toEqual([2]);
    await core.close();
    await broker.close();
  });
});
