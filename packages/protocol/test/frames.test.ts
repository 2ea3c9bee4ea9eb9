import {
  clientFrameSchema,
  DEFAULT_MAX_FRAME_BYTES,
  exceedsBytes,
  PROTOCOL_VERSION,
  parseClientFrame,
  parsePublication,
  parseServerFrame,
  peekRequestId,
  serverFrameSchema,
  TaskpulseError,
  utf8ByteLength,
} from '@taskpulse/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CLIENT_FRAMES, PUBLICATION, SERVER_FRAMES } from './support/frames';

function expectBadFrame(result: ReturnType<typeof parseClientFrame> | ReturnType<typeof parseServerFrame>) {
  expect(result.ok).toBe(false);
  if (!result.ok) {
    expect(result.error).toBeInstanceOf(TaskpulseError);
    expect(result.error.code).toBe('bad_frame');
  }
}

describe('client frames', () => {
  it('cover every type of the union', () => {
    expect(Object.keys(CLIENT_FRAMES).sort()).toEqual(clientFrameSchema.options.map((o) => o.shape.type.value).sort());
  });

  it.each(Object.entries(CLIENT_FRAMES))('%s parses into the same typed frame', (_type, frame) => {
    const result = parseClientFrame(JSON.stringify(frame));
    expect(result).toEqual({ ok: true, value: frame });
  });

  it('parse with only their required fields', () => {
    expect(parseClientFrame('{"type":"subscribe","channel":"task:1"}')).toEqual({
      ok: true,
      value: { type: 'subscribe', channel: 'task:1' },
    });
    expect(parseClientFrame('{"type":"ping"}')).toEqual({ ok: true, value: { type: 'ping' } });
  });

  it('drop unknown fields (forward compatibility)', () => {
    const result = parseClientFrame('{"type":"ping","id":1,"future":true}');
    expect(result).toEqual({ ok: true, value: { type: 'ping', id: 1 } });
  });

  const invalid: [string, unknown][] = [
    ['no type', { channel: 'task:1' }],
    ['an unknown type', { type: 'join', channel: 'task:1' }],
    ['a server type', { type: 'pong' }],
    ['subscribe without channel', { type: 'subscribe' }],
    ['subscribe to an invalid channel', { type: 'subscribe', channel: 'task:*' }],
    ['subscribe with a channel of another type', { type: 'subscribe', channel: 7 }],
    ['subscribe since a negative offset', { type: 'subscribe', channel: 'task:1', since: { epoch: 'e', offset: -1 } }],
    [
      'subscribe since a fractional offset',
      { type: 'subscribe', channel: 'task:1', since: { epoch: 'e', offset: 1.5 } },
    ],
    [
      'subscribe since an unsafe offset',
      { type: 'subscribe', channel: 'task:1', since: { epoch: 'e', offset: 2 ** 53 } },
    ],
    ['subscribe since an empty epoch', { type: 'subscribe', channel: 'task:1', since: { epoch: '', offset: 1 } }],
    ['subscribe since a position without epoch', { type: 'subscribe', channel: 'task:1', since: { offset: 1 } }],
    ['unsubscribe without channel', { type: 'unsubscribe', id: 1 }],
    ['ping with an object id', { type: 'ping', id: {} }],
    ['ping with a fractional id', { type: 'ping', id: 1.5 }],
    ['ping with a 65-character id', { type: 'ping', id: 'x'.repeat(65) }],
    ['publish without data', { type: 'publish', channel: 'task:1', event: 'e' }],
    ['publish without event', { type: 'publish', channel: 'task:1', data: 1 }],
    ['publish with an empty event', { type: 'publish', channel: 'task:1', event: '', data: 1 }],
    ['publish with priority 0', { type: 'publish', channel: 'task:1', event: 'e', data: 1, priority: 0 }],
    ['publish with priority 5', { type: 'publish', channel: 'task:1', event: 'e', data: 1, priority: 5 }],
  ];

  it.each(invalid)('%s fails with bad_frame', (_what, frame) => {
    expectBadFrame(parseClientFrame(JSON.stringify(frame)));
  });

  it.each([
    ['not JSON', '{type:"ping"}'],
    ['truncated JSON', '{"type":"ping"'],
    ['an empty string', ''],
    ['a JSON array', '[{"type":"ping"}]'],
    ['a JSON string', '"ping"'],
    ['a JSON number', '42'],
    ['JSON null', 'null'],
  ])('%s fails with bad_frame', (_what, text) => {
    expectBadFrame(parseClientFrame(text));
  });

  it.each([
    ['a Buffer', Buffer.from('{"type":"ping"}')],
    ['undefined', undefined],
    ['an object', { type: 'ping' }],
  ])('%s (not text) fails with bad_frame', (_what, input) => {
    const result = parseClientFrame(input);
    expectBadFrame(result);
    if (!result.ok) expect(result.error.message).toBe('frame must be text');
  });

  it('names the offending field in the error message and keeps the zod error as cause', () => {
    const result = parseClientFrame('{"type":"subscribe","channel":"task:1","since":{"epoch":"e","offset":-1}}');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.message).toMatch(/^invalid frame: since\.offset: /);
      expect(result.error.cause).toBeDefined();
    }
  });
});

describe('server frames', () => {
  it('cover every type of the union', () => {
    expect(Object.keys(SERVER_FRAMES).sort()).toEqual(serverFrameSchema.options.map((o) => o.shape.type.value).sort());
  });

  it.each(Object.entries(SERVER_FRAMES))('%s parses into the same typed frame', (_type, frame) => {
    expect(parseServerFrame(JSON.stringify(frame))).toEqual({ ok: true, value: frame });
  });

  it('welcome carries the protocol version', () => {
    const result = parseServerFrame(JSON.stringify({ ...SERVER_FRAMES.welcome, protocolVersion: PROTOCOL_VERSION }));
    expect(result.ok && result.value.type === 'welcome' && result.value.protocolVersion).toBe(PROTOCOL_VERSION);
  });

  it('subscribed may carry a null state', () => {
    const frame = { ...SERVER_FRAMES.subscribed, state: null };
    expect(parseServerFrame(JSON.stringify(frame))).toEqual({ ok: true, value: frame });
  });

  const invalid: [string, unknown][] = [
    ['a client type', { type: 'ping' }],
    ['welcome without clientId', { type: 'welcome', protocolVersion: 1, heartbeatIntervalMs: 1 }],
    ['welcome with an empty clientId', { ...SERVER_FRAMES.welcome, clientId: '' }],
    ['welcome with a string version', { ...SERVER_FRAMES.welcome, protocolVersion: '1' }],
    ['welcome with a negative heartbeat', { ...SERVER_FRAMES.welcome, heartbeatIntervalMs: -1 }],
    ['subscribed with an unknown kind', { ...SERVER_FRAMES.subscribed, kind: 'log' }],
    ['subscribed without epoch', { type: 'subscribed', channel: 'task:1', kind: 'events', offset: 0 }],
    ['subscribed with a string recovered', { ...SERVER_FRAMES.subscribed, recovered: 'yes' }],
    ['subscribed with an invalid state', { ...SERVER_FRAMES.subscribed, state: { channel: 'task:1' } }],
    ['unsubscribed with an invalid channel', { type: 'unsubscribed', channel: 'Task' }],
    ['publication without data', { type: 'publication', ...PUBLICATION, data: undefined }],
    ['publication without ts', { ...SERVER_FRAMES.publication, ts: undefined }],
    ['publication with a string ts', { ...SERVER_FRAMES.publication, ts: '1771669800000' }],
    ['publication with a negative offset', { ...SERVER_FRAMES.publication, offset: -1 }],
    ['publication at offset 0 (offsets start at 1)', { ...SERVER_FRAMES.publication, offset: 0 }],
    ['publication with a 129-character id', { ...SERVER_FRAMES.publication, id: 'x'.repeat(129) }],
    ['publication with priority 9', { ...SERVER_FRAMES.publication, priority: 9 }],
    ['publication on an invalid channel', { ...SERVER_FRAMES.publication, channel: 'task: 1' }],
    ['batch without publications', { type: 'batch' }],
    ['batch with an object for publications', { type: 'batch', publications: {} }],
    [
      'batch with one invalid publication',
      { type: 'batch', publications: [PUBLICATION, { ...PUBLICATION, epoch: '' }] },
    ],
    ['published without offset', { type: 'published', channel: 'task:1', epoch: 'e' }],
    ['published at offset 0', { type: 'published', channel: 'task:1', epoch: 'e', offset: 0 }],
    ['error with an unknown code', { ...SERVER_FRAMES.error, code: 'oops' }],
    ['error without message', { type: 'error', code: 'internal' }],
    ['pong with an array id', { type: 'pong', id: [1] }],
  ];

  it.each(invalid)('%s fails with bad_frame', (_what, frame) => {
    expectBadFrame(parseServerFrame(JSON.stringify(frame)));
  });
});

describe('parsePublication', () => {
  it('parses a stored publication and rejects a broken one', () => {
    expect(parsePublication(JSON.stringify(PUBLICATION))).toEqual({ ok: true, value: PUBLICATION });
    const result = parsePublication(JSON.stringify({ ...PUBLICATION, offset: 'x' }));
    expect(result.ok === false && result.error.code).toBe('bad_frame');
  });
});

describe('size limit', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('rejects oversize input with frame_too_large before JSON.parse sees it', () => {
    const parse = vi.spyOn(JSON, 'parse');
    // Valid JSON, so only the size check can reject it; 1 MiB would be expensive to parse.
    const text = JSON.stringify({ type: 'publish', channel: 'task:1', event: 'e', data: 'x'.repeat(1024 * 1024) });
    const result = parseClientFrame(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('frame_too_large');
      expect(result.error.status).toBe(413);
      expect(result.error.details).toEqual({ maxBytes: DEFAULT_MAX_FRAME_BYTES });
    }
    expect(parse).not.toHaveBeenCalled();

    // The spy does see a frame that is small enough.
    expect(parseClientFrame('{"type":"ping"}').ok).toBe(true);
    expect(parse).toHaveBeenCalledTimes(1);
  });

  it('counts UTF-8 bytes, not characters', () => {
    const parse = vi.spyOn(JSON, 'parse');
    // 30 000 characters but 90 000 bytes: over the 64 KiB default although .length is under it.
    const data = '€'.repeat(30_000);
    const text = JSON.stringify({ type: 'publish', channel: 'task:1', event: 'e', data });
    expect(text.length).toBeLessThan(DEFAULT_MAX_FRAME_BYTES);
    const result = parseClientFrame(text);
    expect(result.ok === false && result.error.code).toBe('frame_too_large');
    expect(parse).not.toHaveBeenCalled();
  });

  it('accepts a frame of exactly maxBytes and rejects one byte more', () => {
    const base = '{"type":"ping","id":""}';
    const exact = `{"type":"ping","id":"${'x'.repeat(40 - base.length)}"}`;
    expect(utf8ByteLength(exact)).toBe(40);
    expect(parseClientFrame(exact, { maxBytes: 40 }).ok).toBe(true);
    const result = parseClientFrame(exact, { maxBytes: 39 });
    expect(result.ok === false && result.error.code).toBe('frame_too_large');
  });

  it('gives server frames and publications a larger default limit', () => {
    const data = 'x'.repeat(200_000);
    expect(parseServerFrame(JSON.stringify({ ...SERVER_FRAMES.publication, data })).ok).toBe(true);
    expect(parsePublication(JSON.stringify({ ...PUBLICATION, data })).ok).toBe(true);
    const fromClient = parseClientFrame(JSON.stringify({ ...CLIENT_FRAMES.publish, data }));
    expect(fromClient.ok === false && fromClient.error.code).toBe('frame_too_large');
    const limited = parseServerFrame(JSON.stringify({ ...SERVER_FRAMES.publication, data }), { maxBytes: 1000 });
    expect(limited.ok === false && limited.error.code).toBe('frame_too_large');
  });

  it('computes UTF-8 lengths like TextEncoder, lone surrogates included', () => {
    const encoder = new TextEncoder();
    for (const text of [
      '',
      'a',
      'é',
      '€',
      '😀',
      '\ud800',
      '\udc00',
      'a\ud800b',
      '\ud83d\ude00\ud83d',
      'x'.repeat(1000),
    ]) {
      expect(utf8ByteLength(text)).toBe(encoder.encode(text).length);
    }
  });

  it('exceedsBytes takes the cheap path for short and long strings and is exact in between', () => {
    expect(exceedsBytes('abc', 3)).toBe(false);
    expect(exceedsBytes('abcd', 3)).toBe(true);
    expect(exceedsBytes('€', 3)).toBe(false);
    expect(exceedsBytes('€€', 5)).toBe(true);
    expect(exceedsBytes('€€', 6)).toBe(false);
  });
});

describe('peekRequestId', () => {
  it('reads a string or integer id from a frame that failed validation', () => {
    expect(peekRequestId('{"type":"subscribe","id":"r1","channel":"bad name"}')).toBe('r1');
    expect(peekRequestId('{"type":"nope","id":7}')).toBe(7);
  });

  it('returns undefined when there is no usable id', () => {
    for (const text of [
      'not json',
      '{"type":"ping"}',
      '{"id":1.5}',
      '{"id":{}}',
      `{"id":"${'x'.repeat(65)}"}`,
      '[1]',
      42,
    ]) {
      expect(peekRequestId(text)).toBeUndefined();
    }
    expect(peekRequestId(`{"id":1,"pad":"${'x'.repeat(DEFAULT_MAX_FRAME_BYTES)}"}`)).toBeUndefined();
  });
});
