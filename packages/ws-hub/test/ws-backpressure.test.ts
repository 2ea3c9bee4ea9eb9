import type { Socket } from 'node:net';
import { CloseCode } from '@taskpulse/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type TestHub } from './helpers/hub';
import { nextTurn, waitUntil } from './helpers/wait';
import { TestClient } from './helpers/ws-client';

const MAX_BUFFERED = 512 * 1024;
const PAYLOAD = 'x'.repeat(4000);
// Enough to fill the loopback socket buffers several times over; the loops stop much earlier.
const MAX_PUBLICATIONS = 12_000;

/** The frames of a server's byte stream (unmasked), as opcode and payload. */
function serverFrames(bytes: Buffer): { opcode: number; payload: Buffer }[] {
  const out: { opcode: number; payload: Buffer }[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = (bytes[at] as number) & 0x0f;
    let length = (bytes[at + 1] as number) & 0x7f;
    let header = 2;
    if (length === 126) {
      length = bytes.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      length = Number(bytes.readBigUInt64BE(at + 2));
      header = 10;
    }
    if (at + header + length > bytes.length) break;
    out.push({ opcode, payload: bytes.subarray(at + header, at + header + length) });
    at += header + length;
  }
  expect(at, 'the stream ends on a frame boundary').toBe(bytes.length);
  return out;
}

describe('backpressure', () => {
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

  async function startFloodHub() {
    t = await startHub({
      limits: { maxBufferedBytes: MAX_BUFFERED },
      namespaces: {
        task: { kind: 'events', historySize: MAX_PUBLICATIONS, maxPayloadBytes: 16 * 1024 },
        processor: { kind: 'state', historySize: 1, maxPayloadBytes: 16 * 1024 },
      },
    });
    return t;
  }

  it('cuts an events subscriber that stops reading with 4509, keeps hub memory bounded, and the client recovers', async () => {
    const { hub, wsUrl } = await startFloodHub();
    const slow = await TestClient.connect(wsUrl);
    clients.push(slow);
    const fast = await TestClient.connect(wsUrl);
    clients.push(fast);
    await slow.subscribe('task:flood');
    await fast.subscribe('task:flood');
    slow.pauseReading();

    // Publish in turns (as a broker would deliver them) until the hub gives up on the slow client.
    let published = 0;
    while (hub.wsStats().slowConsumerDisconnects === 0 && published < MAX_PUBLICATIONS) {
      for (let i = 0; i < 25; i++) await hub.core.publish('task:flood', 'chunk', { n: ++published, PAYLOAD });
      await nextTurn();
    }
    expect(hub.wsStats().slowConsumerDisconnects).toBe(1);
    expect(published).toBeLessThan(MAX_PUBLICATIONS);
    // Bounded: what the hub held for the backed-up connection never went past the limit by more
    // than the publication that tripped it.
    expect(hub.wsStats().peakBacklogBytes).toBeGreaterThan(0);
    expect(hub.wsStats().peakBacklogBytes).toBeLessThanOrEqual(MAX_BUFFERED + 2 * PAYLOAD.length);
    await waitUntil(() => hub.wsStats().queuedBytes === 0, 'the slow connection queue to be dropped');
    expect(await hub.metrics.registry.getSingleMetricAsString('taskpulse_slow_consumer_disconnects_total')).toMatch(
      /taskpulse_slow_consumer_disconnects_total 1/,
    );

    // A few more after the cut: the reconnecting client must get them too.
    for (let i = 0; i < 10; i++) await hub.core.publish('task:flood', 'chunk', { n: ++published, PAYLOAD });

    // The fast client got everything; the slow one, once it reads again, sees what was already
    // on the wire, then the 4509.
    await fast.waitForPublications('task:flood', published, 30_000);
    slow.resumeReading();
    const closed = await slow.closed;
    expect(closed.code).toBe(CloseCode.SlowConsumer);
    expect(slow.violations).toEqual([]);
    const seen = slow.publicationsOf('task:flood').length;
    expect(seen).toBeLessThan(published);

    // Reconnect from the last position: exactly the rest, in order.
    const position = slow.positions.get('task:flood');
    expect(position).toBeDefined();
    const again = await TestClient.connect(wsUrl);
    clients.push(again);
    const sub = await again.subscribe('task:flood', position);
    expect(sub.recovered).toBe(true);
    const rest = await again.waitForPublications('task:flood', published - seen, 30_000);
    expect(rest[0]?.offset).toBe((position?.offset ?? 0) + 1);
    expect(rest.at(-1)?.offset).toBe(published);
    expect(again.violations).toEqual([]);
  });

  it('conflates a state channel for a client that stops reading: not cut, and it ends on the newest value', async () => {
    const { hub, wsUrl } = await startFloodHub();
    const slow = await TestClient.connect(wsUrl);
    clients.push(slow);
    await slow.subscribe('processor:status');
    slow.pauseReading();

    // Publish until the socket is backed up, then a lot more: the backlog must stay flat.
    const big = 'y'.repeat(16_000);
    let published = 0;
    let turnsAfterBackup = 0;
    while (turnsAfterBackup < 200 && published < 40_000) {
      for (let i = 0; i < 5; i++) await hub.core.publish('processor:status', 'status', { n: ++published, big });
      await nextTurn();
      if (hub.wsStats().peakBacklogBytes > 0) turnsAfterBackup++;
    }
    expect(turnsAfterBackup).toBe(200);
    expect(hub.wsStats().slowConsumerDisconnects).toBe(0);
    // One pending value instead of a thousand.
    expect(hub.wsStats().queuedBytes).toBeLessThanOrEqual(2 * big.length);
    expect(hub.wsStats().peakBacklogBytes).toBeLessThan(MAX_BUFFERED);

    slow.resumeReading();
    await slow.waitUntil(
      () => slow.publicationsOf('processor:status').at(-1)?.offset === published,
      'the newest state value',
      30_000,
    );
    expect(slow.closeInfo).toBeUndefined();
    const received = slow.publicationsOf('processor:status');
    expect(received.length).toBeLessThan(published);
    // Conflation only drops intermediate values; the order is kept.
    const offsets = received.map((p) => p.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
  });

  it('writes nothing after its close frame, when the peer closes while the socket is still writing', async () => {
    const { hub, wsUrl } = await startFloodHub();
    const client = await TestClient.connect(wsUrl);
    clients.push(client);
    // Every byte the hub sends, beside the client's own parsing (attached while idle: a frame
    // boundary).
    const raw: Buffer[] = [];
    const socket = (client.ws as unknown as { _socket: Socket })._socket;
    socket.on('data', (chunk: Buffer) => raw.push(chunk));
    await client.subscribe('task:c');
    client.pauseReading();

    // One large publication a turn (each a direct write) until the kernel's buffers are full and
    // the socket holds some of it, but less than its high-water mark: it still takes writes.
    const blob = 'b'.repeat(12 * 1024);
    let n = 0;
    while (hub.wsStats().socketBufferedBytes === 0 && n < 5_000) {
      await hub.core.publish('task:c', 'fill', { n: ++n, blob });
      await nextTurn();
    }
    expect(hub.wsStats().socketBufferedBytes).toBeGreaterThan(0);
    expect(hub.wsStats().queuedBytes).toBe(0);

    // The client's close frame: the hub answers with its own, which waits behind the rest.
    const before = hub.wsStats().socketBufferedBytes;
    client.ws.close(1000);
    await waitUntil(() => hub.wsStats().socketBufferedBytes === before + 4, "the hub's close frame, queued");

    // Publications after the hub's close frame: none may follow it on the wire.
    for (let i = 0; i < 5; i++) {
      await hub.core.publish('task:c', 'late', { n: ++n });
      await nextTurn();
    }
    client.resumeReading();
    const closed = await client.closed;
    expect(closed.code).toBe(1000);

    const frames = serverFrames(Buffer.concat(raw));
    const close = frames.findIndex((f) => f.opcode === 0x8);
    expect(close, 'a close frame').toBeGreaterThan(-1);
    expect(frames.slice(close + 1).map((f) => f.payload.toString())).toEqual([]);
    // What came before it is in order and gap-free: the fill, and no late publication.
    const texts = frames.slice(0, close).map((f) => f.payload.toString());
    expect(texts.some((x) => x.includes('"late"'))).toBe(false);
    expect(texts.filter((x) => x.includes('"fill"')).length).toBe(n - 5);
  });
});
