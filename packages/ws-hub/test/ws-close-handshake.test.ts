import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHub, type TestHub } from './helpers/hub';
import { nextTurn, waitUntil } from './helpers/wait';
import { TestClient } from './helpers/ws-client';

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

describe('the closing handshake', () => {
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

  it('writes nothing after its close frame, when the peer closes while the socket is still writing', async () => {
    t = await startHub({
      limits: { maxBufferedBytes: 64 * 1024 * 1024 },
      namespaces: { task: { kind: 'events', historySize: 10_000, maxPayloadBytes: 64 * 1024 } },
    });
    const { hub, wsUrl } = t;
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
