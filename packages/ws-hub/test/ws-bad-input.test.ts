import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type TestHub } from './helpers/hub';
import { TestClient } from './helpers/ws-client';

describe('bad client input', () => {
  let t: TestHub;
  const clients: TestClient[] = [];
  const connect = async () => {
    const c = await TestClient.connect(t.wsUrl);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startHub({
      allowUnknownNamespaces: false,
      namespaces: { task: {}, user: { access: 'user' } },
      // Generous: these tests send many bad frames on purpose and check each answer.
      limits: { maxInvalidFrames: 1000, maxFramesPerSecond: 10_000, frameBurst: 10_000 },
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await t.close();
  });

  const cases: Array<[string, string, string]> = [
    ['malformed JSON', '{"type":"subscribe",', 'bad_frame'],
    ['a JSON array', '[1,2,3]', 'bad_frame'],
    ['a JSON string', '"subscribe"', 'bad_frame'],
    ['null', 'null', 'bad_frame'],
    ['an unknown type', '{"type":"shout","id":"q1"}', 'bad_frame'],
    ['no type', '{"id":"q2","channel":"task:1"}', 'bad_frame'],
    ['a channel of the wrong type', '{"type":"subscribe","id":"q3","channel":42}', 'bad_frame'],
    [
      'a position of the wrong type',
      '{"type":"subscribe","id":"q4","channel":"task:1","since":{"epoch":"e","offset":"7"}}',
      'bad_frame',
    ],
    [
      'a negative offset',
      '{"type":"subscribe","id":"q5","channel":"task:1","since":{"epoch":"e","offset":-1}}',
      'bad_frame',
    ],
    ['an id of the wrong type', '{"type":"ping","id":{"a":1}}', 'bad_frame'],
    ['a channel with a space', '{"type":"subscribe","id":"q6","channel":"task:a b"}', 'bad_frame'],
    ['a wildcard channel', '{"type":"subscribe","id":"q7","channel":"task:*"}', 'bad_frame'],
    ['an upper-case namespace', '{"type":"subscribe","id":"q8","channel":"Task:1"}', 'bad_frame'],
    ['a too long channel', `{"type":"subscribe","id":"q9","channel":"task:${'a'.repeat(300)}"}`, 'bad_frame'],
    ['an unknown namespace', '{"type":"subscribe","id":"q10","channel":"nowhere:1"}', 'unknown_channel'],
    ['unsubscribe without subscription', '{"type":"unsubscribe","id":"q11","channel":"task:none"}', 'not_subscribed'],
    ['a channel of another user', '{"type":"subscribe","id":"q12","channel":"user:43"}', 'forbidden'],
  ];

  it.each(cases)(
    'answers %s with an error frame (%s → %s), correlated when it has an id',
    async (_name, text, code) => {
      const c = await connect();
      const before = c.frames.length;
      c.send(text);
      const error = await c.waitForFrame((f) => f.type === 'error', `error for ${text.slice(0, 40)}`, 5000, before);
      expect(error).toMatchObject({ type: 'error', code });
      expect(typeof (error as { message: unknown }).message).toBe('string');
      const id = /"id":"(q\d+)"/.exec(text)?.[1];
      if (id) expect(error).toMatchObject({ id });
      // The connection stays usable.
      expect((await c.request({ type: 'ping' })).type).toBe('pong');
    },
  );

  it('answers a second subscribe to the same channel with already_subscribed', async () => {
    const c = await connect();
    await c.subscribe('task:dup');
    expect(await c.subscribeRaw('task:dup')).toMatchObject({ type: 'error', code: 'already_subscribed' });
  });

  it('answers binary frames with bad_frame, even valid JSON (docs/protocol.md: text frames only)', async () => {
    const c = await connect();
    c.ws.send(Buffer.from('{"type":"ping","id":"bin"}'), { binary: true });
    await c.waitForFrame((f) => f.type === 'error' && f.code === 'bad_frame', 'bad_frame for a binary ping');
    c.ws.send(Buffer.from([0xff, 0x00, 0x13]), { binary: true });
    await c.waitUntil(
      () => c.errors().filter((e) => e.code === 'bad_frame').length === 2,
      'bad_frame for binary garbage',
    );
    expect(c.frames.some((f) => f.type === 'pong')).toBe(false);
    expect((await c.request({ type: 'ping' })).type).toBe('pong');
  });

  it('lets ws close a text frame that is not UTF-8 with 1007, and keeps serving others', async () => {
    const c = await connect();
    c.ws.send(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), { binary: false });
    expect((await c.closed).code).toBe(1007);
    const d = await connect();
    expect((await d.request({ type: 'ping' })).type).toBe('pong');
  });

  it('survives arbitrary input without crashing (property test)', async () => {
    const c = await connect();
    const before = c.frames.length;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.json({ maxDepth: 4 }),
          fc
            .record({
              type: fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'publish', 'batch', '__proto__'),
              id: fc.oneof(fc.string({ maxLength: 70 }), fc.integer(), fc.constant(null)),
              channel: fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('task:1', 'user:1', 'x')),
              since: fc.anything({ maxDepth: 2 }),
            })
            .map((o) => JSON.stringify(o)),
        ),
        async (text) => {
          c.send(text);
        },
      ),
      { numRuns: 300 },
    );
    // Every frame gets exactly one answer (an error frame for the bad ones), and the connection still works.
    const pong = await c.request({ type: 'ping' }, 10_000);
    expect(pong.type).toBe('pong');
    await c.waitUntil(() => c.frames.length >= before + 301, 'one answer per frame', 10_000);
    expect(c.frames.length).toBe(before + 301);
    expect(c.closeInfo).toBeUndefined();
    expect(c.garbage).toEqual([]);
  });
});
