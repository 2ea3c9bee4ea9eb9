import type { NodeFigures } from '@taskpulse/protocol';
import { describe, expect, it } from 'vitest';
import { createNodesStore, FORGET_AFTER_MS } from '../app/nodes-store';

function figures(nodeId: string, at: number, over: Partial<NodeFigures> = {}): NodeFigures {
  return {
    v: 1,
    nodeId,
    startedAt: 0,
    at,
    intervalMs: 1000,
    connections: { total: 2, byTransport: { websocket: 1, sse: 1 }, waitingPolls: 0 },
    users: 2,
    channels: { subscribed: 1, subscriptions: 2, top: [] },
    rates: { publicationsIn: 10, deliveriesOut: 20, publishes: 0, recoveryReads: 0, pollRequests: 0 },
    totals: {
      publicationsIn: 100,
      deliveriesByTransport: { websocket: 200 },
      slowConsumerCuts: 1,
      subscribeOutcomes: {},
      refusals: { rate_limited: 2 },
      errors: {},
    },
    broker: { status: 'ready', outages: 0, downSince: null, epochResets: 0, epoch: 'e' },
    eventLoop: { meanMs: 1, p99Ms: 2, maxMs: 3 },
    memory: { rssBytes: 1, heapUsedBytes: 1, heapTotalBytes: 1 },
    ...over,
  };
}

describe('the nodes store', () => {
  it('sums live nodes, ignores older figures, marks silent nodes stale and forgets them', () => {
    const store = createNodesStore();
    store.ingest(figures('a', 10_000), 10_000);
    store.ingest(
      figures('b', 10_100, { broker: { status: 'down', outages: 1, downSince: 9000, epochResets: 1, epoch: 'e' } }),
      10_100,
    );
    store.ingest(figures('a', 9_000, { users: 99 }), 10_200); // older: ignored
    expect(store.nodes.value.get('a')?.figures.users).toBe(2);
    expect(store.totals()).toMatchObject({
      nodes: 2,
      connections: 4,
      byTransport: { websocket: 2, sse: 2 },
      publicationsIn: 20,
      deliveriesOut: 40,
      slowConsumerCuts: 2,
      refusals: { rate_limited: 4 },
      brokerDown: 1,
      epochResets: 1,
    });
    store.tick(13_050); // a silent for just over 3 intervals, b not yet
    expect(store.nodes.value.get('a')?.state).toBe('stale');
    expect(store.totals().nodes).toBe(1);
    store.ingest(figures('a', 14_000), 14_000);
    expect(store.nodes.value.get('a')?.state).toBe('live');
    store.tick(14_000 + FORGET_AFTER_MS + 1);
    expect([...store.nodes.value.keys()]).toEqual([]);
  });

  it('drops a node that stopped', () => {
    const store = createNodesStore();
    store.ingest(figures('a', 1000), 1000);
    store.drop('a');
    expect(store.nodes.value.size).toBe(0);
  });

  it('aligns chart series by second and carries a node over a skipped second in the total', () => {
    const store = createNodesStore();
    const at = (s: number) => s * 1000 + 100;
    for (const s of [100, 101, 102])
      store.ingest(figures('a', at(s), { rates: { ...figures('a', 0).rates, deliveriesOut: s } }), at(s));
    // b skips second 101
    for (const s of [100, 102])
      store.ingest(figures('b', at(s), { rates: { ...figures('b', 0).rates, deliveriesOut: 1 } }), at(s));
    const [xs, total, a, b] = store.chart('deliveriesOut', ['a', 'b']);
    expect(xs).toEqual([100, 101, 102]);
    expect(a).toEqual([100, 101, 102]);
    expect(b).toEqual([1, null, 1]);
    expect(total).toEqual([101, 102, 103]);
  });
});

describe('latency charts', () => {
  it('show the worst node over all, not a sum', () => {
    const store = createNodesStore();
    const loop = (p99Ms: number) => ({ meanMs: 1, p99Ms, maxMs: p99Ms });
    store.ingest(figures('a', 5_100, { eventLoop: loop(12) }), 5_100);
    store.ingest(figures('b', 5_200, { eventLoop: loop(30) }), 5_200);
    expect(store.chart('loopP99Ms', ['a', 'b'], 'max')).toEqual([[5], [30], [12], [30]]);
    expect(store.chart('loopP99Ms', ['a', 'b'])[1]).toEqual([42]);
  });
});
