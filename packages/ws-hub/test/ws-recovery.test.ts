import type { Publication, SubscribedFrame } from '@taskpulse/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBroker } from '../src/index';
import { startHub, type TestHub } from './helpers/hub';
import { nextTurn } from './helpers/wait';
import { TestClient } from './helpers/ws-client';

describe('recovery over WebSocket', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('resumes after a reconnect with exactly the missed publications, then live ones', async () => {
    t = await startHub({ namespaces: { task: { historySize: 500 } } });
    const { hub, wsUrl } = t;
    const first = await TestClient.connect(wsUrl);
    await first.subscribe('task:r1');
    await first.subscribe('task:r2');
    for (let i = 1; i <= 20; i++) {
      await hub.core.publish('task:r1', 'e', i);
      await hub.core.publish('task:r2', 'e', -i);
    }
    await first.waitForPublications('task:r1', 20);
    await first.waitForPublications('task:r2', 20);
    const positions = new Map(first.positions);
    await first.close();

    for (let i = 21; i <= 60; i++) await hub.core.publish('task:r1', 'e', i);
    for (let i = 21; i <= 25; i++) await hub.core.publish('task:r2', 'e', -i);

    const second = await TestClient.connect(wsUrl);
    // Live publications keep flowing while the client resubscribes.
    const live = (async () => {
      for (let i = 61; i <= 80; i++) {
        await hub.core.publish('task:r1', 'e', i);
        if (i % 3 === 0) await nextTurn();
      }
    })();
    const [s1, s2] = await Promise.all([
      second.subscribe('task:r1', positions.get('task:r1')),
      second.subscribe('task:r2', positions.get('task:r2')),
    ]);
    await live;
    expect(s1.recovered).toBe(true);
    expect(s2.recovered).toBe(true);
    const r1 = await second.waitForPublications('task:r1', 60);
    const r2 = await second.waitForPublications('task:r2', 5);
    expect(r1.map((p) => p.data)).toEqual(Array.from({ length: 60 }, (_, i) => i + 21));
    expect(r2.map((p) => p.data)).toEqual([-21, -22, -23, -24, -25]);
    expect(second.violations).toEqual([]);
    await second.close();
  });

  it('says recovered: false for an unknown epoch or a gap older than the history, with the current state', async () => {
    t = await startHub({
      namespaces: { task: { historySize: 5 }, processor: { kind: 'state', historySize: 1 } },
    });
    const { hub, wsUrl } = t;
    const c = await TestClient.connect(wsUrl);
    const firstPub = await hub.core.publish('task:old', 'e', 1);
    for (let i = 2; i <= 20; i++) await hub.core.publish('task:old', 'e', i);
    const tooOld = await c.subscribe('task:old', { epoch: firstPub.epoch, offset: 2 });
    expect(tooOld).toMatchObject({ recovered: false, epoch: firstPub.epoch, offset: 20 });

    await hub.core.publish('processor:status', 'status', { v: 'now' });
    const unknown: SubscribedFrame = await c.subscribe('processor:status', { epoch: 'gone-epoch', offset: 3 });
    expect(unknown).toMatchObject({ recovered: false, kind: 'state', offset: 1 });
    expect((unknown.state as Publication).data).toEqual({ v: 'now' });
    await c.close();
  });

  it('re-baselines a live subscriber with an unsolicited subscribed frame when the history is lost', async () => {
    let now = 1_000_000;
    const broker = createMemoryBroker({ namespaces: { task: { historyTtlMs: 1000 } }, now: () => now });
    t = await startHub({ broker });
    const c = await TestClient.connect(t.wsUrl);
    const sub = await c.subscribe('task:ttl');
    await t.hub.core.publish('task:ttl', 'e', 'before');
    await c.waitForPublications('task:ttl', 1);
    now += 5000; // the channel's history expires: the next publication starts a new epoch
    await t.hub.core.publish('task:ttl', 'e', 'after');
    const rebaseline = await c.waitForFrame(
      (f) => f.type === 'subscribed' && f.channel === 'task:ttl' && f.recovered === false,
      'unsolicited subscribed frame',
    );
    const after = await c.waitForPublications('task:ttl', 2);
    expect((rebaseline as SubscribedFrame).epoch).not.toBe(sub.epoch);
    expect(after[1]).toMatchObject({ data: 'after', offset: 1, epoch: (rebaseline as SubscribedFrame).epoch });
    // The re-baseline comes before the first publication of the new epoch.
    expect(c.frames.indexOf(rebaseline)).toBeLessThan(
      c.frames.findIndex((f) => f.type === 'publication' && f.data === 'after'),
    );
    await c.close();
    await t.close();
    // A broker passed in belongs to the caller: the hub does not close it.
    expect(broker.status()).toBe('ready');
    await broker.close();
  });
});
