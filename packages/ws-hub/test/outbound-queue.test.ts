import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { CloseCode, type Publication } from '@taskpulse/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type OutboundEncoder,
  OutboundQueue,
  type OutboundSettings,
  type OutboundSink,
} from '../src/core/outbound-queue';
import { OutboundScheduler } from '../src/core/outbound-scheduler';
import { SerializedPublication } from '../src/core/serialized';
import { WrittenPositions } from '../src/core/written-positions';
import { nextTurn, waitUntil } from './helpers/wait';

/**
 * The queue driven through a real transport: a TCP connection on port 0, the server side as the
 * sink (write / writableNeedDrain / 'drain' / cork), the client side reading lines.
 */
class TcpSink implements OutboundSink {
  closedWith: number | undefined;
  /** Calls of {@link TcpSink.write} (read synchronously: a direct write counts at once). */
  writes = 0;
  constructor(readonly socket: Socket) {}
  write(chunk: string | Uint8Array): void {
    this.writes++;
    this.socket.write(chunk);
  }
  get needsDrain(): boolean {
    return this.socket.writableNeedDrain;
  }
  onDrain(callback: () => void): void {
    this.socket.once('drain', callback);
  }
  get bufferedBytes(): number {
    return this.socket.writableLength;
  }
  get writable(): boolean {
    return !this.socket.destroyed;
  }
  close(code: number): void {
    this.closedWith = code;
    this.socket.destroy();
  }
  cork(): void {
    this.socket.cork();
  }
  uncork(): void {
    this.socket.uncork();
  }
}

/** One entry per line; the cursor, when tracked, before a tab. */
const lineEncoder: OutboundEncoder = {
  control: (text, cursor) => `${cursor === undefined ? '' : `${cursor}\t`}${text}\n`,
  publication: (p, cursor) => `${cursor === undefined ? '' : `${cursor}\t`}${p.frame}\n`,
  batch: (batch, cursor) => `${cursor === undefined ? '' : `${cursor}\t`}${batch.text}\n`,
};

let offsets = 0;
function pub(channel: string, data: unknown, priority?: number, offset = ++offsets): SerializedPublication {
  const p: Publication = { channel, epoch: 'e1', offset, event: 'x', data, ts: 0 };
  if (priority !== undefined) p.priority = priority;
  return new SerializedPublication(p);
}

interface Rig {
  queue: OutboundQueue;
  sink: TcpSink;
  reader: Socket;
  lines: string[];
  slowCuts: number[];
  peak: { bytes: number };
  written: { count: number };
}

describe('OutboundQueue', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function rig(maxBufferedBytes = 1024 * 1024): Promise<Rig> {
    const accepted = new Promise<Socket>((resolve) => {
      server = createServer((s) => resolve(s));
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => resolve()));
    const address = server?.address();
    if (address === null || typeof address !== 'object') throw new Error('no address');
    const reader = createConnection(address.port, '127.0.0.1');
    const serverSide = await accepted;
    sockets.push(reader, serverSide);
    const lines: string[] = [];
    let rest = '';
    reader.setEncoding('utf8');
    reader.on('data', (chunk: string) => {
      rest += chunk;
      let nl = rest.indexOf('\n');
      while (nl !== -1) {
        lines.push(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
        nl = rest.indexOf('\n');
      }
    });
    const slowCuts: number[] = [];
    const peak = { bytes: 0 };
    const scheduler = new OutboundScheduler((error) => {
      throw error;
    });
    let counted = 0;
    // deliveries reach the counter when they are committed (at scrape time in a hub), read here
    const written = {
      get count() {
        scheduler.commitCounts();
        return counted;
      },
    };
    const settings: OutboundSettings = {
      scheduler,
      counter: scheduler.counter({
        inc: (n = 1) => {
          counted += n;
        },
      }),
      maxBufferedBytes,
      maxBatchBytes: 256 * 1024,
      onSlowConsumer: (held) => slowCuts.push(held),
      onBackpressure: (held) => {
        if (held > peak.bytes) peak.bytes = held;
      },
    };
    const sink = new TcpSink(serverSide);
    return { queue: new OutboundQueue(sink, lineEncoder, settings), sink, reader, lines, slowCuts, peak, written };
  }

  const frames = (lines: string[]) => lines.map((l) => JSON.parse(l.slice(l.indexOf('\t') + 1)));

  it('writes one turn as corked entries, consecutive publications as one batch frame, and counts deliveries', async () => {
    const { queue, lines, written } = await rig();
    queue.control('{"type":"pong"}');
    const a = pub('task:a', 1);
    const b = pub('task:a', 2);
    queue.publication(a, 'events');
    queue.publication(b, 'events');
    expect(lines).toEqual([]);
    await waitUntil(() => lines.length === 2, 'two lines');
    expect(frames(lines)).toEqual([
      { type: 'pong' },
      { type: 'batch', publications: [JSON.parse(a.json), JSON.parse(b.json)] },
    ]);
    expect(written.count).toBe(2);
    expect(queue.queuedBytes).toBe(0);
  });

  it('writes the first publication of a turn at once; the rest of the turn, and the next turn, as one batch each', async () => {
    const { queue, sink, lines, written } = await rig();
    const [a, b, c, d, e, f, g, h] = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => pub('task:d', n));
    queue.publication(a as SerializedPublication, 'events');
    // an idle queue writes the turn's first publication while the fan-out has it at hand
    expect(sink.writes).toBe(1);
    expect(queue.length).toBe(0);
    queue.publication(b as SerializedPublication, 'events');
    queue.publication(c as SerializedPublication, 'events');
    expect(sink.writes).toBe(1);
    expect(queue.length).toBe(2);
    await nextTurn();
    expect(sink.writes).toBe(2);
    // a turn with more than one publication: the next one is queued too (one write per turn)
    queue.publication(d as SerializedPublication, 'events');
    expect(sink.writes).toBe(2);
    await nextTurn();
    expect(sink.writes).toBe(3);
    // a turn of one queued publication: the one after writes directly again
    queue.publication(e as SerializedPublication, 'events');
    expect(sink.writes).toBe(4);
    // two in a turn again (one direct, one queued): the next turn queues as well
    queue.publication(f as SerializedPublication, 'events');
    await nextTurn();
    expect(sink.writes).toBe(5);
    queue.publication(g as SerializedPublication, 'events');
    expect(sink.writes).toBe(5);
    await nextTurn();
    queue.publication(h as SerializedPublication, 'events');
    expect(sink.writes).toBe(7);
    await waitUntil(() => lines.length === 7, 'seven lines');
    expect(
      frames(lines).map((x) => (x.type === 'batch' ? x.publications.map((p: Publication) => p.data) : x.data)),
    ).toEqual([1, [2, 3], 4, 5, 6, 7, 8]);
    await nextTurn();
    expect(written.count).toBe(8);
  });

  it('conflates a state channel to its newest value, but never a critical publication or an events channel', async () => {
    const { queue, lines, written } = await rig();
    // a control frame first: the publications below are all queued in this turn
    queue.control('{"type":"pong"}');
    queue.publication(pub('gauge:1', 1), 'state');
    queue.publication(pub('gauge:1', 2, 1), 'state');
    queue.publication(pub('gauge:1', 3), 'state');
    queue.publication(pub('gauge:1', 4), 'state');
    queue.publication(pub('task:1', 'x'), 'events');
    queue.publication(pub('task:1', 'y'), 'events');
    await waitUntil(() => lines.length === 2, 'the pong and the batch');
    const [, batch] = frames(lines);
    expect(batch.publications.map((p: Publication) => [p.channel, p.data])).toEqual([
      ['gauge:1', 2],
      ['gauge:1', 4],
      ['task:1', 'x'],
      ['task:1', 'y'],
    ]);
    expect(written.count).toBe(4);
  });

  it('writes critical publications ahead of other channels, never past their own channel or a control frame', async () => {
    const { queue, lines } = await rig();
    queue.control('{"type":"ping"}');
    queue.publication(pub('task:a', 'a1', 3), 'events');
    queue.publication(pub('alerts', 'c1', 1), 'events');
    queue.publication(pub('task:a', 'a2', 3), 'events');
    queue.control('{"type":"pong"}');
    queue.publication(pub('task:b', 'b1', 3), 'events');
    queue.publication(pub('alerts', 'c2', 1), 'events');
    await waitUntil(() => lines.length === 4, 'four lines');
    const [ping, first, second, third] = frames(lines);
    // the ping was queued first: a critical publication never overtakes a control frame
    expect(ping).toEqual({ type: 'ping' });
    expect(first.publications.map((p: Publication) => p.data)).toEqual(['c1', 'a1', 'a2']);
    expect(second).toEqual({ type: 'pong' });
    expect(third.publications.map((p: Publication) => p.data)).toEqual(['c2', 'b1']);
  });

  it('holds entries while the sink is backed up, conflating meanwhile, and writes them in order once it drains', async () => {
    const { queue, reader, lines, peak } = await rig(64 * 1024 * 1024);
    reader.pause();
    const blob = 'z'.repeat(16 * 1024);
    let n = 0;
    while (queue.queuedBytes === 0 && n < 10_000) {
      for (let i = 0; i < 10; i++) queue.publication(pub('task:flood', { n: ++n, blob }), 'events');
      await nextTurn();
    }
    expect(queue.queuedBytes).toBeGreaterThan(0);
    for (let v = 1; v <= 50; v++) queue.publication(pub('gauge:g', v), 'state');
    await nextTurn();
    expect(peak.bytes).toBeGreaterThan(queue.queuedBytes - 1);
    reader.resume();
    await waitUntil(() => queue.queuedBytes === 0 && lines.some((l) => l.includes('"gauge:g"')), 'the drain');
    const got = frames(lines).flatMap((f) => (f.type === 'batch' ? f.publications : [f]));
    const flood = got
      .filter((p: Publication) => p.channel === 'task:flood')
      .map((p: Publication) => (p.data as { n: number }).n);
    expect(flood).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(got.filter((p: Publication) => p.channel === 'gauge:g').map((p: Publication) => p.data)).toEqual([50]);
  });

  it('cuts a consumer whose backlog passes maxBufferedBytes with 4509 and drops its queue', async () => {
    const max = 256 * 1024;
    const { queue, reader, sink, slowCuts } = await rig(max);
    reader.pause();
    const blob = 'q'.repeat(8 * 1024);
    let n = 0;
    while (sink.closedWith === undefined && n < 20_000) {
      for (let i = 0; i < 10; i++) queue.publication(pub('task:slow', { n: ++n, blob }), 'events');
      await nextTurn();
    }
    expect(sink.closedWith).toBe(CloseCode.SlowConsumer);
    expect(slowCuts).toHaveLength(1);
    expect(slowCuts[0]).toBeGreaterThan(max);
    expect(queue.queuedBytes).toBe(0);
  });

  it('bounds a burst larger than the limit within one turn: written at once, cut when the sink cannot take it', async () => {
    const max = 256 * 1024;
    const { queue, reader, sink } = await rig(max);
    reader.pause();
    const blob = 'b'.repeat(32 * 1024);
    let n = 0;
    // No turn passes: the scheduler never runs, only the limit makes the queue write.
    while (sink.closedWith === undefined && n < 10_000)
      queue.publication(pub('task:burst', { n: ++n, blob }), 'events');
    expect(sink.closedWith).toBe(CloseCode.SlowConsumer);
    expect(n).toBeLessThan(10_000);
  });

  it('passes the written positions to the encoder: seeded from the start, a subscribe at the delivered position, advanced on write', async () => {
    const { queue, lines } = await rig();
    const delivered = new Map([['task:new', { epoch: 'e1', offset: 5 }]]);
    const positions = new WrittenPositions(
      { positionOf: (channel) => delivered.get(channel) },
      new Map([['task:old', { epoch: 'e0', offset: 9 }]]),
    );
    queue.trackPositions(positions);
    const decode = (line: string) => JSON.parse(Buffer.from(line.slice(0, line.indexOf('\t')), 'base64url').toString());
    queue.control('{"type":"pong"}');
    // Queued while the subscription's delivered position is 5 (the frame says 7: the top).
    queue.control(
      JSON.stringify({
        type: 'subscribed',
        channel: 'task:new',
        kind: 'events',
        epoch: 'e1',
        offset: 7,
        recovered: true,
      }),
    );
    delivered.set('task:new', { epoch: 'e1', offset: 7 });
    queue.publication(pub('task:new', 6, undefined, 6), 'events');
    queue.publication(pub('task:new', 7, undefined, 7), 'events');
    queue.control(JSON.stringify({ type: 'unsubscribed', channel: 'task:old' }));
    await waitUntil(() => lines.length === 4, 'four lines');
    expect(lines.map(decode)).toEqual([
      { 'task:old': ['e0', 9] },
      { 'task:old': ['e0', 9], 'task:new': ['e1', 5] },
      { 'task:old': ['e0', 9], 'task:new': ['e1', 7] },
      { 'task:new': ['e1', 7] },
    ]);
  });

  it('shares the cursor of single-channel streams only: a stream with more channels gets its own', async () => {
    const scheduler = new OutboundScheduler((error) => {
      throw error;
    });
    const settings: OutboundSettings = {
      scheduler,
      counter: scheduler.counter({ inc: () => {} }),
      maxBufferedBytes: 1024 * 1024,
      maxBatchBytes: 256 * 1024,
      onSlowConsumer: () => {},
      onBackpressure: () => {},
    };
    /** An in-memory sink: the positions are under test here, not the socket. */
    const memorySink = (out: string[]): OutboundSink => ({
      write: (chunk) => out.push(String(chunk)),
      needsDrain: false,
      onDrain: () => {},
      bufferedBytes: 0,
      writable: true,
      close: () => {},
    });
    const none = { positionOf: () => undefined };
    const one: string[] = [];
    const two: string[] = [];
    const single = new OutboundQueue(memorySink(one), lineEncoder, settings);
    single.trackPositions(new WrittenPositions(none, new Map([['task:x', { epoch: 'e1', offset: 0 }]])));
    const double = new OutboundQueue(memorySink(two), lineEncoder, settings);
    double.trackPositions(
      new WrittenPositions(
        none,
        new Map([
          ['task:y', { epoch: 'e9', offset: 4 }],
          ['task:x', { epoch: 'e1', offset: 0 }],
        ]),
      ),
    );
    const p = pub('task:x', 'v', undefined, 1);
    single.publication(p, 'events');
    double.publication(p, 'events');
    await nextTurn();
    const decode = (line: string) => JSON.parse(Buffer.from(line.slice(0, line.indexOf('\t')), 'base64url').toString());
    expect(decode(one[0] as string)).toEqual({ 'task:x': ['e1', 1] });
    expect(decode(two[0] as string)).toEqual({ 'task:y': ['e9', 4], 'task:x': ['e1', 1] });
  });
});
