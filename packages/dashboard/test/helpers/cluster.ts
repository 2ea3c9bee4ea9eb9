/**
 * Two hub nodes with the dashboard on one real Redis, plus the clients that give them something
 * to show: WebSocket users on both nodes, an SSE user on the second.
 */
import { createRedisBroker, type RedisBroker } from '@taskpulse/redis-bridge';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { type AuthenticateFn, createHub, type Hub } from '@taskpulse/ws-hub';
import WebSocket from 'ws';

/** The operations key of the test deployment. */
export const OPS_KEY = 'ops-test-key-6f1d2c9a4b';

/** The namespaces of the test deployment. */
export const NAMESPACES = { task: { historySize: 200 } };

/** Users identify with `?token=<user id>` (enough for counting users per node). */
const authenticate: AuthenticateFn = (request) => {
  const token = new URL(request.url ?? '/', 'http://localhost').searchParams.get('token');
  return token ? { userId: token } : null;
};

/** One hub node. */
export interface TestNode {
  id: string;
  hub: Hub;
  broker: RedisBroker;
  httpUrl: string;
  wsUrl: string;
}

/** Starts a hub node with the dashboard on the shared Redis. */
export async function startNode(redis: RedisServer, prefix: string, id: string, assetsDir: string): Promise<TestNode> {
  const broker = createRedisBroker({ redis: redis.url, prefix, namespaces: NAMESPACES });
  await broker.ready();
  const hub = createHub({
    port: 0,
    host: '127.0.0.1',
    broker,
    authenticate,
    http: { opsApiKeys: [OPS_KEY] },
    dashboard: { assetsDir, nodeId: id, intervalMs: 500 },
    heartbeatIntervalMs: 5000,
  });
  await hub.listening;
  const port = hub.address()?.port;
  return { id, hub, broker, httpUrl: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/taskpulse/ws` };
}

/** A unique key prefix per run. */
export const testPrefix = () => `${uniqueId('dash')}:`;

export { startRedis };

/** A WebSocket user subscribed to `channel`; resolves once subscribed. */
export async function wsUser(node: TestNode, user: string, channel: string): Promise<WebSocket> {
  const ws = new WebSocket(`${node.wsUrl}?token=${user}`);
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { type: string };
      if (frame.type === 'welcome') ws.send(JSON.stringify({ type: 'subscribe', id: 1, channel }));
      if (frame.type === 'subscribed') resolve();
      if (frame.type === 'error') reject(new Error(String(raw)));
    });
  });
  return ws;
}

/** An SSE user subscribed to `channel`; resolves once the stream is open. Abort to close. */
export async function sseUser(node: TestNode, user: string, channel: string): Promise<AbortController> {
  const abort = new AbortController();
  const url = `${node.httpUrl}/taskpulse/sse?channel=${encodeURIComponent(channel)}&token=${user}`;
  const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
  if (response.status !== 200) throw new Error(`SSE refused: ${response.status}`);
  // Keep reading so the hub never sees a slow consumer.
  const reader = response.body?.getReader();
  (async () => {
    for (;;) if ((await reader?.read())?.done !== false) return;
  })().catch(() => {});
  return abort;
}

/**
 * A long-polling user of `channel` (a poll loop with `wait`, carrying the cursor); abort to stop.
 * Its polls hold no connection: the dashboard shows the ones in flight.
 */
export function pollUser(node: TestNode, user: string, channel: string): AbortController {
  const abort = new AbortController();
  (async () => {
    let since = '';
    while (!abort.signal.aborted) {
      const url = `${node.httpUrl}/taskpulse/poll?channel=${encodeURIComponent(channel)}&wait=5000&token=${user}${since}`;
      try {
        const response = await fetch(url, { signal: abort.signal });
        if (response.status === 200) since = `&since=${(await response.json()).cursor}`;
        else await new Promise((r) => setTimeout(r, 200));
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  })();
  return abort;
}

/** `/taskpulse/stats` of a node, with the operations key. */
export async function statsOf(
  node: TestNode,
): Promise<{ total_clients: number; by_transport: Record<string, number> }> {
  const response = await fetch(`${node.httpUrl}/taskpulse/stats`, { headers: { 'x-api-key': OPS_KEY } });
  if (response.status !== 200) throw new Error(`stats: ${response.status}`);
  return (await response.json()) as { total_clients: number; by_transport: Record<string, number> };
}

/** Resolves once `condition()` is truthy; rejects after `timeoutMs` naming `what`. */
export async function waitUntil(
  condition: () => unknown | Promise<unknown>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await condition()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (${String(last)})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
