/** The retry / refresh / fallback / give-up table of docs/client.md, decision by decision. */
import { describe, expect, it } from 'vitest';
import { classifyClose, classifyStatus, clientError, type TransportFailure } from '../src/errors';
import { decideAfterFailure, type FailureContext } from '../src/failure-policy';

const ctx: FailureContext = {
  canRefreshToken: true,
  authRetried: false,
  failures: 1,
  failuresBeforeFallback: 3,
  hasNext: true,
};
const f = (kind: TransportFailure['kind'], immediate?: boolean): TransportFailure => ({
  kind,
  error: clientError(kind, kind),
  ...(immediate === undefined ? {} : { immediate }),
});

describe('failure policy', () => {
  it('refreshes the token once, then reports unauthorized — never falls back on auth', () => {
    expect(decideAfterFailure(f('auth'), ctx)).toEqual({ type: 'refresh-token' });
    expect(decideAfterFailure(f('auth'), { ...ctx, authRetried: true })).toEqual({ type: 'unauthorized' });
    expect(decideAfterFailure(f('auth'), { ...ctx, canRefreshToken: false })).toEqual({ type: 'unauthorized' });
    expect(decideAfterFailure(f('auth'), { ...ctx, failures: 99 })).toEqual({ type: 'refresh-token' });
  });

  it('treats 403 / 4403 like 401: getToken() once, then unauthorized, never fallback', () => {
    expect(decideAfterFailure(f('forbidden'), { ...ctx, failures: 3 })).toEqual({ type: 'refresh-token' });
    expect(decideAfterFailure(f('forbidden'), { ...ctx, authRetried: true })).toEqual({ type: 'unauthorized' });
    expect(decideAfterFailure(f('forbidden'), { ...ctx, canRefreshToken: false })).toEqual({ type: 'unauthorized' });
  });

  it('backs off without falling back when the hub itself is unreachable (HTTP fails too)', () => {
    expect(decideAfterFailure(f('unreachable'), { ...ctx, failures: 2 })).toMatchObject({
      type: 'retry',
      exhausted: false,
    });
    expect(decideAfterFailure(f('unreachable'), { ...ctx, failures: 9 })).toMatchObject({
      type: 'retry',
      exhausted: true,
    });
  });

  it('falls back after failuresBeforeFallback network failures when a next transport exists', () => {
    expect(decideAfterFailure(f('network'), { ...ctx, failures: 2 })).toMatchObject({
      type: 'retry',
      exhausted: false,
    });
    expect(decideAfterFailure(f('network'), { ...ctx, failures: 3 })).toEqual({ type: 'fallback' });
    expect(decideAfterFailure(f('network'), { ...ctx, failures: 3, hasNext: false })).toMatchObject({
      type: 'retry',
      exhausted: true,
    });
  });

  it('backs off on 503, 429 and dropped connections without counting toward fallback', () => {
    expect(decideAfterFailure(f('unavailable'), { ...ctx, failures: 50 })).toEqual({
      type: 'retry',
      immediate: false,
      liveDown: true,
      exhausted: false,
    });
    expect(decideAfterFailure(f('rate_limited'), ctx)).toMatchObject({ type: 'retry', liveDown: false });
    expect(decideAfterFailure(f('dropped'), ctx)).toMatchObject({ type: 'retry', immediate: false });
    expect(decideAfterFailure(f('dropped', true), ctx)).toMatchObject({ type: 'retry', immediate: true });
    expect(decideAfterFailure(f('fatal'), ctx)).toEqual({ type: 'stop' });
  });

  it('classifies close codes and HTTP statuses as the protocol documents them', () => {
    const close = (code: number, opened: boolean) => classifyClose(code, '', opened);
    expect(close(4401, true).kind).toBe('auth');
    expect(close(4403, true).kind).toBe('forbidden');
    expect([4400, 4413, 4426].map((c) => close(c, true).kind)).toEqual(['fatal', 'fatal', 'fatal']);
    expect(close(4429, true).kind).toBe('rate_limited');
    expect([4500, 4503].map((c) => close(c, true).kind)).toEqual(['unavailable', 'unavailable']);
    expect(close(4509, true)).toMatchObject({ kind: 'dropped', immediate: true });
    expect(close(1001, true)).toMatchObject({ kind: 'dropped', immediate: true });
    expect(close(1006, true).kind).toBe('dropped');
    expect(close(1006, false).kind).toBe('network'); // before welcome: counts toward fallback
    expect(close(1000, false).kind).toBe('network');
    expect(classifyStatus(401, null)).toMatchObject({ kind: 'auth', error: { code: 'unauthorized' } });
    expect(classifyStatus(403, null).kind).toBe('forbidden');
    expect(classifyStatus(503, null)).toMatchObject({ kind: 'unavailable', error: { code: 'unavailable' } });
    expect(classifyStatus(429, null).kind).toBe('rate_limited');
    expect(classifyStatus(502, null).kind).toBe('network');
    expect(classifyStatus(426, null).kind).toBe('fatal');
  });
});
