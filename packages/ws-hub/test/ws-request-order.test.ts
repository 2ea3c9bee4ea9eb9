/**
 * Issue 9.15: every request gets exactly one answer, in request order — a subscribe followed at
 * once by an unsubscribe included. Checked on a real hub against a sequential model, for fixed
 * cases and random request sequences.
 */
import type { ServerFrame } from '@taskpulse/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type TestHub } from './helpers/hub';
import { TestClient } from './helpers/ws-client';

let t: TestHub;

beforeAll(async () => {
  t = await startHub({
    namespaces: { task: { historySize: 10 }, user: { access: 'user' }, chat: { clientPublish: true } },
    limits: { maxFramesPerSecond: 100_000, frameBurst: 100_000, maxInvalidFrames: 100_000 },
  });
});
afterAll(async () => {
  await t.close();
});

type Request =
  | { type: 'subscribe'; channel: string }
  | { type: 'unsubscribe'; channel: string }
  | { type: 'ping' }
  | { type: 'publish'; channel: string }
  | { type: 'garbage' };

/** What the answer to each request must be, given the requests before it. */
function model(requests: Request[]): string[] {
  const subscribed = new Set<string>();
  return requests.map((r) => {
    switch (r.type) {
      case 'ping':
        return 'pong';
      case 'garbage':
        return 'error:bad_frame';
      case 'publish':
        return r.channel.startsWith('chat:')
          ? 'published'
          : r.channel.startsWith('nope:')
            ? 'error:unknown_channel'
            : 'error:forbidden';
      case 'subscribe':
        if (subscribed.has(r.channel)) return 'error:already_subscribed';
        if (r.channel.startsWith('nope:')) return 'error:unknown_channel';
        if (r.channel.startsWith('user:')) return 'error:forbidden';
        subscribed.add(r.channel);
        return 'subscribed';
      default:
        return subscribed.delete(r.channel) ? 'unsubscribed' : 'error:not_subscribed';
    }
  });
}

function wire(r: Request, id: number): string {
  switch (r.type) {
    case 'ping':
      return JSON.stringify({ type: 'ping', id });
    case 'garbage':
      // Valid JSON with an id, but not a valid frame (invalid JSON carries no id to answer).
      return `{"type":"subscribe","id":${id},"channel":42}`;
    case 'publish':
      return JSON.stringify({ type: 'publish', id, channel: r.channel, event: 'say', data: { id } });
    default:
      return JSON.stringify({ type: r.type, id, channel: r.channel });
  }
}

function label(frame: ServerFrame): string {
  return frame.type === 'error' ? `error:${frame.code}` : frame.type;
}

/** Sends every request in one burst and returns the answers (frames with an id), in arrival order. */
async function run(requests: Request[], firstId: number): Promise<ServerFrame[]> {
  const c = await TestClient.connect(t.wsUrl);
  try {
    // One write per frame, back to back, without awaiting any answer.
    requests.forEach((r, i) => {
      c.send(wire(r, firstId + i));
    });
    const answered = () => c.frames.filter((f) => 'id' in f && f.id !== undefined);
    await c.waitUntil(() => answered().length >= requests.length, `${requests.length} answers`, 10_000);
    // A late duplicate answer would show up before this one.
    c.send({ type: 'ping', id: 'fence' });
    const isFence = (f: ServerFrame) => (f as { id?: unknown }).id === 'fence';
    await c.waitUntil(() => c.frames.some(isFence), 'the fence pong');
    return answered().filter((f) => !isFence(f));
  } finally {
    await c.close();
  }
}

describe('answers to requests (issue 9.15)', () => {
  it('answers a subscribe followed at once by an unsubscribe: subscribed, then unsubscribed', async () => {
    const answers = await run(
      [
        { type: 'subscribe', channel: 'task:quick' },
        { type: 'unsubscribe', channel: 'task:quick' },
        { type: 'subscribe', channel: 'task:quick' },
        { type: 'ping' },
        { type: 'unsubscribe', channel: 'task:quick' },
      ],
      1,
    );
    expect(answers.map((f) => [(f as { id: number }).id, label(f)])).toEqual([
      [1, 'subscribed'],
      [2, 'unsubscribed'],
      [3, 'subscribed'],
      [4, 'pong'],
      [5, 'unsubscribed'],
    ]);
  });

  it('keeps answer order when a fast answer follows a slow one (pong after a subscribe)', async () => {
    await t.hub.core.publish('task:slow', 'e', 1);
    const answers = await run(
      [
        { type: 'subscribe', channel: 'task:slow' },
        { type: 'ping' },
        { type: 'publish', channel: 'chat:1' },
        { type: 'ping' },
      ],
      10,
    );
    expect(answers.map(label)).toEqual(['subscribed', 'pong', 'published', 'pong']);
    expect(answers.map((f) => (f as { id: number }).id)).toEqual([10, 11, 12, 13]);
  });

  it('answers random request sequences exactly once each, in order, as a sequential model says', async () => {
    const channel = fc.constantFrom('task:a', 'task:b', 'user:43', 'nope:x', 'chat:r');
    const request: fc.Arbitrary<Request> = fc.oneof(
      { weight: 4, arbitrary: channel.map((c) => ({ type: 'subscribe' as const, channel: c })) },
      { weight: 4, arbitrary: channel.map((c) => ({ type: 'unsubscribe' as const, channel: c })) },
      { weight: 1, arbitrary: fc.constant({ type: 'ping' as const }) },
      { weight: 1, arbitrary: channel.map((c) => ({ type: 'publish' as const, channel: c })) },
      { weight: 1, arbitrary: fc.constant({ type: 'garbage' as const }) },
    );
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 30 }), async (requests) => {
        runs++;
        const answers = await run(requests, 1);
        // Exactly one answer per request, carrying the ids 1..n in order.
        expect(answers.map((f) => (f as { id: number }).id)).toEqual(requests.map((_, i) => i + 1));
        expect(answers.map(label)).toEqual(model(requests));
      }),
      { numRuns: 40 },
    );
    expect(runs).toBeGreaterThanOrEqual(40);
  });
});
