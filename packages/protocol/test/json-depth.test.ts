import { describe, expect, it } from 'vitest';
import {
  continuesGeneration,
  EMPTY_EPOCH,
  isEmptyPosition,
  jsonDepth,
  MAX_DATA_DEPTH,
  parseClientFrame,
  parsePublication,
  parseServerFrame,
  preparePublish,
} from '../src/index';

const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('the nesting rule (issue 9.7)', () => {
  it('measures nesting without recursion, ignoring brackets inside strings', () => {
    expect(jsonDepth('1')).toBe(0);
    expect(jsonDepth('{"a":[1,{"b":2}]}')).toBe(3);
    expect(jsonDepth('"[[[\\"[["')).toBe(0);
    expect(jsonDepth(deep(100_000))).toBe(100_000);
  });

  it('parsers refuse frames nested deeper than the rule, before parsing them', () => {
    const pub = (data: string) => `{"channel":"t:1","offset":1,"epoch":"e","event":"x","data":${data},"ts":1}`;
    expect(parsePublication(pub(deep(MAX_DATA_DEPTH))).ok).toBe(true);
    const tooDeep = parsePublication(pub(deep(4150)));
    expect(tooDeep.ok).toBe(false);
    if (!tooDeep.ok) expect(tooDeep.error.code).toBe('bad_frame');
    expect(parseClientFrame(`{"type":"publish","channel":"t:1","event":"x","data":${deep(MAX_DATA_DEPTH)}}`).ok).toBe(
      true,
    );
    expect(
      parseClientFrame(`{"type":"publish","channel":"t:1","event":"x","data":${deep(MAX_DATA_DEPTH + 1)}}`).ok,
    ).toBe(false);
    expect(parseServerFrame(`{"type":"batch","publications":[${pub(deep(MAX_DATA_DEPTH))}]}`).ok).toBe(true);
  });

  it('preparePublish refuses data nested deeper than MAX_DATA_DEPTH with bad_request', () => {
    const ns = { maxPayloadBytes: 1024 * 1024 };
    expect(preparePublish(ns, 't:1', 'e', JSON.parse(deep(MAX_DATA_DEPTH))).dataJson).toBe(deep(MAX_DATA_DEPTH));
    expect(() => preparePublish(ns, 't:1', 'e', JSON.parse(deep(MAX_DATA_DEPTH + 1)))).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
  });
});

describe('the empty position (issue 9.8)', () => {
  it('continues with any epoch; a real position only with its own', () => {
    expect(isEmptyPosition({ epoch: EMPTY_EPOCH, offset: 0 })).toBe(true);
    expect(isEmptyPosition({ epoch: EMPTY_EPOCH, offset: 1 })).toBe(false);
    expect(continuesGeneration({ epoch: EMPTY_EPOCH, offset: 0 }, 'abc')).toBe(true);
    expect(continuesGeneration({ epoch: 'abc', offset: 3 }, 'abc')).toBe(true);
    expect(continuesGeneration({ epoch: 'abc', offset: 3 }, 'def')).toBe(false);
  });
});
