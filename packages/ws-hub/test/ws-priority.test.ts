import type { Publication } from '@taskpulse/protocol';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { isCritical, promoteCritical } from '../src/core/outbound-priority';
import { SerializedPublication } from '../src/core/serialized';
import { startHub, type TestHub } from './helpers/hub';
import { nextTurn, waitUntil } from './helpers/wait';
import { TestClient } from './helpers/ws-client';

const PAYLOAD = 'p'.repeat(2000);
const BACKLOG_BYTES = 200 * 1024;

describe('priority under backpressure (seed 003)', () => {
  let t: TestHub | undefined;
  const clients: TestClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) {
      c.resumeReading();
      await c.close();
    }
    await t?.close();
    t = undefined;
  });

  /**
   * A slow consumer of a test's progress and the alerts: progress is published until the hub holds
   * a backlog for it, then three alerts with `alertPriority`, then more progress; then it reads.
   * Returns what it received, in order, and the progress offsets published before the first alert.
   */
  async function run(alertPriority: number) {
    t = await startHub({
      limits: { maxBufferedBytes: 64 * 1024 * 1024 },
      namespaces: {
        'test-progress': { historySize: 10_000 },
        'system-alerts': { historySize: 100 },
        processor: { kind: 'state', historySize: 1 },
      },
    });
    const { hub, wsUrl } = t;
    const slow = await TestClient.connect(wsUrl);
    clients.push(slow);
    await slow.subscribe('test-progress:t1');
    await slow.subscribe('system-alerts');
    await slow.subscribe('processor:status');
    slow.pauseReading();
    let progress = 0;
    while (hub.wsStats().queuedBytes < BACKLOG_BYTES && progress < 20_000) {
      for (let i = 0; i < 20; i++) {
        await hub.core.publish('test-progress:t1', 'test:progress', { n: ++progress, PAYLOAD }, { priority: 3 });
      }
      await nextTurn();
    }
    expect(hub.wsStats().queuedBytes).toBeGreaterThanOrEqual(BACKLOG_BYTES);
    const beforeAlerts = progress;
    for (let i = 1; i <= 3; i++) {
      await hub.core.publish('system-alerts', 'system:alert', { n: i }, { priority: alertPriority });
      // State publications: critical ones are never conflated, others keep only the newest.
      await hub.core.publish('processor:status', 'status', { n: i }, { priority: alertPriority });
    }
    for (let i = 0; i < 20; i++) {
      await hub.core.publish('test-progress:t1', 'test:progress', { n: ++progress, PAYLOAD }, { priority: 3 });
    }
    slow.resumeReading();
    await slow.waitForPublications('test-progress:t1', progress, 30_000);
    await waitUntil(() => slow.publicationsOf('system-alerts').length === 3, 'the alerts');
    return { received: slow.publications, beforeAlerts, total: progress, slow };
  }

  function overtaken(received: Publication[], beforeAlerts: number): number {
    const firstAlert = received.findIndex((p) => p.channel === 'system-alerts');
    return received
      .slice(firstAlert)
      .filter((p) => p.channel === 'test-progress:t1' && (p.data as { n: number }).n <= beforeAlerts).length;
  }

  it('writes critical publications ahead of the queued backlog of other channels, in order, never conflated', async () => {
    const { received, beforeAlerts, total, slow } = await run(1);
    // Progress published before the alerts but still queued in the hub arrived after them.
    expect(overtaken(received, beforeAlerts)).toBeGreaterThan(0);
    // Nothing lost, and order within each channel intact.
    const progressSeen = slow.publicationsOf('test-progress:t1').map((p) => (p.data as { n: number }).n);
    expect(progressSeen).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(slow.publicationsOf('system-alerts').map((p) => (p.data as { n: number }).n)).toEqual([1, 2, 3]);
    await waitUntil(() => slow.publicationsOf('processor:status').length === 3, 'every critical state publication');
    expect(slow.publicationsOf('processor:status').map((p) => (p.data as { n: number }).n)).toEqual([1, 2, 3]);
    expect(slow.violations).toEqual([]);
  });

  it('leaves lower priorities in publication order (and conflates state)', async () => {
    const { received, beforeAlerts, slow } = await run(3);
    expect(overtaken(received, beforeAlerts)).toBe(0);
    await waitUntil(() => slow.publicationsOf('processor:status').length >= 1, 'the state');
    expect(slow.publicationsOf('processor:status').map((p) => (p.data as { n: number }).n)).toEqual([3]);
  });
});

describe('promoteCritical (property)', () => {
  const entry = fc.oneof(
    { weight: 1, arbitrary: fc.constant<string | null>('{"type":"pong"}') },
    { weight: 1, arbitrary: fc.constant<string | null>(null) },
    {
      weight: 8,
      arbitrary: fc.record({ channel: fc.constantFrom('a', 'b', 'c'), priority: fc.constantFrom(1, 2, 3, 4) }),
    },
  );

  it('keeps every entry, the order within each channel and around control frames, and moves critical ones forward', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 40 }), (spec) => {
        let offset = 0;
        const queue = spec.map((e) =>
          e === null || typeof e === 'string'
            ? e
            : new SerializedPublication({
                channel: e.channel,
                epoch: 'e',
                offset: ++offset,
                event: 'x',
                data: null,
                ts: 0,
                priority: e.priority,
              }),
        );
        const out = promoteCritical(queue);
        const kept = queue.filter((e) => e !== null);
        expect(out).toHaveLength(kept.length);
        expect(new Set(out)).toEqual(new Set(kept));
        const pubs = (list: typeof out, channel: string) =>
          list.flatMap((e) => (typeof e !== 'string' && e.pub.channel === channel ? [e.pub.offset] : []));
        for (const channel of ['a', 'b', 'c']) expect(pubs(out, channel)).toEqual(pubs(kept, channel));
        // Control frames keep their index among control frames and nothing crosses one.
        const segments = (list: typeof out) => {
          const result: number[][] = [[]];
          for (const e of list) {
            if (typeof e === 'string') result.push([]);
            else (result.at(-1) as number[]).push(e.pub.offset);
          }
          return result.map((s) => [...s].sort((x, y) => x - y));
        };
        expect(segments(out)).toEqual(segments(kept));
        // Within a segment, a critical publication is never behind a non-critical one of another
        // channel unless its own channel had something earlier.
        let blocked = new Set<string>();
        let seenOther = false;
        for (const e of out) {
          if (typeof e === 'string') {
            blocked = new Set();
            seenOther = false;
            continue;
          }
          if (isCritical(e) && !blocked.has(e.pub.channel)) expect(seenOther).toBe(false);
          if (!isCritical(e)) {
            seenOther = true;
            blocked.add(e.pub.channel);
          }
        }
      }),
    );
  });
});
