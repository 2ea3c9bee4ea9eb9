import { DEFAULT_NAMESPACE_OPTIONS, preparePublish, TaskpulseError } from '@taskpulse/protocol';
import { describe, expect, it } from 'vitest';

const ns = { ...DEFAULT_NAMESPACE_OPTIONS, maxPayloadBytes: 16 };
const clock = () => 1000;

/** The error `fn` throws (fails when it throws none). */
function thrown(fn: () => unknown): TaskpulseError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TaskpulseError);
    return error as TaskpulseError;
  }
  throw new Error('expected a throw');
}

describe('preparePublish', () => {
  it('serializes data and fills ts from the clock', () => {
    expect(preparePublish(ns, 'task:1', 'progress', { a: 1 }, {}, clock)).toEqual({ dataJson: '{"a":1}', ts: 1000 });
    expect(preparePublish(ns, 'task:1', 'e', null, undefined, clock)).toEqual({ dataJson: 'null', ts: 1000 });
  });

  it('keeps the caller ts, id and priority', () => {
    expect(preparePublish(ns, 'task:1', 'e', 1, { ts: 5, id: 'msg_1', priority: 4 }, clock)).toEqual({
      dataJson: '1',
      ts: 5,
      id: 'msg_1',
      priority: 4,
    });
    expect(preparePublish(ns, 'task:1', 'e', 1, { id: 'x'.repeat(128), priority: 1 }, clock)).toMatchObject({
      id: 'x'.repeat(128),
      priority: 1,
    });
  });

  it('uses Date.now without a clock', () => {
    const before = Date.now();
    const { ts } = preparePublish(ns, 'task:1', 'e', 1);
    expect(ts).toBeGreaterThanOrEqual(before);
  });

  it.each([
    ['an empty event', '', 1, {}],
    ['a too long event', 'e'.repeat(129), 1, {}],
    ['a non-string event', 42 as unknown as string, 1, {}],
    ['undefined data', 'e', undefined, {}],
    ['a function as data', 'e', () => 1, {}],
    ['a bigint', 'e', 1n, {}],
    ['a non-finite ts', 'e', 1, { ts: Number.POSITIVE_INFINITY }],
    ['a NaN ts', 'e', 1, { ts: Number.NaN }],
    ['a string ts', 'e', 1, { ts: '5' as unknown as number }],
    ['a too long id', 'e', 1, { id: 'x'.repeat(129) }],
    ['a non-string id', 'e', 1, { id: 7 as unknown as string }],
    ['priority 0', 'e', 1, { priority: 0 }],
    ['priority 5', 'e', 1, { priority: 5 }],
    ['priority 9', 'e', 1, { priority: 9 }],
    ['a fractional priority', 'e', 1, { priority: 2.5 }],
  ])('rejects %s with bad_request', (_what, event, data, options) => {
    expect(thrown(() => preparePublish(ns, 'task:1', event, data, options, clock)).code).toBe('bad_request');
  });

  it('rejects cyclic data with bad_request, keeping the cause', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const error = thrown(() => preparePublish(ns, 'task:1', 'e', cyclic, {}, clock));
    expect(error.code).toBe('bad_request');
    expect(error.message).toBe('data is not JSON-serializable');
    expect(error.cause).toBeInstanceOf(TypeError);
  });

  it('rejects data larger than maxPayloadBytes (UTF-8) with payload_too_large and details', () => {
    // 16 bytes exactly is accepted; one more byte, or multi-byte characters past the limit, are not.
    expect(preparePublish(ns, 'task:1', 'e', 'x'.repeat(14), {}, clock).dataJson).toHaveLength(16);
    for (const data of ['x'.repeat(15), 'é'.repeat(8), '😀'.repeat(4)]) {
      const error = thrown(() => preparePublish(ns, 'task:1', 'e', data, {}, clock));
      expect(error.code).toBe('payload_too_large');
      expect(error.message).toBe('data is larger than 16 bytes');
      expect(error.details).toEqual({ channel: 'task:1', maxPayloadBytes: 16 });
    }
  });

  it('checks the event before the payload, and the payload before the options', () => {
    expect(thrown(() => preparePublish(ns, 'task:1', '', 'x'.repeat(100), {}, clock)).code).toBe('bad_request');
    expect(thrown(() => preparePublish(ns, 'task:1', 'e', 'x'.repeat(100), { priority: 9 }, clock)).code).toBe(
      'payload_too_large',
    );
  });
});
