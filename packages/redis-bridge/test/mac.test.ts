/**
 * A MAC in place of the read-back: the publish script appends an HMAC-SHA1 of the publication
 * text under the channel's key (lua/publish.lua, ARGV[9]) to the pub/sub message only, and a hub
 * that learned the key with its history reads delivers a message whose MAC checks without reading
 * it back. Anything else (no MAC, a wrong one, no key) is read back as before: forgeries are never
 * delivered, and clients never see the MAC.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { PublicationMessage } from '@taskpulse/protocol';
import { type RedisServer, startRedis, uniqueId } from '@taskpulse/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { macKeyOf, macMatches } from '../src/channel-sync';
import { channelKeys, createPublisher, createSubscriber, type Publisher, type Subscriber } from '../src/index';
import { loadScript } from '../src/lua';
import { evalPublish, range, sleep, timeline, waitUntil } from './helpers';

const namespaces = {
  m: { historySize: 100 },
  small: { historySize: 10 },
  st: { kind: 'state' as const, historySize: 0 },
};
const prefix = `${uniqueId('mac')}:`;
const read = loadScript('read');
let server: RedisServer;
let client: Redis;
/** The subscriber's own connection, whose read-script calls are counted. */
let readClient: Redis;
let reads = 0;
let publisher: Publisher;
let subscriber: Subscriber;

/** Calls `onRead` for every call of lua/read.lua on `redis` (EVALSHA, or EVAL on NOSCRIPT). */
function countingReads(redis: Redis, onRead: () => void): Redis {
  const raw = redis as unknown as Record<'evalsha' | 'eval', (...args: unknown[]) => Promise<unknown>>;
  const evalsha = raw.evalsha.bind(redis);
  const evalSource = raw.eval.bind(redis);
  raw.evalsha = (sha, ...rest) => {
    if (sha === read.sha) onRead();
    return evalsha(sha, ...rest);
  };
  raw.eval = (source, ...rest) => {
    if (source === read.source) onRead();
    return evalSource(source, ...rest);
  };
  return redis;
}

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.url);
  readClient = countingReads(new Redis(server.url), () => reads++);
  publisher = createPublisher({ redis: client, prefix, namespaces });
  subscriber = createSubscriber({ redis: readClient, prefix, namespaces });
});
afterAll(async () => {
  await subscriber?.close();
  await publisher?.close();
  readClient?.disconnect();
  client?.disconnect();
  await server?.stop();
});

/** A handler that records the texts (messages) it is given. */
function texts() {
  const got: PublicationMessage[] = [];
  return {
    got,
    handler: { onPublication: () => {}, onMessage: (m: PublicationMessage) => got.push(m) },
  };
}

const historyTexts = async (channel: string) =>
  (await client.xrange(channelKeys(prefix, channel).history, '-', '+')).map(([, f]) => f[1] as string);

const hmac = (key: string, text: string) => createHmac('sha1', Buffer.from(key, 'hex')).update(text).digest('hex');
const withMac = (text: string, mac: string) => `${text.slice(0, -1)},"_tpmac":"${mac}"}`;
/** The key publish.lua derives for a channel's epoch from a publisher's candidate. */
const derivedKey = (candidate: string, channel: string, epoch: string) =>
  hmac(candidate, `${channelKeys(prefix, channel).pubsub}\n${epoch}`);
const body = (data: unknown) => JSON.stringify({ event: 'e', data, ts: 1 });
const stats = () => subscriber.stats();

let base: { reads: number; verified: number; invalid: number };
beforeEach(() => {
  base = { reads, verified: stats().macVerified, invalid: stats().invalid };
});

describe('the publish script and its MAC', () => {
  it('stores the key and pads in the meta hash, and MACs the pub/sub message only', async () => {
    const c = `m:${uniqueId()}`;
    const keys = channelKeys(prefix, c);
    const candidate = randomBytes(20).toString('hex');
    const listener = new Redis(server.url);
    const messages: string[] = [];
    listener.on('message', (_channel: string, m: string) => messages.push(m));
    await listener.subscribe(keys.pubsub);
    const [epoch] = await evalPublish(client, prefix, c, body(1), { macKey: candidate });
    await evalPublish(client, prefix, c, body(2), { macKey: randomBytes(20).toString('hex') }); // ignored: keyed
    await waitUntil(() => messages.length === 2, 'both messages');
    listener.disconnect();
    const meta = await client.hgetallBuffer(keys.meta);
    // The channel's key is derived for this pub/sub channel and epoch; the candidate is not stored.
    const key = derivedKey(candidate, c, epoch);
    expect(meta.mac?.toString()).toBe(key);
    expect(Object.values(meta).some((v) => v.toString().includes(candidate))).toBe(false);
    const k = Buffer.alloc(64);
    Buffer.from(key, 'hex').copy(k);
    expect(meta.mki).toEqual(Buffer.from(k.map((b) => b ^ 0x36)));
    expect(meta.mko).toEqual(Buffer.from(k.map((b) => b ^ 0x5c)));
    const stored = await historyTexts(c);
    expect(stored.every((t) => !t.includes('_tpmac'))).toBe(true);
    expect(messages).toEqual(stored.map((t) => withMac(t, hmac(key, t))));
  });

  it('MACs only a body it checked in full: strict JSON numbers, the members of a publication, a compact priority', async () => {
    const c = `m:${uniqueId()}`;
    const listener = new Redis(server.url);
    const messages: string[] = [];
    listener.on('message', (_channel: string, m: string) => messages.push(m));
    await listener.subscribe(channelKeys(prefix, c).pubsub);
    const cases: Array<[string, boolean]> = [
      ['{"event":"e","data":{"p":0.5,"n":-1.25e-3,"s":"e.g. 1. or -.5 ."},"ts":1}', true],
      ['{"event":"e","data":[1,2.5],"ts":1.5,"id":"abc","priority":2}', true],
      [`{"event":"${'é'.repeat(128)}","data":null,"ts":1}`, true],
      [`{"event":"${'😀'.repeat(64)}","data":null,"ts":1}`, true],
      // cjson reads these numbers, JSON.parse does not
      ['{"event":"e","data":1.,"ts":1}', false],
      ['{"event":"e","data":[1.e5],"ts":1}', false],
      ['{"event":"e","data":-.5,"ts":1}', false],
      // not a publication every hub accepts
      ['{"event":"e","data":1,"ts":1,"channel":"other"}', false],
      ['{"event":"e","data":1,"ts":1,"offset":9}', false],
      ['{"event":"e","data":1,"ts":1,"epoch":"x"}', false],
      ['{"event":"","data":1,"ts":1}', false],
      [`{"event":"${'😀'.repeat(65)}","data":1,"ts":1}`, false],
      ['{"event":"e","ts":1}', false],
      ['{"event":"e","data":1,"ts":"1"}', false],
      ['{"event":"e","data":1,"ts":1,"id":null}', false],
      [`{"event":"e","data":1,"ts":1,"id":"${'i'.repeat(129)}"}`, false],
      ['{"event":"e","data":1,"ts":1,"priority": 2}', false],
      ['{"event":"e","data":1,"ts":1,"priority":5}', false],
      ['{"event":"e","data":1,"priority":2,"ts":1}', false],
      // cjson stops at a lone surrogate escape (which JSON.parse reads): the rest is unchecked
      ['{"event":"e","data":"\\ud800","ts":1}', false],
    ];
    for (const [text] of cases) await evalPublish(client, prefix, c, text, { macKey: randomBytes(20).toString('hex') });
    await waitUntil(() => messages.length === cases.length, 'every message');
    listener.disconnect();
    const stored = await historyTexts(c);
    expect(stored).toHaveLength(cases.length);
    expect(messages.map((m) => m.endsWith('"}') && m.includes(',"_tpmac":"'))).toEqual(cases.map(([, macd]) => macd));
    // what gets a MAC is a text hubs accept without parsing: JSON.parse reads it, as a publication
    for (const [i, [, macd]] of cases.entries()) {
      if (macd) expect(() => JSON.parse(stored[i] as string)).not.toThrow();
    }
  });

  it('refuses a body that ends like the MAC suffix, and an invalid key candidate', async () => {
    const c = `m:${uniqueId()}`;
    for (const hex of ['a'.repeat(40), 'A'.repeat(40), `${'0'.repeat(39)}F`]) {
      const reserved = `{"event":"e","data":1,"ts":1,"_tpmac":"${hex}"}`;
      await expect(evalPublish(client, prefix, c, reserved)).rejects.toThrow(/reserved/);
    }
    // The body's only member (53 characters): the text would end like the suffix too.
    await expect(evalPublish(client, prefix, c, `{"_tpmac":"${'a'.repeat(40)}"}`)).rejects.toThrow(/reserved/);
    // Not the suffix's shape (39 digits, not at the end, not hex): accepted as any field.
    await evalPublish(client, prefix, c, `{"event":"e","data":1,"ts":1,"_tpmac":"${'a'.repeat(39)}"}`);
    await evalPublish(client, prefix, c, `{"event":"e","data":{"_tpmac":"${'a'.repeat(40)}"},"ts":1}`);
    for (const bad of ['A'.repeat(40), 'a'.repeat(39), 'g'.repeat(40)]) {
      await expect(evalPublish(client, prefix, `m:${uniqueId()}`, body(1), { macKey: bad })).rejects.toThrow(
        /invalid MAC key candidate/,
      );
    }
    // Checked whenever given, before anything is written: a refused call leaves no channel behind.
    const fresh = `m:${uniqueId()}`;
    await expect(evalPublish(client, prefix, fresh, body(1), { macKey: 'bad' })).rejects.toThrow(/candidate/);
    expect(await client.exists(channelKeys(prefix, fresh).meta)).toBe(0);
  });

  it('never keeps a key across an epoch change: the new epoch derives a new key, or has none', async () => {
    const c = `m:${uniqueId()}`;
    const keys = channelKeys(prefix, c);
    const candidate = 'a'.repeat(40);
    const [first] = await evalPublish(client, prefix, c, body(1), { macKey: candidate });
    const firstKey = await client.hget(keys.meta, 'mac');
    expect(firstKey).toBe(derivedKey(candidate, c, first));
    // A generation lost but the meta hash kept (partial loss): the stale key must go with it, and
    // the same candidate gives the new epoch another key.
    await client.hdel(keys.meta, 'epoch');
    const [second] = await evalPublish(client, prefix, c, body(2), { macKey: candidate });
    const secondKey = await client.hget(keys.meta, 'mac');
    expect(second).not.toBe(first);
    expect(secondKey).toBe(derivedKey(candidate, c, second));
    expect(secondKey).not.toBe(firstKey);
    // Another channel of the same publisher (same candidate) has a key of its own.
    const other = `m:${uniqueId()}`;
    const [otherEpoch] = await evalPublish(client, prefix, other, body(1), { macKey: candidate });
    expect(await client.hget(channelKeys(prefix, other).meta, 'mac')).toBe(derivedKey(candidate, other, otherEpoch));
    expect(await client.hget(channelKeys(prefix, other).meta, 'mac')).not.toBe(firstKey);
    await client.hdel(keys.meta, 'epoch');
    await evalPublish(client, prefix, c, body(3));
    expect(await client.hmget(keys.meta, 'mac', 'mki', 'mko')).toEqual([null, null, null]);
  });

  it('read.lua returns the key after the newest entry, and nothing for a channel without one', async () => {
    const keyed = `m:${uniqueId()}`;
    const plain = `m:${uniqueId()}`;
    const [epoch] = await evalPublish(client, prefix, keyed, body(1), { macKey: 'c'.repeat(40) });
    await evalPublish(client, prefix, plain, body(1));
    const head = (c: string) => {
      const k = channelKeys(prefix, c);
      return client.eval(read.source, 2, k.meta, k.history, '', 0, 'head', 0, '', 0, 100) as Promise<unknown[]>;
    };
    expect(await head(keyed)).toEqual([
      epoch,
      1,
      [],
      ['1-0', expect.any(String)],
      derivedKey('c'.repeat(40), keyed, epoch),
    ]);
    expect(await head(plain)).toHaveLength(4);
  });
});

describe('a hub verifying live messages by their MAC', () => {
  it('delivers a keyed channel’s publications without reading them back; clients never see the MAC', async () => {
    const c = `m:${uniqueId()}`;
    await publisher.publish(c, 'e', 0);
    const t = texts();
    await subscriber.subscribe(c, t.handler); // the head read learns the key
    expect(reads - base.reads).toBe(1);
    // the MAC is checked over the bytes as Redis sent them: text outside ASCII too, in every
    // length of UTF-8 sequence, and around SHA-1's block edges
    const data = (n: number) => (n % 2 === 0 ? n : { n, s: `${'é✓𝄞'.repeat(n)}${'x'.repeat(n * 3)}` });
    for (const n of range(1, 20)) {
      await publisher.publish(c, 'e', data(n));
      await waitUntil(() => t.got.length === n, `publication ${n}`);
    }
    expect(reads - base.reads).toBe(1);
    expect(stats().macVerified - base.verified).toBe(20);
    expect(t.got.map((m) => m.publication().data)).toEqual(range(1, 20).map(data));
    expect(t.got.map((m) => m.text)).toEqual((await historyTexts(c)).slice(1));
    expect(t.got.every((m) => !m.text.includes('_tpmac') && !('_tpmac' in (m.publication() as object)))).toBe(true);
  });

  it('delivers an authentic text without parsing it, and parses every other one before delivery', async () => {
    const c = `m:${uniqueId()}`;
    const { got, handler } = texts();
    const sub = await subscriber.subscribe(c, handler);
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const signed = '{"event":"e","data":{"k":"signed"},"ts":1}';
      await publisher.publish(c, 'e', { k: 'first' }); // the first read-back teaches the key
      await waitUntil(() => got.length === 1, 'the first publication');
      parse.mockClear();
      await evalPublish(client, prefix, c, signed, { macKey: randomBytes(20).toString('hex') });
      await waitUntil(() => got.length === 2, 'the signed publication');
      expect(parse.mock.calls.filter(([t]) => typeof t === 'string' && t.includes('"signed"'))).toHaveLength(0);
      expect(stats().macVerified - base.verified).toBe(1);
      // a text the script did not check in full has no MAC: read back, and parsed before delivery
      await evalPublish(client, prefix, c, '{"event":"e","data":{"k":"unsigned"},"ts":1,"priority": 2}', {
        macKey: randomBytes(20).toString('hex'),
      });
      await waitUntil(() => got.length === 3, 'the unsigned publication');
      expect(parse.mock.calls.some(([t]) => typeof t === 'string' && t.includes('"unsigned"'))).toBe(true);
      expect(stats().macVerified - base.verified).toBe(1);
      expect(got[2]?.publication().priority).toBe(2);
      // the signed one still parses on demand, to the same publication
      expect(got[1]?.publication().data).toEqual({ k: 'signed' });
    } finally {
      parse.mockRestore();
      await sub.unsubscribe();
    }
  });

  it("with verifyLiveMessages: 'history' ignores MACs and reads every live message back", async () => {
    let strictReads = 0;
    const strictClient = countingReads(new Redis(server.url), () => strictReads++);
    const strict = createSubscriber({ redis: strictClient, prefix, namespaces, verifyLiveMessages: 'history' });
    try {
      const c = `m:${uniqueId()}`;
      await publisher.publish(c, 'e', 0);
      const t = texts();
      await strict.subscribe(c, t.handler);
      expect(strictReads).toBe(1);
      for (const n of range(1, 5)) {
        await publisher.publish(c, 'e', n);
        await waitUntil(() => t.got.length === n, `publication ${n}`);
      }
      // one read-back per publication (each awaited before the next), none verified by MAC
      expect(strictReads).toBe(6);
      expect(strict.stats().macVerified).toBe(0);
      expect(t.got.map((m) => m.text)).toEqual((await historyTexts(c)).slice(1));
    } finally {
      await strict.close();
      strictClient.disconnect();
    }
  });

  it('learns the key of a channel subscribed while empty from the first read-back', async () => {
    const c = `m:${uniqueId()}`;
    const t = timeline();
    await subscriber.subscribe(c, t.handler);
    for (const n of range(1, 10)) {
      await publisher.publish(c, 'e', n);
      await waitUntil(() => t.pubs().length === n, `publication ${n}`);
    }
    // The head read, then one read-back of the first publication (no key known yet).
    expect(reads - base.reads).toBe(2);
    expect(stats().macVerified - base.verified).toBe(9);
    expect(t.pubs().map((p) => p.data)).toEqual(range(1, 10));
  });

  it('never delivers a forged message with no MAC, a wrong MAC or another key’s MAC; the genuine one is', async () => {
    const c = `m:${uniqueId()}`;
    const pubsub = channelKeys(prefix, c).pubsub;
    const { epoch } = await publisher.publish(c, 'e', 'genuine-1');
    const t = texts();
    await subscriber.subscribe(c, t.handler);
    const forged = (offset: number, data: string) =>
      JSON.stringify({ channel: c, offset, epoch, event: 'e', data, ts: 1 });
    const [stored] = await historyTexts(c);
    const genuineKey = (await client.hget(channelKeys(prefix, c).meta, 'mac')) as string;
    const text2 = forged(2, 'forged');
    const attempts = [
      text2, // no MAC
      withMac(text2, 'f'.repeat(40)), // a valid-looking suffix, wrong MAC
      withMac(text2, hmac(randomBytes(20).toString('hex'), text2)), // another key's MAC
      withMac(text2, hmac(genuineKey, stored as string)), // the MAC of another text
    ];
    for (const [i, attempt] of attempts.entries()) {
      await client.publish(pubsub, attempt);
      await waitUntil(() => stats().invalid >= base.invalid + i + 1, `forgery ${i} rejected`);
    }
    expect(reads - base.reads).toBeGreaterThan(1); // each went the read-back path
    expect(stats().macVerified).toBe(base.verified);
    await publisher.publish(c, 'e', 'genuine-2');
    await publisher.publish(c, 'e', 'genuine-3');
    await waitUntil(() => t.got.length === 2, 'the genuine publications');
    await sleep(30);
    expect(t.got.map((m) => m.publication().data)).toEqual(['genuine-2', 'genuine-3']);
    expect(t.got.map((m) => m.text)).toEqual((await historyTexts(c)).slice(1));
  });

  it('a forged suffix on a channel without a key changes nothing: stripped, then read back', async () => {
    const c = `m:${uniqueId()}`;
    const pubsub = channelKeys(prefix, c).pubsub;
    await evalPublish(client, prefix, c, body(1));
    const t = texts();
    await subscriber.subscribe(c, t.handler);
    // An old publisher (no candidate) runs the script, and someone replays its message with a MAC.
    await evalPublish(client, prefix, c, body(2));
    await waitUntil(() => t.got.length === 1, 'the old publisher’s publication');
    const [, text2] = await historyTexts(c);
    await client.publish(pubsub, withMac(text2 as string, 'e'.repeat(40)));
    await evalPublish(client, prefix, c, body(3));
    await waitUntil(() => t.got.length === 2, 'the third publication');
    await sleep(30);
    expect(t.got.map((m) => m.text)).toEqual((await historyTexts(c)).slice(1));
    expect(stats().macVerified).toBe(base.verified);
    expect(reads - base.reads).toBeGreaterThanOrEqual(3); // the head read and two read-backs
  });

  it('an old publisher (no ARGV[9]) on a keyed channel still gets MACs, and on a new one is read back', async () => {
    const keyed = `m:${uniqueId()}`;
    await publisher.publish(keyed, 'e', 0);
    const t = timeline();
    await subscriber.subscribe(keyed, t.handler);
    for (const n of range(1, 3)) {
      await evalPublish(client, prefix, keyed, body(n));
      await waitUntil(() => t.pubs().length === n, `publication ${n}`);
    }
    expect(stats().macVerified - base.verified).toBe(3);
    expect(reads - base.reads).toBe(1);

    const plain = `m:${uniqueId()}`;
    const u = timeline();
    await evalPublish(client, prefix, plain, body(0));
    await subscriber.subscribe(plain, u.handler);
    const before = reads;
    for (const n of range(1, 3)) {
      await evalPublish(client, prefix, plain, body(n));
      await waitUntil(() => u.pubs().length === n, `plain publication ${n}`);
    }
    expect(reads - before).toBe(3);
    expect(stats().macVerified - base.verified).toBe(3);
    expect(u.pubs().map((p) => p.data)).toEqual([1, 2, 3]);
  });

  it('a channel whose epoch is recreated gets a new key and keeps verifying by MAC', async () => {
    const c = `m:${uniqueId()}`;
    const keys = channelKeys(prefix, c);
    await publisher.publish(c, 'e', 1);
    const t = timeline();
    await subscriber.subscribe(c, t.handler);
    await publisher.publish(c, 'e', 2);
    await waitUntil(() => t.pubs().length === 1, 'the first live publication');
    const oldKey = await client.hget(keys.meta, 'mac');
    await client.del(keys.meta, keys.history);
    // Another publisher (another candidate) creates the new generation.
    const other = createPublisher({ redis: client, prefix, namespaces });
    const { epoch } = await other.publish(c, 'e', 'new-1');
    const newKey = await client.hget(keys.meta, 'mac');
    expect(newKey).toMatch(/^[0-9a-f]{40}$/);
    expect(newKey).not.toBe(oldKey);
    // Its MAC does not check under the old key: read back, it is the new generation's reset.
    await waitUntil(() => t.resets().length === 1, 'the reset to the new epoch');
    expect(t.resets()[0]).toMatchObject({ reason: 'epoch_changed', epoch, offset: 1, latest: { data: 'new-1' } });
    const readsAfterReset = reads;
    const verifiedAfterReset = stats().macVerified;
    for (const n of range(2, 5)) {
      await other.publish(c, 'e', `new-${n}`);
      await waitUntil(() => t.pubs().length === n, `new publication ${n}`);
    }
    expect(stats().macVerified - verifiedAfterReset).toBe(4);
    expect(reads).toBe(readsAfterReset);
    expect(t.pubs().map((p) => [p.epoch === epoch, p.data])).toEqual([
      [false, 2],
      ...range(2, 5).map((n) => [true, `new-${n}`]),
    ]);
    await other.close();
  });

  it('a state channel without history verifies by MAC too', async () => {
    const c = `st:${uniqueId()}`;
    await publisher.publish(c, 'status', { n: 0 });
    const t = timeline();
    await subscriber.subscribe(c, t.handler);
    for (const n of range(1, 5)) {
      await publisher.publish(c, 'status', { n });
      await waitUntil(() => t.pubs().length === n, `value ${n}`);
    }
    expect(reads - base.reads).toBe(1);
    expect(stats().macVerified - base.verified).toBe(5);
  });
});

describe('without a key, the read-back still serves', () => {
  it('a burst larger than the history from an old publisher is delivered whole, in order, without a reset', async () => {
    const c = `small:${uniqueId()}`;
    const t = timeline();
    await subscriber.subscribe(c, t.handler);
    await evalPublish(client, prefix, c, body(0), { historySize: 10 });
    await waitUntil(() => t.pubs().length === 1, 'the first publication');
    await Promise.all(range(1, 200).map((n) => evalPublish(client, prefix, c, body(n), { historySize: 10 })));
    await waitUntil(() => t.pubs().length === 201 || t.resets().length > 0, 'the burst');
    expect(t.resets()).toEqual([]);
    expect(t.pubs().map((p) => p.offset)).toEqual(range(1, 201));
    expect(stats().macVerified).toBe(base.verified);
  });
});

describe('macMatches: HMAC-SHA1 in JavaScript over the message bytes', () => {
  /** `text` then `mac` as one message's bytes, checked as the subscriber checks them. */
  const check = (key: ReturnType<typeof macKeyOf>, text: Buffer, mac: Buffer | string) => {
    const bytes = Buffer.concat([text, typeof mac === 'string' ? Buffer.from(mac, 'utf8') : mac]);
    return macMatches(key, bytes, text.length, text.length);
  };

  it('agrees with createHmac for keys of one block and longer, texts of every length around the block edges, and any bytes', () => {
    const texts = [
      Buffer.from('{"channel":"m:1","offset":1,"epoch":"e","event":"x","data":{"s":"naïve ✓ 𝄞"},"ts":1}'),
      Buffer.from('x'.repeat(70_000)),
      Buffer.from([0xed, 0xa0, 0x80, 0xff, 0x00]), // not UTF-8: the bytes are what is signed
      ...range(0, 200).map((n) => randomBytes(n)),
    ];
    for (const size of [1, 20, 64, 65, 100]) {
      const raw = randomBytes(size);
      const key = macKeyOf(raw.toString('hex'));
      for (const text of texts) {
        const mac = createHmac('sha1', raw).update(text).digest('hex');
        expect(check(key, text, mac)).toBe(true);
        // the scratch state is reused: a second message under the same key checks as well
        const longer = Buffer.concat([text, Buffer.from('!')]);
        expect(check(key, longer, createHmac('sha1', raw).update(longer).digest('hex'))).toBe(true);
        const flipped = `${mac.slice(0, 39)}${mac[39] === '0' ? '1' : '0'}`;
        expect(check(key, text, flipped)).toBe(false);
        expect(check(key, longer, mac)).toBe(false);
        // hex digits in either case are the same bytes (the subscriber only takes lowercase ones
        // off a message)
        expect(check(key, text, mac.toUpperCase())).toBe(true);
      }
    }
  });

  it('refuses digits that are not hex, or not all there, and bounds outside the bytes', () => {
    const raw = randomBytes(20);
    const key = macKeyOf(raw.toString('hex'));
    const text = Buffer.from('{"channel":"m:1","offset":1,"epoch":"e","event":"x","data":1,"ts":1}');
    const mac = createHmac('sha1', raw).update(text).digest('hex');
    expect(check(key, text, mac)).toBe(true);
    expect(check(key, text, mac.slice(0, 38))).toBe(false);
    expect(check(key, text, `${mac.slice(0, 39)}g`)).toBe(false);
    expect(check(key, text, `g${mac.slice(1)}`)).toBe(false);
    // a character outside ASCII is bytes of 0x80 and more, none of them a digit, whatever its
    // low byte (U+0130 + 3 is not '3')
    expect(check(key, text, `${mac.slice(0, 39)}${String.fromCharCode(0x100 + mac.charCodeAt(39))}`)).toBe(false);
    // each digit's value matters: ':' and '@' sit just past '9' and before 'A'
    expect(check(key, text, `${mac.slice(0, 39)}:`)).toBe(false);
    expect(check(key, text, `@${mac.slice(1)}`)).toBe(false);
    const bytes = Buffer.concat([text, Buffer.from(mac)]);
    expect(macMatches(key, bytes, text.length, text.length + 1)).toBe(false);
    expect(macMatches(key, bytes, bytes.length + 1, text.length)).toBe(false);
    expect(macMatches(key, bytes, -1, text.length)).toBe(false);
  });
});
