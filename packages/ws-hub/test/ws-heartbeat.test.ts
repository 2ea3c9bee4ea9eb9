import { CloseCode } from '@taskpulse/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { HeartbeatMonitor } from '../src/ws/heartbeat';
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

describe('HeartbeatMonitor (clock driven)', () => {
  function fakeConnection(openedAt: number, subscriptions = 1) {
    const events: string[] = [];
    const session = {
      subscriptionCount: subscriptions,
      lastActivityAt: openedAt,
      sendError: (code: string) => events.push(`error:${code}`),
    };
    const connection = {
      closing: false,
      pingSentAt: 0,
      nextPingAt: openedAt + 1000,
      session,
      ping(now: number, interval: number) {
        events.push(`ping@${now}`);
        this.pingSentAt = now;
        this.nextPingAt = now + interval;
      },
      terminate(code?: number) {
        events.push(code === undefined ? 'terminate' : `terminate:${code}`);
        this.closing = true;
      },
      close(code: number) {
        events.push(`close:${code}`);
        this.closing = true;
      },
    };
    return { connection, events, session };
  }

  it('pings each connection on its own schedule, cuts unanswered ones and closes idle ones', () => {
    const a = fakeConnection(0);
    const b = fakeConnection(500);
    const idle = fakeConnection(0, 0);
    const connections = new Set([a.connection, b.connection, idle.connection] as unknown as WsConnection[]);
    let dead = 0;
    let idled = 0;
    const monitor = new HeartbeatMonitor({
      connections,
      heartbeatIntervalMs: 1000,
      pongTimeoutMs: 300,
      idleTimeoutMs: 5000,
      onDeadPeer: () => dead++,
      onIdle: () => idled++,
    });
    try {
      const answer = () => {
        a.connection.pingSentAt = 0;
        idle.connection.pingSentAt = 0;
      };
      monitor.tick(1000);
      expect(a.events).toEqual(['ping@1000']);
      expect(b.events).toEqual([]); // staggered: b connected later
      answer();
      monitor.tick(1500);
      expect(b.events).toEqual(['ping@1500']);
      monitor.tick(1800); // b has not answered for 300 ms
      expect(b.events).toEqual(['ping@1500', `terminate:${CloseCode.Timeout}`]);
      expect(dead).toBe(1);
      monitor.tick(2000);
      expect(a.events).toEqual(['ping@1000', 'ping@2000']);
      answer();
      idle.session.lastActivityAt = 1000; // a frame at t=1000 postpones idleness
      monitor.tick(5999);
      answer();
      expect(idle.events.filter((e) => !e.startsWith('ping'))).toEqual([]);
      monitor.tick(6000);
      expect(idle.events.slice(-2)).toEqual(['error:idle_timeout', `close:${CloseCode.Timeout}`]);
      expect(idled).toBe(1);
      expect(a.events.filter((e) => !e.startsWith('ping'))).toEqual([]);
    } finally {
      monitor.stop();
    }
  });
});
