import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createHub } from '../src/index';
import { startHub, TEST_NAMESPACES } from './helpers/hub';
import { TestClient } from './helpers/ws-client';

describe('graceful close', () => {
  it('writes what is pending, closes sockets with 1001, closes its own broker and server', async () => {
    const t = await startHub();
    const a = await TestClient.connect(t.wsUrl);
    const b = await TestClient.connect(t.wsUrl);
    await a.subscribe('task:bye');
    // Published in the same turn as close(): still delivered before the close frame.
    const publishing = t.hub.core.publish('task:bye', 'e', 'last words');
    await publishing;
    const closing = t.hub.close();
    const [ca, cb] = await Promise.all([a.closed, b.closed]);
    await closing;
    expect(ca.code).toBe(1001);
    expect(cb.code).toBe(1001);
    expect(a.publicationsOf('task:bye').map((p) => p.data)).toEqual(['last words']);
    expect(t.hub.core.closed).toBe(true);
    expect(t.hub.ready()).toBe(false);
    expect(t.hub.broker.status()).toBe('closed');
    expect(t.hub.server?.listening).toBe(false);
    await t.hub.close(); // idempotent
  });

  it('cuts peers that do not complete the closing handshake after closeTimeoutMs', async () => {
    const t = await startHub({ closeTimeoutMs: 200 });
    const stuck = await TestClient.connect(t.wsUrl);
    stuck.pauseReading();
    await t.hub.close();
    expect(t.hub.stats().total_clients).toBe(0);
    stuck.resumeReading();
    const closed = await stuck.closed;
    expect([1001, 1006]).toContain(closed.code);
  });

  it('refuses upgrades that finish authenticating after close() started with 503', async () => {
    let release: () => void = () => {};
    let entered: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const reachedAuth = new Promise<void>((r) => {
      entered = r;
    });
    const t = await startHub({
      authenticate: async () => {
        entered();
        await gate;
        return { userId: 'late' };
      },
    });
    const attempt = TestClient.expectRejected(t.wsUrl);
    await reachedAuth;
    const closing = t.hub.close();
    release();
    await closing;
    const refused = await attempt;
    expect(refused.status).toBe(503);
    expect(refused.body?.error?.code).toBe('shutting_down');
    expect(t.hub.stats().total_clients).toBe(0);
  });

  it('leaves an attached server open and a given broker untouched', async () => {
    const server = createServer((_req, res) => res.end('app'));
    const { createMemoryBroker } = await import('../src/index');
    const broker = createMemoryBroker({ namespaces: TEST_NAMESPACES });
    const hub = createHub({ server, broker });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    const c = await TestClient.connect(`ws://127.0.0.1:${port}/taskpulse/ws`);
    await hub.close();
    expect((await c.closed).code).toBe(1001);
    expect(server.listening).toBe(true);
    expect(broker.status()).toBe('ready');
    expect(await (await fetch(`http://127.0.0.1:${port}/x`)).text()).toBe('app');
    await broker.close();
    await new Promise<void>((r) => server.close(() => r()));
  });
});
