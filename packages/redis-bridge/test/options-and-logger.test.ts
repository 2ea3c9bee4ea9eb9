/**
 * Issue 9.17: every redis-bridge factory takes the flat `namespaces` record and throws a TypeError
 * naming the option for the nested shape, before opening any connection.
 * Issue 9.19: Redis `error` events go to the logger (throttled) and are counted, never to an empty
 * handler; errors without a caller default to a warning through the logger.
 */
import { SEED_NAMESPACES, type TaskpulseLogger } from '@taskpulse/protocol';
import { freePort, type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCeleryBridge } from '../src/celery/index';
import {
  type BridgeSource,
  createBridgeRunner,
  createHistoryReader,
  createJsonBridge,
  createPublisher,
  createRedisBroker,
  createSubscriber,
} from '../src/index';

function recordingLogger() {
  const lines: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, message, ...(fields ? { fields } : {}) });
    };
  const logger: TaskpulseLogger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

const source: BridgeSource = { name: 'noop', start: async () => {}, stop: async () => {} };

describe('namespace option shape in redis-bridge (issue 9.17)', () => {
  // An unused port: a factory that opened a connection before checking would log and retry.
  const url = 'redis://127.0.0.1:1';
  const nested = { namespaces: SEED_NAMESPACES };

  it('throws a TypeError naming the factory and the option for the nested table', () => {
    const cases: Array<[string, () => unknown]> = [
      // @ts-expect-error the nested table is a type error
      ['createRedisBroker', () => createRedisBroker({ redis: url, namespaces: nested })],
      // @ts-expect-error idem
      ['createPublisher', () => createPublisher({ redis: url, namespaces: nested })],
      // @ts-expect-error idem
      ['createSubscriber', () => createSubscriber({ redis: url, namespaces: nested })],
      // @ts-expect-error idem
      ['createHistoryReader', () => createHistoryReader({ redis: url, namespaces: nested })],
      // @ts-expect-error idem
      ['createBridgeRunner', () => createBridgeRunner({ redis: url, namespaces: nested, source })],
      [
        'createBridgeRunner',
        () =>
          createJsonBridge({
            redis: url,
            // @ts-expect-error idem
            namespaces: nested,
            sourceChannel: 'x',
            targetChannel: 'processor:status',
            event: 'status',
          }),
      ],
    ];
    for (const [name, create] of cases) {
      expect(create).toThrow(TypeError);
      expect(create).toThrow(new RegExp(`^${name}: namespaces\\["namespaces"\\] has an unknown field "task"`));
    }
  });

  it('refuses unknown namespaces by default (issue 9.9), and accepts the flat table', async () => {
    const publisher = createPublisher({ redis: url, commandTimeoutMs: 200 });
    await expect(publisher.publish('task:1', 'e', 1)).rejects.toMatchObject({ code: 'unknown_channel' });
    await publisher.close();
    const open = createPublisher({ redis: url, commandTimeoutMs: 200, namespaces: SEED_NAMESPACES });
    // Known namespace: the publish goes to Redis, which is unreachable here.
    await expect(open.publish('task:1', 'e', 1)).rejects.toMatchObject({ code: 'unavailable' });
    await open.close();
  });
});

describe('logger wiring (issue 9.19)', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('logs and counts Redis error events of the connections it owns', async () => {
    const port = await freePort();
    const { logger, lines } = recordingLogger();
    const broker = createRedisBroker({
      redis: `redis://127.0.0.1:${port}`,
      namespaces: { task: {} },
      commandTimeoutMs: 300,
      logger,
    });
    await expect(broker.ready()).rejects.toMatchObject({ code: 'unavailable' });
    await expect.poll(() => broker.stats().redisErrors, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    const errorLines = lines.filter((l) => l.level === 'warn' && l.message.startsWith('redis '));
    expect(errorLines.length).toBeGreaterThanOrEqual(1);
    expect(errorLines[0]?.message).toMatch(/ECONNREFUSED/);
    expect(errorLines[0]?.fields).toMatchObject({ code: 'ECONNREFUSED' });
    // Throttled: the same message repeated on every reconnect attempt is logged once per 30 s.
    const distinct = new Set(errorLines.map((l) => `${l.fields?.role}:${l.message}`));
    expect(errorLines.length).toBe(distinct.size);
    await broker.close();
  });

  it('sends errors that have no caller to the logger when no onError is given', async () => {
    const { logger, lines } = recordingLogger();
    const prefix = `${uniqueId('log')}:`;
    const broker = createRedisBroker({ redis: server.url, prefix, namespaces: { task: {} }, logger });
    await broker.ready();
    // A forged, invalid pub/sub message on a subscribed channel: no caller to reject.
    const seen: unknown[] = [];
    const sub = await broker.subscribe('task:1', { onPublication: (p) => seen.push(p) });
    const { Redis } = await import('ioredis');
    const raw = new Redis(server.url);
    await raw.publish(`${prefix}{task:1}`, 'not json');
    await expect
      .poll(() => lines.some((l) => l.level === 'warn' && l.fields?.channel === 'task:1'), { timeout: 5000 })
      .toBe(true);
    expect(seen).toEqual([]);
    raw.disconnect();
    await sub.unsubscribe();
    await broker.close();
  });
});

describe('Celery bridge options', () => {
  it('refuses a takeoverReplayMs outside 0…240000 (the publish script dedupes for 5 minutes) before connecting', () => {
    const create = (takeoverReplayMs: number) => () =>
      createCeleryBridge({
        redis: 'redis://127.0.0.1:1',
        namespaces: SEED_NAMESPACES,
        brokerUrl: 'redis://127.0.0.1:1/0',
        takeoverReplayMs,
      });
    for (const bad of [-1, 240_001, 1.5, Number.NaN]) {
      expect(create(bad), String(bad)).toThrow(
        new TypeError('takeoverReplayMs must be an integer number of milliseconds from 0 to 240000'),
      );
    }
  });
});
