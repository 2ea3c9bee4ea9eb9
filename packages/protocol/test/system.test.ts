import { describe, expect, it } from 'vitest';
import {
  createNamespaceResolver,
  isSystemChannel,
  nodeFiguresSchema,
  resolveNamespace,
  SYSTEM_NAMESPACE_OPTIONS,
  SYSTEM_NODES_CHANNEL,
} from '../src/index';

describe('the reserved system namespace', () => {
  it('resolves with the same options on every table, even one that refuses unknown namespaces', () => {
    expect(resolveNamespace(SYSTEM_NODES_CHANNEL, {})).toEqual(SYSTEM_NAMESPACE_OPTIONS);
    expect(resolveNamespace(SYSTEM_NODES_CHANNEL, { allowUnknownNamespaces: false })).toEqual(SYSTEM_NAMESPACE_OPTIONS);
    // A table entry cannot open it or change it.
    const resolve = createNamespaceResolver({
      namespaces: { 'taskpulse-system': { access: 'public', historySize: 5 } },
      namespaceDefaults: { historyTtlMs: 5 },
    });
    expect(resolve(SYSTEM_NODES_CHANNEL)).toEqual(SYSTEM_NAMESPACE_OPTIONS);
    expect(SYSTEM_NAMESPACE_OPTIONS.access).toBe('none');
    // Other namespaces are untouched: still refused when unknown.
    expect(() => resolveNamespace('taskpulse-systems:x', {})).toThrow(/unknown channel namespace/);
  });

  it('tells system channels from others', () => {
    expect(isSystemChannel(SYSTEM_NODES_CHANNEL)).toBe(true);
    expect(isSystemChannel('taskpulse-system')).toBe(true);
    expect(isSystemChannel('taskpulse-systemx:a')).toBe(false);
    expect(isSystemChannel('task:taskpulse-system')).toBe(false);
  });

  it('validates node figures', () => {
    const figures = {
      v: 1,
      nodeId: 'n1',
      startedAt: 1,
      at: 2,
      intervalMs: 1000,
      connections: { total: 2, byTransport: { websocket: 1, sse: 1 }, waitingPolls: 0 },
      users: 1,
      channels: {
        subscribed: 1,
        subscriptions: 2,
        top: [{ channel: 'task:1', subscribers: 2, publicationsPerSec: 1, deliveriesPerSec: 2 }],
      },
      rates: { publicationsIn: 1, deliveriesOut: 2, publishes: 0, recoveryReads: 0, pollRequests: 0 },
      totals: {
        publicationsIn: 5,
        deliveriesByTransport: { websocket: 5 },
        slowConsumerCuts: 0,
        subscribeOutcomes: { fresh: 2 },
        refusals: {},
        errors: {},
      },
      broker: { status: 'ready', outages: 0, downSince: null, epochResets: 0, epoch: 'e1' },
      eventLoop: { meanMs: 1, p99Ms: 2, maxMs: 3 },
      memory: { rssBytes: 1, heapUsedBytes: 1, heapTotalBytes: 1 },
    };
    expect(nodeFiguresSchema.parse(figures)).toEqual(figures);
    expect(nodeFiguresSchema.safeParse({ ...figures, broker: { ...figures.broker, status: 'purple' } }).success).toBe(
      false,
    );
    expect(nodeFiguresSchema.safeParse({ ...figures, users: -1 }).success).toBe(false);
  });
});
