/**
 * Issue 13, bytes in, bytes out: the router passes the broker's text through (no stringify), the
 * parsed publication is built only when asked for, and brokers that deliver objects still work.
 */
import {
  type Broker,
  type Publication,
  type PublicationMessage,
  publicationMessage,
  readPublicationHeader,
} from '@taskpulse/protocol';
import { describe, expect, it } from 'vitest';
import { ChannelRouter } from '../src/core/channel-router';
import { batchFrame, SerializedPublication } from '../src/core/serialized';
import { createMemoryBroker } from '../src/memory-broker';

const namespaces = { namespaces: { task: {} } };
const wait = async (until: () => boolean) => {
  const deadline = Date.now() + 2000;
  while (!until()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('SerializedPublication from a message', () => {
  it('uses the text as json, splices the frame, and parses only when pub is read', () => {
    const text = '{"channel":"task:1","offset":7,"epoch":"e1","event":"e","data":{"a":[1]},"ts":5,"priority":3}';
    const header = readPublicationHeader(text);
    expect(header).not.toBeNull();
    const inner = publicationMessage(text, header as NonNullable<typeof header>);
    let parses = 0;
    const message: PublicationMessage = {
      ...header,
      channel: inner.channel,
      epoch: inner.epoch,
      offset: inner.offset,
      priority: inner.priority,
      text,
      publication: () => {
        parses++;
        return inner.publication();
      },
    };
    const s = new SerializedPublication(message);
    expect([s.channel, s.epoch, s.offset, s.priority]).toEqual(['task:1', 'e1', 7, 3]);
    expect(s.json).toBe(text);
    expect(s.frame).toBe(`{"type":"publication",${text.slice(1)}`);
    expect(batchFrame([s, s])).toBe(`{"type":"batch","publications":[${text},${text}]}`);
    expect(parses).toBe(0);
    expect(s.pub).toEqual({
      channel: 'task:1',
      offset: 7,
      epoch: 'e1',
      event: 'e',
      data: { a: [1] },
      ts: 5,
      priority: 3,
    });
    expect(s.pub).toBe(s.pub);
    expect(parses).toBe(1);
  });

  it('still takes a publication object (serialized on demand)', () => {
    const pub: Publication = { channel: 'task:1', offset: 1, epoch: 'e', event: 'e', data: null, ts: 1 };
    const s = new SerializedPublication(pub);
    expect(s.pub).toBe(pub);
    expect(s.json).toBe(JSON.stringify(pub));
    expect([s.channel, s.offset, s.priority]).toEqual(['task:1', 1, undefined]);
  });
});

describe('ChannelRouter passes the broker text through', () => {
  it('fans out the stored text itself, and recovery reads pass stored texts too', async () => {
    const broker = createMemoryBroker(namespaces);
    const fanned: SerializedPublication[] = [];
    const router = new ChannelRouter(broker, { onFanout: (p) => fanned.push(p) });
    const got: SerializedPublication[] = [];
    await router.attach('task:1', { onPublication: (p) => got.push(p), onReset: () => {} });
    await broker.publish('task:1', 'e', { n: 1 }, { priority: 2 });
    await wait(() => got.length === 1);
    const stored = await broker.historyMessages?.('task:1');
    const text = stored?.messages[0]?.text as string;
    expect(got[0]?.json).toBe(text);
    expect(got[0]?.priority).toBe(2);
    expect(fanned[0]).toBe(got[0]);
    const read = await router.reads('task:1').readAfter({ epoch: got[0]?.epoch as string, offset: 0 });
    expect(read.publications.map((p) => p.json)).toEqual([text]);
    await router.close();
    await broker.close();
  });

  it('works with a broker that delivers objects only', async () => {
    const inner = createMemoryBroker(namespaces);
    const broker: Broker = {
      publish: (...a) => inner.publish(...a),
      // Strips onMessage: the handler gets objects, as from a broker written before it existed.
      subscribe: (c, h) => inner.subscribe(c, { onPublication: (p) => h.onPublication(p), onReset: h.onReset }),
      history: (...a) => inner.history(...a),
      state: (c) => inner.state(c),
      namespaceOptions: (c) => inner.namespaceOptions(c),
      status: () => inner.status(),
      close: () => inner.close(),
    };
    const router = new ChannelRouter(broker);
    const got: SerializedPublication[] = [];
    await router.attach('task:1', { onPublication: (p) => got.push(p), onReset: () => {} });
    await broker.publish('task:1', 'e', 'x');
    await wait(() => got.length === 1);
    expect(JSON.parse(got[0]?.json as string)).toEqual(got[0]?.pub);
    const read = await router.reads('task:1').readAfter({ epoch: got[0]?.epoch as string, offset: 0 });
    expect(read.publications.map((p) => p.pub.data)).toEqual(['x']);
    await router.close();
    await broker.close();
  });
});
