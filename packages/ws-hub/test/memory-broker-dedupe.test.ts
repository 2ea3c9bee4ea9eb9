/**
 * Review of issue 9.6 in the memory broker: publication ids are deduplicated within the window,
 * forgotten after it, and remembering many of them does not make each publish scan them all.
 */
import { describe, expect, it } from 'vitest';
import { createMemoryBroker } from '../src/index';

const namespaces = { t: { historySize: 10 } };

describe('memory broker idempotent publish', () => {
  it('answers a repeated id with the first position within the window, and publishes it anew after', async () => {
    let clock = 1_000_000;
    const broker = createMemoryBroker({ namespaces, now: () => clock, dedupeWindowMs: 1000 });
    const first = await broker.publish('t:a', 'e', 1, { id: 'x' });
    const again = await broker.publish('t:a', 'e', 2, { id: 'x' });
    expect(again).toMatchObject({ offset: first.offset, duplicate: true });
    clock += 1001;
    const later = await broker.publish('t:a', 'e', 3, { id: 'x' });
    expect(later.offset).toBe(first.offset + 1);
    expect(later.duplicate).toBeUndefined();
    await broker.close();
  });

  it('does not scan every remembered id on each publish (cost per publish stays constant)', async () => {
    let reads = 0;
    const broker = createMemoryBroker({
      namespaces,
      now: () => {
        reads++;
        return 1_000_000;
      },
    });
    for (let i = 0; i < 5000; i++) await broker.publish('t:busy', 'e', i, { id: `id-${i}` });
    reads = 0;
    for (let i = 5000; i < 5100; i++) await broker.publish('t:busy', 'e', i, { id: `id-${i}` });
    // A handful of clock reads per publish, not one per remembered id (5000 here).
    expect(reads).toBeLessThan(100 * 20);
    // Every id is still remembered within the window.
    expect(await broker.publish('t:busy', 'e', 'again', { id: 'id-0' })).toMatchObject({ offset: 1, duplicate: true });
    await broker.close();
  });
});
