import {
  type Broker,
  EMPTY_EPOCH,
  type NamespaceTable,
  type Publication,
  type PublicationMessage,
  type PublishOptions,
  type ResetEvent,
  readPublicationHeader,
} from '@taskpulse/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueId } from './ports';

/** The namespace table every conformance run uses. */
export const CONFORMANCE_NAMESPACES: NamespaceTable = {
  allowUnknownNamespaces: false,
  namespaces: {
    cf: { kind: 'events', historySize: 100 },
    'cf-state': { kind: 'state', historySize: 1 },
    'cf-small': { kind: 'events', historySize: 5 },
    'cf-ttl': { kind: 'events', historyTtlMs: 400 },
    'cf-tiny': { maxPayloadBytes: 64 },
  },
};

/** How a conformance run gets its broker. */
export interface BrokerFactory {
  /** Creates a broker configured with `namespaces`. */
  create(namespaces: NamespaceTable): Promise<Broker>;
  /** Optional teardown after the suite. */
  cleanup?(): Promise<void>;
}

/** Collects publications delivered to a handler. */
export function collector(): {
  publications: Publication[];
  resets: ResetEvent[];
  handler: { onPublication(p: Publication): void; onReset(e: ResetEvent): void };
  waitFor(count: number, timeoutMs?: number): Promise<Publication[]>;
} {
  const publications: Publication[] = [];
  const resets: ResetEvent[] = [];
  return {
    publications,
    resets,
    handler: {
      onPublication: (p) => publications.push(p),
      onReset: (e) => resets.push(e),
    },
    async waitFor(count, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (publications.length < count) {
        if (Date.now() > deadline) {
          throw new Error(`expected ${count} publications, got ${publications.length} within ${timeoutMs} ms`);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      return publications;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The broker conformance suite, written once and run against every broker implementation.
 * Each test isolates itself with a unique channel key.
 */
export function brokerConformance(name: string, factory: BrokerFactory): void {
  describe(`broker conformance: ${name}`, () => {
    let broker: Broker;
    const ch = (ns = 'cf') => `${ns}:${uniqueId()}`;

    beforeAll(async () => {
      broker = await factory.create(CONFORMANCE_NAMESPACES);
    });
    afterAll(async () => {
      await broker?.close();
      await factory.cleanup?.();
    });

    it('assigns offsets that grow by exactly 1 within one epoch', async () => {
      const c = ch();
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await broker.publish(c, 'e', { i }));
      expect(results.map((r) => r.offset)).toEqual([1, 2, 3, 4, 5]);
      expect(new Set(results.map((r) => r.epoch)).size).toBe(1);
      expect(results[0]?.channel).toBe(c);
    });

    it('keeps offsets unique and contiguous under concurrent publishes', async () => {
      const c = ch();
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => broker.publish(c, 'e', { i })));
      expect(results.map((r) => r.offset).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('delivers every publication made after subscribe resolved, in order, each once', async () => {
      const c = ch();
      await broker.publish(c, 'before', {});
      const col = collector();
      const sub = await broker.subscribe(c, col.handler);
      for (let i = 0; i < 20; i++) await broker.publish(c, 'e', { i });
      await col.waitFor(20);
      await sleep(20);
      expect(col.publications.map((p) => p.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
      expect(col.publications.map((p) => (p.data as { i: number }).i)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      const first = col.publications[0] as Publication;
      expect(first.channel).toBe(c);
      expect(first.event).toBe('e');
      expect(typeof first.ts).toBe('number');
      await sub.unsubscribe();
    });

    it('carries id, priority and ts when given', async () => {
      const c = ch();
      const col = collector();
      const sub = await broker.subscribe(c, col.handler);
      await broker.publish(c, 'e', { x: 1 }, { id: 'msg_1', priority: 4, ts: 1234 });
      const [p] = await col.waitFor(1);
      expect(p).toMatchObject({ id: 'msg_1', priority: 4, ts: 1234, data: { x: 1 } });
      await sub.unsubscribe();
    });

    it('delivers to every handler of a channel and stops delivering after unsubscribe', async () => {
      const c = ch();
      const a = collector();
      const b = collector();
      const subA = await broker.subscribe(c, a.handler);
      const subB = await broker.subscribe(c, b.handler);
      await broker.publish(c, 'e', 1);
      await a.waitFor(1);
      await b.waitFor(1);
      await subA.unsubscribe();
      await subA.unsubscribe(); // idempotent
      await broker.publish(c, 'e', 2);
      await b.waitFor(2);
      await sleep(30);
      expect(a.publications).toHaveLength(1);
      expect(b.publications.map((p) => p.data)).toEqual([1, 2]);
      await subB.unsubscribe();
    });

    it('does not deliver one channel to another', async () => {
      const c1 = ch();
      const c2 = ch();
      const col = collector();
      const sub = await broker.subscribe(c1, col.handler);
      await broker.publish(c2, 'e', 'other');
      await broker.publish(c1, 'e', 'mine');
      await col.waitFor(1);
      await sleep(30);
      expect(col.publications.map((p) => p.data)).toEqual(['mine']);
      await sub.unsubscribe();
    });

    it('reads the latest N publications, oldest first', async () => {
      const c = ch();
      for (let i = 1; i <= 10; i++) await broker.publish(c, 'e', i);
      const all = await broker.history(c);
      expect(all.publications.map((p) => p.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(all.offset).toBe(10);
      expect(all.recovered).toBe(true);
      const last3 = await broker.history(c, { limit: 3 });
      expect(last3.publications.map((p) => p.offset)).toEqual([8, 9, 10]);
      const none = await broker.history(c, { limit: 0 });
      expect(none.publications).toEqual([]);
    });

    it('reads history since a position, and pages with limit', async () => {
      const c = ch();
      let epoch = '';
      for (let i = 1; i <= 10; i++) epoch = (await broker.publish(c, 'e', i)).epoch;
      const since = await broker.history(c, { since: { epoch, offset: 4 } });
      expect(since.recovered).toBe(true);
      expect(since.publications.map((p) => p.offset)).toEqual([5, 6, 7, 8, 9, 10]);
      const page1 = await broker.history(c, { since: { epoch, offset: 4 }, limit: 2 });
      expect(page1.publications.map((p) => p.offset)).toEqual([5, 6]);
      expect(page1.recovered).toBe(true);
      const page2 = await broker.history(c, { since: { epoch, offset: 6 }, limit: 2 });
      expect(page2.publications.map((p) => p.offset)).toEqual([7, 8]);
      const upToDate = await broker.history(c, { since: { epoch, offset: 10 } });
      expect(upToDate.publications).toEqual([]);
      expect(upToDate.recovered).toBe(true);
    });

    it('reports recovered=false for another epoch or a position ahead of the channel', async () => {
      const c = ch();
      const { epoch } = await broker.publish(c, 'e', 1);
      await broker.publish(c, 'e', 2);
      const other = await broker.history(c, { since: { epoch: 'not-the-epoch', offset: 1 } });
      expect(other.recovered).toBe(false);
      expect(other.epoch).toBe(epoch);
      expect(other.publications.map((p) => p.offset)).toEqual([1, 2]);
      const ahead = await broker.history(c, { since: { epoch, offset: 99 } });
      expect(ahead.recovered).toBe(false);
    });

    it('trims history to the namespace size and reports a gap older than history', async () => {
      const c = ch('cf-small');
      let epoch = '';
      for (let i = 1; i <= 12; i++) epoch = (await broker.publish(c, 'e', i)).epoch;
      const all = await broker.history(c);
      expect(all.publications.map((p) => p.offset)).toEqual([8, 9, 10, 11, 12]);
      const old = await broker.history(c, { since: { epoch, offset: 2 } });
      expect(old.recovered).toBe(false);
      expect(old.publications.map((p) => p.offset)).toEqual([8, 9, 10, 11, 12]);
      const edge = await broker.history(c, { since: { epoch, offset: 7 } });
      expect(edge.recovered).toBe(true);
      expect(edge.publications.map((p) => p.offset)).toEqual([8, 9, 10, 11, 12]);
    });

    it('reads of a channel that does not exist create nothing: the empty position continues with the first publication', async () => {
      const c = ch();
      const s1 = await broker.state(c);
      expect(s1).toEqual({ epoch: EMPTY_EPOCH, offset: 0, latest: null });
      const h0 = await broker.history(c, { since: { epoch: EMPTY_EPOCH, offset: 0 } });
      expect(h0).toMatchObject({ epoch: EMPTY_EPOCH, offset: 0, recovered: true, publications: [] });
      const sub = await broker.subscribe(c, { onPublication: () => {} });
      await sub.unsubscribe();
      // Still nothing: a later read gets the same empty position.
      expect(await broker.state(c)).toEqual(s1);
      const pub = await broker.publish(c, 'e', 'x');
      expect(pub.epoch).not.toBe(EMPTY_EPOCH);
      expect(pub.offset).toBe(1);
      const h = await broker.history(c, { since: s1 });
      expect(h.recovered).toBe(true);
      expect(h.epoch).toBe(pub.epoch);
      expect(h.publications.map((p) => p.data)).toEqual(['x']);
    });

    it('publishes an id once within the dedupe window: a retry returns the first position', async () => {
      const c = ch();
      const first = await broker.publish(c, 'e', 'x', { id: 'retry-me' });
      const again = await broker.publish(c, 'e', 'x', { id: 'retry-me' });
      expect(again).toEqual({ ...first, duplicate: true });
      expect((await broker.publish(c, 'e', 'y', { id: 'other' })).offset).toBe(first.offset + 1);
      expect((await broker.publish(c, 'e', 'z')).offset).toBe(first.offset + 2);
      const h = await broker.history(c);
      expect(h.publications.map((p) => p.data)).toEqual(['x', 'y', 'z']);
    });

    it('keeps the latest value of a state channel', async () => {
      const c = ch('cf-state');
      await broker.publish(c, 'status', { n: 1 });
      await broker.publish(c, 'status', { n: 2 });
      const s = await broker.state(c);
      expect(s.offset).toBe(2);
      expect(s.latest?.data).toEqual({ n: 2 });
      expect(s.latest?.offset).toBe(2);
      expect(broker.namespaceOptions(c).kind).toBe('state');
      expect(broker.namespaceOptions(ch()).kind).toBe('events');
    });

    it('expires history after the namespace TTL and starts a new epoch', async () => {
      const c = ch('cf-ttl');
      const first = await broker.publish(c, 'e', 1);
      await sleep(700);
      const s = await broker.state(c);
      expect(s.epoch).not.toBe(first.epoch);
      expect(s.offset).toBe(0);
      const again = await broker.publish(c, 'e', 2);
      expect(again.offset).toBe(1);
      const h = await broker.history(c, { since: { epoch: first.epoch, offset: 1 } });
      expect(h.recovered).toBe(false);
    });

    it('rejects invalid channel names with bad_channel', async () => {
      for (const bad of ['', 'has space', 'cf:*', 'cf:{x}', 'Upper:x', `cf:${'x'.repeat(300)}`]) {
        await expect(broker.publish(bad, 'e', 1)).rejects.toMatchObject({ code: 'bad_channel' });
        await expect(broker.subscribe(bad, collector().handler)).rejects.toMatchObject({ code: 'bad_channel' });
        await expect(broker.history(bad)).rejects.toMatchObject({ code: 'bad_channel' });
        await expect(broker.state(bad)).rejects.toMatchObject({ code: 'bad_channel' });
      }
    });

    it('rejects unknown namespaces with unknown_channel when they are not allowed', async () => {
      await expect(broker.publish('nope:1', 'e', 1)).rejects.toMatchObject({ code: 'unknown_channel' });
      await expect(broker.subscribe('nope:1', collector().handler)).rejects.toMatchObject({ code: 'unknown_channel' });
    });

    it('rejects oversize payloads with payload_too_large and keeps serving', async () => {
      const c = ch('cf-tiny');
      await expect(broker.publish(c, 'e', 'x'.repeat(100))).rejects.toMatchObject({ code: 'payload_too_large' });
      const ok = await broker.publish(c, 'e', 'small');
      expect(ok.offset).toBe(1);
    });

    it('rejects invalid publish input with bad_request and stores nothing', async () => {
      const c = ch();
      const bad: Array<[string, unknown, PublishOptions]> = [
        ['', 1, {}],
        ['e', undefined, {}],
        ['e', 1, { priority: 9 }],
        ['e', 1, { priority: 1.5 }],
        ['e', 1, { id: 'x'.repeat(129) }],
        ['e', 1, { ts: Number.NaN }],
      ];
      for (const [event, data, options] of bad) {
        await expect(broker.publish(c, event, data, options), JSON.stringify(options)).rejects.toMatchObject({
          code: 'bad_request',
        });
      }
      const ok = await broker.publish(c, 'e', 'valid', { priority: 1 });
      expect(ok.offset).toBe(1);
    });

    it('round-trips JSON data types', async () => {
      const c = ch();
      const data = { s: 'é中😀', n: 1.5, b: false, nil: null, arr: [1, [2]], obj: { a: { b: 'c' } } };
      await broker.publish(c, 'e', data);
      const [p] = (await broker.history(c)).publications;
      expect(p?.data).toEqual(data);
    });

    it('hands onMessage handlers the exact text with its header, parsed only on demand', async () => {
      const c = ch();
      const messages: PublicationMessage[] = [];
      const objects: Publication[] = [];
      const sub = await broker.subscribe(c, {
        onPublication: (p) => objects.push(p),
        onMessage: (m) => messages.push(m),
      });
      const plain = collector();
      const subPlain = await broker.subscribe(c, plain.handler);
      await broker.publish(c, 'e', { s: 'é"\\', n: [1, { x: null }] }, { id: 'm1', priority: 2, ts: 77 });
      await broker.publish(c, 'e', 'second');
      await plain.waitFor(2);
      const deadline = Date.now() + 5000;
      while (messages.length < 2 && Date.now() < deadline) await sleep(5);
      expect(objects).toEqual([]); // onMessage replaces onPublication
      expect(messages.map((m) => m.offset)).toEqual([1, 2]);
      const [first, second] = messages as [PublicationMessage, PublicationMessage];
      // The canonical layout: the header first, the priority last; the same text as history's.
      expect(first.text.startsWith(`{"channel":"${c}","offset":1,"epoch":"${first.epoch}","event":"e",`)).toBe(true);
      expect(first.text.endsWith(',"priority":2}')).toBe(true);
      expect(readPublicationHeader(first.text)).toEqual({ channel: c, epoch: first.epoch, offset: 1, priority: 2 });
      expect({ channel: first.channel, priority: first.priority }).toEqual({ channel: c, priority: 2 });
      expect(second.priority).toBeUndefined();
      expect(JSON.parse(first.text)).toEqual(plain.publications[0]);
      expect(first.publication()).toEqual(plain.publications[0]);
      expect(first.publication()).toBe(first.publication()); // parsed once
      expect(second.publication()).toEqual(plain.publications[1]);
      await sub.unsubscribe();
      await subPlain.unsubscribe();
    });

    it('reads stored texts with historyMessages, as history reads publications', async () => {
      const read = broker.historyMessages?.bind(broker);
      expect(read, 'both taskpulse brokers read messages').toBeTypeOf('function');
      if (!read) return;
      const c = ch('cf-small');
      let epoch = '';
      for (let i = 1; i <= 8; i++) epoch = (await broker.publish(c, 'e', i, i === 8 ? { priority: 1 } : {})).epoch;
      const cases = [
        {},
        { limit: 2 },
        { since: { epoch, offset: 5 } },
        { since: { epoch, offset: 1 } },
        { since: { epoch: 'x', offset: 1 } },
      ];
      for (const options of cases) {
        const texts = await read(c, options);
        const objects = await broker.history(c, options);
        const { messages, ...rest } = texts;
        const { publications, ...restObjects } = objects;
        expect(rest, JSON.stringify(options)).toEqual(restObjects);
        expect(messages.map((m) => m.publication())).toEqual(publications);
        expect(messages.map((m) => JSON.parse(m.text))).toEqual(publications);
        expect(messages.map((m) => [m.channel, m.epoch, m.offset, m.priority])).toEqual(
          publications.map((p) => [p.channel, p.epoch, p.offset, p.priority]),
        );
      }
      const empty = await read(ch(), { since: { epoch: EMPTY_EPOCH, offset: 0 } });
      expect(empty).toEqual({ epoch: EMPTY_EPOCH, offset: 0, messages: [], recovered: true });
    });

    it('reports ready status', () => {
      expect(broker.status()).toBe('ready');
    });
  });
}
