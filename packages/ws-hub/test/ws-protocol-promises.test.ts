/**
 * Issue 9.14: what docs/protocol.md promises is what the hub does — version negotiation through
 * `Sec-WebSocket-Protocol` (4426 `unsupported_version`, read by a real Chromium too), binary frames
 * answered `bad_frame` (and closed with 4400 when they go on), 4503 where it is sent (dialect
 * endpoints). 4401 and 4403 are covered in ws-auth-expiry.test.ts.
 */
import {
  type Broker,
  CloseCode,
  SEED_NAMESPACES,
  type ServerFrame,
  TaskpulseError,
  WS_SUBPROTOCOL,
} from '@taskpulse/protocol';
import { requireBinary } from '@taskpulse/testkit';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { processorStatusDialect } from '../src/dialects/index';
import { createMemoryBroker } from '../src/index';
import { LegacyClient } from './fixtures/legacy-client';
import { startHub, type TestHub } from './helpers/hub';
import { TestClient } from './helpers/ws-client';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let t: TestHub;

beforeAll(async () => {
  t = await startHub({ namespaces: { task: {} }, limits: { maxInvalidFrames: 3 } });
});
afterAll(async () => {
  await t.close();
});

interface Opened {
  ws: WebSocket;
  frames: ServerFrame[];
  closed: Promise<{ code: number; reason: string }>;
}

/** Opens a raw socket offering `protocols`, recording frames and the close. */
function open(protocols: string[]): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(t.wsUrl, protocols);
    const frames: ServerFrame[] = [];
    const closed = new Promise<{ code: number; reason: string }>((done) => {
      ws.on('close', (code, reason) => done({ code, reason: reason.toString() }));
    });
    ws.on('message', (data) => frames.push(JSON.parse(data.toString()) as ServerFrame));
    ws.once('open', () => resolve({ ws, frames, closed }));
    ws.once('error', reject);
  });
}

describe('version negotiation (Sec-WebSocket-Protocol)', () => {
  it('selects taskpulse.v1 when offered, among others', async () => {
    expect(WS_SUBPROTOCOL).toBe('taskpulse.v1');
    const c = await open(['taskpulse.v2', WS_SUBPROTOCOL]);
    expect(c.ws.protocol).toBe('taskpulse.v1');
    await expect.poll(() => c.frames[0]?.type).toBe('welcome');
    expect(c.frames[0]).toMatchObject({ protocolVersion: 1 });
    c.ws.close();
    await c.closed;
  });

  it('speaks version 1 to a client that offers no subprotocol', async () => {
    const c = await open([]);
    expect(c.ws.protocol).toBe('');
    await expect.poll(() => c.frames[0]?.type).toBe('welcome');
    c.ws.close();
    await c.closed;
  });

  it('closes with 4426 and an unsupported_version error when only other versions are offered', async () => {
    const c = await open(['taskpulse.v2', 'graphql-transport-ws']);
    // The handshake completes (browsers fail one that selects nothing), then the refusal.
    expect(c.ws.protocol).toBe('taskpulse.v2');
    const closed = await c.closed;
    expect(closed.code).toBe(CloseCode.UnsupportedVersion);
    expect(closed.code).toBe(4426);
    expect(closed.reason).toContain('taskpulse.v1');
    expect(c.frames).toEqual([
      expect.objectContaining({
        type: 'error',
        code: 'unsupported_version',
        message: expect.stringContaining('taskpulse.v2'),
      }),
    ]);
    // Nobody was admitted.
    expect(t.hub.stats().total_clients).toBe(0);
  });
});

describe('binary frames', () => {
  it('answers a binary frame with bad_frame and keeps serving the connection', async () => {
    const c = await TestClient.connect(t.wsUrl);
    c.ws.send(Buffer.from(JSON.stringify({ type: 'ping', id: 1 })), { binary: true });
    await c.waitUntil(() => c.errors().length === 1, 'the bad_frame answer');
    expect(c.errors()[0]).toMatchObject({ code: 'bad_frame', message: expect.stringContaining('binary') });
    // The same frame as text is fine.
    expect(await c.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(c.frames.some((f) => f.type === 'pong' && (f as { id?: unknown }).id === 1)).toBe(false);
    await c.close();
  });

  it('closes with 4400 when binary frames go on (counted as invalid frames)', async () => {
    const c = await TestClient.connect(t.wsUrl);
    for (let i = 0; i < 3; i++) c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await c.closed).code).toBe(4400);
    expect(c.errors().map((e) => e.code)).toEqual(['bad_frame', 'bad_frame', 'bad_frame']);
  });
});

describe('in a real browser (Chromium)', () => {
  let browser: Browser;
  beforeAll(async () => {
    const executablePath = requireBinary(CHROMIUM, 'apt-get update && apt-get install -y chromium');
    browser = await chromium.launch({
      executablePath,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-gpu'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** Opens a WebSocket from a page and resolves with what the page saw. */
  async function fromPage(protocols: string[]): Promise<{ protocol: string; frames: string[]; code: number }> {
    const page = await browser.newPage();
    try {
      // A string, not a function: this file imports `ws`'s WebSocket, and the page needs its own.
      const script = `new Promise((resolve) => {
        const protocols = ${JSON.stringify(protocols)};
        const ws = new WebSocket(${JSON.stringify(t.wsUrl)}, protocols);
        const frames = [];
        let protocol = '';
        ws.onopen = () => {
          protocol = ws.protocol;
          if (protocols.includes('taskpulse.v1')) setTimeout(() => ws.close(1000), 200);
        };
        ws.onmessage = (e) => frames.push(String(e.data));
        ws.onclose = (e) => resolve({ protocol, frames, code: e.code });
      })`;
      return (await page.evaluate(script)) as { protocol: string; frames: string[]; code: number };
    } finally {
      await page.close();
    }
  }

  it('negotiates taskpulse.v1, and reads 4426 when it offers only another version', async () => {
    const ok = await fromPage(['taskpulse.v1']);
    expect(ok.protocol).toBe('taskpulse.v1');
    expect(JSON.parse(ok.frames[0] ?? '{}')).toMatchObject({ type: 'welcome', protocolVersion: 1 });
    const refused = await fromPage(['taskpulse.v9']);
    expect(refused.code).toBe(4426);
    expect(JSON.parse(refused.frames[0] ?? '{}')).toMatchObject({ type: 'error', code: 'unsupported_version' });
  });
});

describe('4503 on dialect endpoints', () => {
  it('closes a seed 000 connection with 4503 when its initial subscribe finds the broker unavailable', async () => {
    const inner = createMemoryBroker({ namespaces: SEED_NAMESPACES });
    // Ready for the upgrade (the native endpoint would refuse with HTTP 503 otherwise), but the
    // subscribe itself fails: Redis went away between the two.
    const broker: Broker = {
      ...inner,
      subscribe: () => Promise.reject(new TaskpulseError('unavailable', 'the broker is unreachable')),
    };
    const hub = await startHub({ broker, dialects: [processorStatusDialect()] });
    try {
      const client = await LegacyClient.connect(`${hub.httpUrl.replace('http', 'ws')}/ws/processor-status`);
      expect((await client.closed).code).toBe(4503);
    } finally {
      await hub.close();
      await inner.close();
    }
  });
});
