import { readFileSync } from 'node:fs';
import {
  CloseCode,
  closeCodeFor,
  ERROR_CODES,
  type ErrorCode,
  httpStatusFor,
  isErrorCode,
  isRetryableClose,
  TaskpulseError,
} from '@taskpulse/protocol';
import { describe, expect, it } from 'vitest';

describe('error codes', () => {
  it('are a closed set of unique snake_case names', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });

  it('each map to an HTTP error status', () => {
    for (const code of ERROR_CODES) {
      const status = httpStatusFor(code);
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
    }
    expect(httpStatusFor('bad_frame')).toBe(400);
    expect(httpStatusFor('unauthorized')).toBe(401);
    expect(httpStatusFor('forbidden')).toBe(403);
    expect(httpStatusFor('frame_too_large')).toBe(413);
    expect(httpStatusFor('rate_limited')).toBe(429);
    expect(httpStatusFor('unavailable')).toBe(503);
  });

  it('isErrorCode accepts exactly the set', () => {
    for (const code of ERROR_CODES) expect(isErrorCode(code)).toBe(true);
    for (const value of ['', 'BAD_FRAME', 'oops', 'toString', 400, null, undefined, {}]) {
      expect(isErrorCode(value)).toBe(false);
    }
  });
});

describe('TaskpulseError', () => {
  it('carries code, message, cause, details and status', () => {
    const cause = new Error('socket closed');
    const error = new TaskpulseError('unavailable', 'redis is down', { cause, details: { host: '127.0.0.1' } });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TaskpulseError');
    expect(error.code).toBe('unavailable');
    expect(error.message).toBe('redis is down');
    expect(error.cause).toBe(cause);
    expect(error.details).toEqual({ host: '127.0.0.1' });
    expect(error.status).toBe(503);
    expect(error.stack).toContain('redis is down');
  });

  it('has no cause and no details unless given', () => {
    const error = new TaskpulseError('internal', 'boom');
    expect('cause' in error).toBe(false);
    expect(error.details).toBeUndefined();
  });

  it('serializes to the HTTP error body', () => {
    expect(
      JSON.parse(JSON.stringify(new TaskpulseError('forbidden', 'no', { details: { channel: 'user:7' } }))),
    ).toEqual({
      error: { code: 'forbidden', message: 'no', details: { channel: 'user:7' } },
    });
    expect(new TaskpulseError('timeout', 'slow').toJSON()).toEqual({ error: { code: 'timeout', message: 'slow' } });
  });

  describe('from', () => {
    it('returns a TaskpulseError as it is', () => {
      const error = new TaskpulseError('bad_channel', 'bad');
      expect(TaskpulseError.from(error)).toBe(error);
      expect(TaskpulseError.from(error, 'unavailable')).toBe(error);
    });

    it('wraps an Error as internal (or the fallback code), keeping it as cause', () => {
      const cause = new TypeError('x is undefined');
      const wrapped = TaskpulseError.from(cause);
      expect(wrapped.code).toBe('internal');
      expect(wrapped.message).toBe('x is undefined');
      expect(wrapped.cause).toBe(cause);
      expect(TaskpulseError.from(cause, 'unavailable').code).toBe('unavailable');
    });

    it('wraps thrown non-errors', () => {
      expect(TaskpulseError.from('plain string').message).toBe('plain string');
      expect(TaskpulseError.from(42).message).toBe('42');
      expect(TaskpulseError.from(undefined).cause).toBeUndefined();
      expect(TaskpulseError.from(Object.create(null)).message).toBe('unknown error');
      const hostile = {
        toString() {
          throw new Error('no');
        },
      };
      expect(TaskpulseError.from(hostile).cause).toBe(hostile);
    });

    it('keeps the code of a TaskpulseError from another copy of the package', () => {
      class OtherCopy extends Error {
        readonly code = 'forbidden';
        readonly details = { channel: 'user:1' };
        constructor() {
          super('not yours');
          this.name = 'TaskpulseError';
        }
      }
      const foreign = new OtherCopy();
      const wrapped = TaskpulseError.from(foreign);
      expect(wrapped).toBeInstanceOf(TaskpulseError);
      expect(wrapped.code).toBe('forbidden');
      expect(wrapped.message).toBe('not yours');
      expect(wrapped.details).toEqual({ channel: 'user:1' });
      expect(wrapped.cause).toBe(foreign);
      // An error that only borrows the name but has no valid code is wrapped like any error.
      const impostor = Object.assign(new Error('x'), { name: 'TaskpulseError', code: 'nope' });
      expect(TaskpulseError.from(impostor).code).toBe('internal');
    });
  });
});

describe('close codes', () => {
  const values = Object.values(CloseCode) as number[];
  const httpStatuses = new Set(ERROR_CODES.map(httpStatusFor));

  it('are unique and in the WebSocket ranges for standard (1000s) and application (4000s) codes', () => {
    expect(new Set(values).size).toBe(values.length);
    for (const value of values) expect(value === 1000 || value === 1001 || (value >= 4000 && value <= 4999)).toBe(true);
  });

  it('mirror the HTTP status of an error code in their 4xxx value, except SlowConsumer', () => {
    for (const [name, value] of Object.entries(CloseCode)) {
      if (value < 4000 || name === 'SlowConsumer') continue;
      expect(httpStatuses.has(value - 4000), `${name} ${value}`).toBe(true);
    }
    expect(httpStatusFor('slow_consumer')).toBe(503);
    expect(CloseCode.SlowConsumer).not.toBe(CloseCode.Unavailable);
  });

  it('closeCodeFor maps every error code to the mirror of its status when one exists', () => {
    for (const code of ERROR_CODES) {
      const close = closeCodeFor(code);
      expect(values).toContain(close);
      const status = httpStatusFor(code);
      if (code === 'slow_consumer') expect(close).toBe(CloseCode.SlowConsumer);
      else if (code === 'shutting_down') expect(close).toBe(CloseCode.GoingAway);
      else if (values.includes(4000 + status)) expect(close, code).toBe(4000 + status);
      else expect(close, code).toBe(status < 500 ? CloseCode.BadRequest : CloseCode.Unavailable);
    }
  });

  it('tell a client whether to reconnect', () => {
    const final = [CloseCode.BadRequest, CloseCode.Forbidden, CloseCode.FrameTooLarge, CloseCode.UnsupportedVersion];
    for (const value of values) expect(isRetryableClose(value), String(value)).toBe(!final.includes(value as never));
    expect(isRetryableClose(1006)).toBe(true); // abnormal closure: the network, not the client, failed
  });
});

describe('docs/protocol.md', () => {
  const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8');

  /** Rows of the first Markdown table after `heading`, as arrays of trimmed cells. */
  function table(heading: string): string[][] {
    const start = doc.indexOf(heading);
    expect(start, `heading "${heading}" in docs/protocol.md`).toBeGreaterThanOrEqual(0);
    const lines = doc.slice(start).split('\n');
    const first = lines.findIndex((line) => line.startsWith('|'));
    const rows: string[][] = [];
    for (const line of lines.slice(first + 2)) {
      if (!line.startsWith('|')) break;
      rows.push(
        line
          .slice(1, -1)
          .split('|')
          .map((cell) => cell.trim().replaceAll('`', '')),
      );
    }
    return rows;
  }

  it('lists every error code with its HTTP status and close code', () => {
    const rows = table('### Error codes');
    expect(rows.map((row) => row[0])).toEqual([...ERROR_CODES]);
    for (const [code, status, close] of rows) {
      expect(Number(status), code).toBe(httpStatusFor(code as ErrorCode));
      expect(Number(close), code).toBe(closeCodeFor(code as ErrorCode));
    }
  });

  it('lists every close code with its name and whether to reconnect', () => {
    const rows = table('### Close codes');
    expect(rows.map((row) => Number(row[0]))).toEqual(Object.values(CloseCode));
    for (const [value, name, , reconnect] of rows) {
      expect(CloseCode[name as keyof typeof CloseCode], name).toBe(Number(value));
      expect(reconnect?.startsWith('yes') ? true : reconnect?.startsWith('no') ? false : null, name).toBe(
        isRetryableClose(Number(value)),
      );
    }
  });
});
