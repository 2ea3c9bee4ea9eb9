import { CloseCode } from '@taskpulse/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { firstPingDelay, HeartbeatMonitor, slotMsFor } from '../src/ws/heartbeat';
import type { WsConnection } from '../src/ws/ws-connection';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';
import { TestClient } from './helpers/ws-client';

describe('heartbeats over real sockets', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('pings live peers every heartbeatIntervalMs and keeps them', async () => {
    t = await startHub({ heartbeatIntervalMs: 40, pongTimeoutMs: 200 });
    const c = await TestClient.connect(t.wsUrl);
    await c.subscribe('task:hb');
    await c.waitUntil(() => c.pings >= 4, 'four protocol pings', 5000);
    expect(c.closeInfo).toBeUndefined();
    expect(t.hub.stats().total_clients).toBe(1);
    await c.close();
  });

  it('cuts a peer that does not answer pings within pongTimeoutMs (dead peer)', async () => {
    t = await startHub({ heartbeatIntervalMs: 40, pongTimeoutMs: 80 });
    const dead = await TestClient.connect(t.wsUrl, { autoPong: false });
    const alive = await TestClient.connect(t.wsUrl);
    await dead.subscribe('task:hb');
    await alive.subscribe('task:hb');
    const closed = await dead.closed;
    // Cut without waiting for a closing handshake; the close frame written first tells why.
    expect(closed.code).toBe(CloseCode.Timeout);
    expect(dead.pings).toBeGreaterThanOrEqual(1);
    await waitUntil(() => t?.hub.stats().total_clients === 1, 'the dead peer to be released');
    expect(alive.closeInfo).toBeUndefined();
    expect(await t.hub.metrics.registry.getSingleMetricAsString('taskpulse_rejections_total')).toMatch(
      /reason="heartbeat_timeout"} 1/,
    );
    await alive.close();
  });
});

describe('first pings over real sockets', () => {
  let t: TestHub | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('pings connections opened together after half to all of the interval, not together', async () => {
    t = await startHub({ heartbeatIntervalMs: 1000, pongTimeoutMs: 2000 });
    const url = t.wsUrl;
    // 24 connections opened at once; each notes how long after its open the first ping came
    const firsts = await Promise.all(
      Array.from(
        { length: 24 },
        () =>
          new Promise<{ ws: WebSocket; ms: number }>((resolve, reject) => {
            const ws = new WebSocket(url);
            let openedAt = 0;
            ws.once('open', () => {
              openedAt = performance.now();
            });
            ws.once('ping', () => resolve({ ws, ms: performance.now() - openedAt }));
            ws.once('error', reject);
          }),
      ),
    );
    for (const { ws } of firsts) ws.close();
    const ms = firsts.map((f) => f.ms).sort((a, b) => a - b);
    // half an interval at the earliest; a whole one plus the wheel's slot (100 ms) and slack at the latest
    expect(ms[0]).toBeGreaterThanOrEqual(450);
    expect(ms[ms.length - 1]).toBeLessThan(1400);
    // spread over the half interval: 24 uniform draws over 500 ms span well over 150 ms
    expect((ms[ms.length - 1] as number) - (ms[0] as number)).toBeGreaterThan(150);
  });
});

describe('HeartbeatMonitor (clock driven)', () => {
  function fakeConnection(openedAt: number, subscriptions = 1, interval = 1000) {
    const events: string[] = [];
    const session = {
      subscriptionCount: subscriptions,
      lastActivityAt: openedAt,
      sendError: (code: string) => events.push(`error:${code}`),
    };
    let looks = 0;
    let closing = false;
    const connection = {
      /** How often the monitor looked at this connection (read `closing`). */
      get looks() {
        return looks;
      },
      get closing() {
        looks++;
        return closing;
      },
      heartbeatSlot: -1,
      pingSentAt: 0,
      nextPingAt: openedAt + interval,
      session,
      ping(now: number, every: number) {
        events.push(`ping@${now}`);
        this.pingSentAt = now;
        this.nextPingAt = now + every;
      },
      terminate(code?: number) {
        events.push(code === undefined ? 'terminate' : `terminate:${code}`);
        closing = true;
      },
      close(code: number) {
        events.push(`close:${code}`);
        closing = true;
      },
    };
    return { connection, events, session, asWs: connection as unknown as WsConnection };
  }

  function monitorOf(options: Partial<ConstructorParameters<typeof HeartbeatMonitor>[0]>, now = 0) {
    const counts = { dead: 0, idle: 0 };
    const monitor = new HeartbeatMonitor(
      {
        heartbeatIntervalMs: 1000,
        pongTimeoutMs: 400,
        idleTimeoutMs: 5000,
        onDeadPeer: () => counts.dead++,
        onIdle: () => counts.idle++,
        ...options,
      },
      now,
    );
    return { monitor, counts };
  }

  /** Adds a connection at `at` and checks it is pinged one interval (1000 ms) later, not before. */
  function expectFirstPingOneIntervalAfter(monitor: HeartbeatMonitor, at: number) {
    const c = fakeConnection(at);
    monitor.add(c.asWs, at);
    monitor.tick(at + 999);
    expect(c.events).toEqual([]);
    monitor.tick(at + 1000);
    expect(c.events).toEqual([`ping@${at + 1000}`]);
  }

  it('pings each connection on its own schedule, cuts unanswered ones and closes idle ones', () => {
    const { monitor, counts } = monitorOf({});
    const a = fakeConnection(0);
    const b = fakeConnection(500);
    const idle = fakeConnection(0, 0);
    monitor.add(a.asWs, 0);
    monitor.add(b.asWs, 500);
    monitor.add(idle.asWs, 0);
    try {
      const answer = () => {
        a.connection.pingSentAt = 0;
        idle.connection.pingSentAt = 0;
      };
      monitor.tick(999);
      expect(a.events).toEqual([]);
      monitor.tick(1000);
      expect(a.events).toEqual(['ping@1000']);
      expect(b.events).toEqual([]); // staggered: b connected later
      answer();
      monitor.tick(1500);
      expect(b.events).toEqual(['ping@1500']);
      monitor.tick(1899);
      expect(b.events).toEqual(['ping@1500']);
      monitor.tick(1900); // b has not answered for 400 ms
      expect(b.events).toEqual(['ping@1500', `terminate:${CloseCode.Timeout}`]);
      expect(counts.dead).toBe(1);
      expect(monitor.size).toBe(2); // b left the wheel
      monitor.tick(2000);
      expect(a.events).toEqual(['ping@1000', 'ping@2000']);
      answer();
      idle.session.lastActivityAt = 1000; // a frame at t=1000 postpones idleness
      monitor.tick(5999);
      answer();
      expect(idle.events.filter((e) => !e.startsWith('ping'))).toEqual([]);
      monitor.tick(6000);
      expect(idle.events.slice(-2)).toEqual(['error:idle_timeout', `close:${CloseCode.Timeout}`]);
      expect(counts.idle).toBe(1);
      expect(a.events.filter((e) => !e.startsWith('ping'))).toEqual([]);
      expect(monitor.size).toBe(1);
    } finally {
      monitor.stop();
    }
  });

  it('looks only at the connections whose deadline came, not at every connection', () => {
    const { monitor } = monitorOf({ heartbeatIntervalMs: 10_000, pongTimeoutMs: 2000, idleTimeoutMs: 0 });
    // 1,000 connections opened over 10 s: their first pings are spread over the next 10 s
    const all = Array.from({ length: 1000 }, (_, i) => fakeConnection(i * 10, 1, 10_000));
    for (const [i, c] of all.entries()) monitor.add(c.asWs, i * 10);
    const before = all.map((c) => c.connection.looks);
    try {
      monitor.tick(10_000); // deadlines 10,000…10,000 (the first connection's slot)
      monitor.tick(11_000); // deadlines up to 11,000: connections 0…100
      const looked = all.filter((c, i) => c.connection.looks > (before[i] as number)).length;
      expect(looked).toBe(101);
      expect(all.filter((c) => c.events.length > 0).length).toBe(101);
      expect(all[100]?.events).toEqual(['ping@11000']);
      expect(all[101]?.events).toEqual([]);
    } finally {
      monitor.stop();
    }
  });

  it('forgets removed connections and catches up after a long gap', () => {
    const { monitor } = monitorOf({ idleTimeoutMs: 0 });
    const a = fakeConnection(0);
    const b = fakeConnection(0);
    monitor.add(a.asWs, 0);
    monitor.add(b.asWs, 0);
    expect(monitor.size).toBe(2);
    monitor.remove(a.asWs);
    monitor.remove(a.asWs); // idempotent
    expect(monitor.size).toBe(1);
    const looksOfA = a.connection.looks;
    try {
      // The loop stalled for an hour: the due slots are visited, not 36,000 empty ones.
      monitor.tick(3_600_000);
      expect(a.events).toEqual([]);
      expect(a.connection.looks).toBe(looksOfA);
      expect(b.events).toEqual(['ping@3600000']);
      monitor.tick(3_600_400); // no pong within 400 ms
      expect(b.events).toEqual(['ping@3600000', `terminate:${CloseCode.Timeout}`]);
      expect(monitor.size).toBe(0);
    } finally {
      monitor.stop();
    }
  });

  it('goes on counting from a clock that went back', () => {
    const { monitor } = monitorOf({ idleTimeoutMs: 0 });
    try {
      monitor.tick(10_000);
      monitor.tick(5000); // the wall clock was stepped back
      expectFirstPingOneIntervalAfter(monitor, 5000);
    } finally {
      monitor.stop();
    }
  });

  it('closes a connection whose subscriptions were taken away once it is idle, without a client frame', () => {
    const { monitor, counts } = monitorOf({ idleTimeoutMs: 1500 });
    const c = fakeConnection(0, 1);
    monitor.add(c.asWs, 0);
    try {
      monitor.tick(1000);
      expect(c.events).toEqual(['ping@1000']);
      c.connection.pingSentAt = 0;
      c.session.subscriptionCount = 0; // removed by the server: no client frame moved lastActivityAt
      monitor.tick(1400); // the pong deadline's check: idle since 0, not yet for 1,500 ms
      expect(c.events).toEqual(['ping@1000']);
      monitor.tick(1500);
      expect(c.events.slice(-2)).toEqual(['error:idle_timeout', `close:${CloseCode.Timeout}`]);
      expect(counts.idle).toBe(1);
    } finally {
      monitor.stop();
    }
  });

  it('runs its timer only while it holds a connection', () => {
    vi.useFakeTimers({ now: 0 });
    const { monitor, counts } = monitorOf({ idleTimeoutMs: 0 });
    try {
      expect(vi.getTimerCount()).toBe(0); // no connection: nothing wakes the hub
      const a = fakeConnection(0);
      monitor.add(a.asWs, 0);
      expect(vi.getTimerCount()).toBe(1);
      monitor.remove(a.asWs);
      expect(vi.getTimerCount()).toBe(0);
      // Added again after a quiet minute, it is pinged one interval later, then cut without a pong;
      // the wheel is empty again and so is the timer list.
      vi.setSystemTime(60_000);
      const b = fakeConnection(60_000);
      monitor.add(b.asWs, 60_000);
      vi.advanceTimersByTime(1000);
      expect(b.events).toEqual(['ping@61000']);
      vi.advanceTimersByTime(400);
      expect(b.events).toEqual(['ping@61000', `terminate:${CloseCode.Timeout}`]);
      expect(counts.dead).toBe(1);
      expect(monitor.size).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
      // Once stopped (the binding closed), a late add starts nothing.
      monitor.stop();
      monitor.add(fakeConnection(61_400).asWs, 61_400);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      monitor.stop();
      vi.useRealTimers();
    }
  });

  it('counts from the clock when a connection comes to an empty wheel after the clock went back', () => {
    const { monitor } = monitorOf({ idleTimeoutMs: 0 }, 3_600_000);
    try {
      monitor.tick(3_600_000);
      // No timer ran while the wheel was empty; the wall clock was stepped back an hour meanwhile.
      expectFirstPingOneIntervalAfter(monitor, 0);
    } finally {
      monitor.stop();
    }
  });

  it('spreads first pings over the second half of the interval', () => {
    expect(firstPingDelay(30_000, () => 0)).toBe(15_000);
    expect(firstPingDelay(30_000, () => 0.999)).toBeCloseTo(29_985, 5);
    const delays = Array.from({ length: 1000 }, () => firstPingDelay(1000));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...delays)).toBeLessThan(1000);
    // spread, not clustered: every tenth of the range holds some of them
    const deciles = new Set(delays.map((d) => Math.floor((d - 500) / 50)));
    expect(deciles.size).toBe(10);
    expect(slotMsFor({ heartbeatIntervalMs: 30_000, pongTimeoutMs: 10_000, idleTimeoutMs: 300_000 })).toBe(100);
    expect(slotMsFor({ heartbeatIntervalMs: 40, pongTimeoutMs: 80, idleTimeoutMs: 0 })).toBe(10);
  });
});
