/** The hand-written frame checks and the position cursor, against the hub's own cursor codec. */

import { describe, expect, it } from 'vitest';
import { decodePositionsCursor, encodePositionsCursor } from '../../ws-hub/src/http/positions-cursor';
import { encodeCursor } from '../src/cursor';
import { parseFrame } from '../src/frame';

describe('position cursor', () => {
  it('is the hub format: the hub decodes it and encodes the same token', () => {
    const positions: [string, { epoch: string; offset: number }][] = [
      ['task:8f2c', { epoch: 'a1b2c3', offset: 7 }],
      ['processor:status', { epoch: 'd4e5f6', offset: 1 }],
      ['user-notifications:u-1', { epoch: 'é-1', offset: 0 }],
    ];
    const cursor = encodeCursor(positions);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePositionsCursor(cursor as string)).toEqual(Object.fromEntries(positions));
    expect(cursor).toBe(encodePositionsCursor(Object.fromEntries(positions)));
  });

  it('leaves out channels without a position and is undefined without any', () => {
    expect(encodeCursor([['task:1', null]])).toBeUndefined();
    const cursor = encodeCursor([
      ['task:1', null],
      ['task:2', { epoch: 'e', offset: 3 }],
    ]);
    expect(decodePositionsCursor(cursor as string)).toEqual({ 'task:2': { epoch: 'e', offset: 3 } });
  });
});

describe('parseFrame', () => {
  it('accepts every server frame the client reads, including live', () => {
    const frames = [
      { type: 'welcome', clientId: 'c1', protocolVersion: 1, heartbeatIntervalMs: 25000 },
      { type: 'subscribed', id: 1, channel: 'task:1', kind: 'events', epoch: 'e', offset: 3, recovered: true },
      { type: 'subscribed', channel: 'p:s', kind: 'state', epoch: 'e', offset: 0, state: null },
      { type: 'publication', channel: 'task:1', epoch: 'e', offset: 4, event: 'progress', data: null, ts: 1 },
      { type: 'batch', publications: [{ channel: 'a', epoch: 'e', offset: 1, event: 'x', data: 1, ts: 1 }] },
      { type: 'error', code: 'forbidden', message: 'no', channel: 'user:2' },
      { type: 'live', available: false, code: 'unavailable', message: 'redis down' },
      { type: 'pong' },
    ];
    for (const f of frames) expect(parseFrame(JSON.stringify(f))).toEqual(f);
  });

  it('explains what is wrong instead of throwing', () => {
    expect(parseFrame('{"type":"pong"')).toBe('frame is not JSON');
    expect(parseFrame('[1]')).toBe('frame is not a JSON object');
    expect(parseFrame(new Uint8Array(2))).toBe('binary frames are not part of the protocol');
    expect(parseFrame('{"type":"teleport"}')).toBe('invalid "teleport" frame');
    expect(parseFrame('{"type":"publication","channel":"a","epoch":"e","offset":0,"event":"x","data":1,"ts":1}')).toBe(
      'invalid "publication" frame',
    );
    expect(parseFrame('{"type":"publication","channel":"a","epoch":"e","offset":1,"event":"x","ts":1}')).toBe(
      'invalid "publication" frame',
    );
    expect(parseFrame('{"type":"subscribed","channel":"a","kind":"log","epoch":"e","offset":1}')).toBe(
      'invalid "subscribed" frame',
    );
    expect(parseFrame('{"channel":"a"}')).toBe('invalid untyped frame');
  });
});
