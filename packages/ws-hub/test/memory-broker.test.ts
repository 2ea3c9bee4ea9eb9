import { brokerConformance, collector } from '@taskpulse/testkit/conformance';
import { describe, expect, it } from 'vitest';
import { createMemoryBroker } from '../src/index';
import { TEST_NAMESPACES } from './helpers/hub';

brokerConformance('memory', {
  create: async (namespaces) => createMemoryBroker(namespaces),
});

describe('memory broker specifics', () => {
  it('isolates a throwing handler from the publisher and other handlers', async () => {
    const errors: unknown[] = [];
    const broker = createMemoryBroker({ namespaces: TEST_NAMESPACES, onError: (e) => errors.push(e) });
    await broker.subscribe('task:1', {
      onPublication() {
        throw new Error('boom');
      },
    });
    const good = collector();
    await broker.subscribe('task:1', good.handler);
    await expect(broker.publish('task:1', 'e', 1)).resolves.toMatchObject({ offset: 1 });
    expect(good.publications).toHaveLength(1);
    expect(errors).toHaveLength(1);
    await broker.close();
  });

  it('rejects every call after close with unavailable', async () => {
    const broker = createMemoryBroker({ namespaces: TEST_NAMESPACES });
    await broker.close();
    await broker.close();
    expect(broker.status()).toBe('closed');
    await expect(broker.publish('task:1', 'e', 1)).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('uses the injected clock for TTL expiry', async () => {
    let t = 1_000_000;
    const broker = createMemoryBroker({
      namespaces: TEST_NAMESPACES,
      now: () => t,
      namespaceDefaults: { historyTtlMs: 1000 },
    });
    const a = await broker.publish('task:1', 'e', 1);
    t += 999;
    expect((await broker.state('task:1')).epoch).toBe(a.epoch);
    t += 1001;
    expect((await broker.state('task:1')).epoch).not.toBe(a.epoch);
    await broker.close();
  });

  it('rejects data that is not JSON-serializable with bad_request', async () => {
    const broker = createMemoryBroker({ namespaces: TEST_NAMESPACES });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(broker.publish('task:1', 'e', cyclic)).rejects.toMatchObject({ code: 'bad_request' });
    await expect(broker.publish('task:1', 'e', undefined)).rejects.toMatchObject({ code: 'bad_request' });
    await broker.close();
  });

  it('rejects an out-of-range priority with bad_request, as the Redis broker does', async () => {
    const broker = createMemoryBroker({ namespaces: TEST_NAMESPACES });
    const col = collector();
    await broker.subscribe('task:1', col.handler);
    await expect(broker.publish('task:1', 'e', 1, { priority: 9 })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(broker.publish('task:1', 'e', 1, { priority: 0 })).rejects.toMatchObject({ code: 'bad_request' });
    expect((await broker.history('task:1')).publications).toEqual([]);
    expect(col.publications).toEqual([]);
    await broker.publish('task:1', 'e', 1, { priority: 4 });
    const [p] = await col.waitFor(1);
    expect(p).toMatchObject({ offset: 1, priority: 4 });
    await broker.close();
  });
});
