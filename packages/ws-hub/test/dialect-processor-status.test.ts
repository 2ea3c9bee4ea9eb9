import { CloseCode, SEED_NAMESPACES } from '@taskpulse/protocol';
import { workerStatusSchema } from '@taskpulse/protocol/payloads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processorStatusDialect } from '../src/dialects/index';
import { call, liveSubscribers } from './fixtures/http-client';
import { LegacyClient } from './fixtures/legacy-client';
import { startHub, type TestHub } from './helpers/hub';
import { waitUntil } from './helpers/wait';

/** Seed 000's status JSON, field for field. */
const status = (n: number) => ({
  running: true,
  workers: 3,
  queue_pending: 156 - n,
  queue_retry: 2,
  queue_dead: 0,
  processed_total: 1234 + n,
  processed_today: 89 + n,
  speed: 2.5,
  last_error: n % 2 === 0 ? null : `failed #${n}`,
});

let t: TestHub;
let wsUrl: string;

beforeAll(async () => {
  t = await startHub({
    namespaces: SEED_NAMESPACES,
    dialects: [processorStatusDialect()],
    limits: { maxInvalidFrames: 3 },
  });
  wsUrl = `${t.httpUrl.replace('http', 'ws')}/ws/processor-status`;
});

afterAll(async () => {
  await t.close();
});

describe('seed 000 dialect: /ws/processor-status', () => {
  it('serves 404 over HTTP before the first status, then the bare status JSON', async () => {
    const none = await call(`${t.httpUrl}/api/processor/status`);
    expect(none.status).toBe(404);
    expect(none.body.error.code).toBe('not_found');
    const client = await LegacyClient.connect(wsUrl);
    await waitUntil(() => liveSubscribers(t.hub.core, 'processor:status') === 1, 'subscription');
    expect(client.messages).toEqual([]);

    await t.hub.core.publish('processor:status', 'status', status(1));
    await client.waitFor((c) => c.messages.length === 1, 'the first status');
    // Exactly the worker's JSON: `Object.assign(status, JSON.parse(e.data))` works unchanged.
    expect(client.messages[0]).toEqual(status(1));
    expect(workerStatusSchema.parse(client.messages[0])).toEqual(status(1));
    const rest = await call(`${t.httpUrl}/api/processor/status`);
    expect(rest.status).toBe(200);
    expect(rest.body).toEqual(status(1));

    await t.hub.core.publish('processor:status', 'status', status(2));
    await client.waitFor((c) => c.messages.length === 2, 'the second status');
    expect(client.messages[1]).toEqual(status(2));
    expect(t.hub.stats().by_transport['processor-status']).toBe(1);
    await client.close();
  });

  it('sends the current status at once to a new connection', async () => {
    await t.hub.core.publish('processor:status', 'status', status(3));
    const client = await LegacyClient.connect(wsUrl);
    await client.waitFor((c) => c.messages.length === 1, 'the current status');
    expect(client.messages[0]).toEqual(status(3));
    await client.close();
  });

  it('ignores client messages, and closes after too many that are not JSON', async () => {
    const client = await LegacyClient.connect(wsUrl);
    await client.waitFor((c) => c.messages.length === 1, 'the current status');
    client.send({ action: 'refresh' });
    client.send('not json');
    client.send('still not json');
    client.send('[1, 2');
    expect((await client.closed).code).toBe(CloseCode.BadRequest);
    expect(client.messages).toHaveLength(1);
  });

  it('closes the socket with 4403 when the status channel is forbidden (as the seed closes on errors)', async () => {
    const locked = await startHub({
      namespaces: { processor: { kind: 'state', access: 'none' } },
      dialects: [processorStatusDialect({ path: '/status-ws', restPath: '/status' })],
    });
    const client = await LegacyClient.connect(`${locked.httpUrl.replace('http', 'ws')}/status-ws`);
    expect((await client.closed).code).toBe(CloseCode.Forbidden);
    expect(client.messages).toEqual([]);
    const rest = await call(`${locked.httpUrl}/status`);
    expect(rest.status).toBe(403);
    expect((await call(`${locked.httpUrl}/api/processor/status`)).status).toBe(404);
    expect((await call(`${locked.httpUrl}/status`, { method: 'POST', body: {} })).status).toBe(405);
    await locked.close();
  });
});
