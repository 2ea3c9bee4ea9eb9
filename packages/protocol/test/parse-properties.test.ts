import {
  type ClientFrame,
  clientFrameSchema,
  type ParseOptions,
  type ParseResult,
  parseClientFrame,
  parseServerFrame,
  type ServerFrame,
  serverFrameSchema,
  TaskpulseError,
} from '@taskpulse/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { CLIENT_FRAMES, clientFrame, SERVER_FRAMES, serverFrame } from './support/frames';

const PARSE_ERROR_CODES = new Set(['bad_frame', 'frame_too_large']);
const RUNS = { numRuns: 1000 };
// Each property runs a thousand cases; on a loaded 2-core CI machine that can take a while.
// This is a budget for waiting, not a speed claim.
const PROPERTY_TIMEOUT_MS = 120_000;

type Parser = (text: unknown, options?: ParseOptions) => ParseResult<ClientFrame | ServerFrame>;

const directions: [string, Parser, z.ZodType, fc.Arbitrary<ClientFrame | ServerFrame>, object[]][] = [
  ['parseClientFrame', parseClientFrame, clientFrameSchema, clientFrame, Object.values(CLIENT_FRAMES)],
  ['parseServerFrame', parseServerFrame, serverFrameSchema, serverFrame, Object.values(SERVER_FRAMES)],
];

/**
 * Calls the parser, failing the property when it throws, and checks the result's shape:
 * a frame that the schema accepts, or a TaskpulseError with a parse error code.
 */
function parseChecked(parse: Parser, schema: z.ZodType, input: unknown): ParseResult<ClientFrame | ServerFrame> {
  let result: ParseResult<ClientFrame | ServerFrame>;
  try {
    result = parse(input);
  } catch (error) {
    throw new Error(`the parser threw for ${JSON.stringify(input)?.slice(0, 200)}: ${String(error)}`);
  }
  if (result.ok) {
    expect(schema.safeParse(result.value).success).toBe(true);
  } else {
    expect(result.error).toBeInstanceOf(TaskpulseError);
    expect(PARSE_ERROR_CODES.has(result.error.code)).toBe(true);
    expect(typeof result.error.message).toBe('string');
  }
  return result;
}

/** What the parser must answer, computed the slow and obvious way. */
function oracle(schema: z.ZodType, text: string): boolean {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return false;
  }
  return json !== null && typeof json === 'object' && !Array.isArray(json) && schema.safeParse(json).success;
}

/** Mutations of a valid frame object: drop a key, replace a value, add a key, rename `type`. */
function mutatedObject(valid: fc.Arbitrary<object>): fc.Arbitrary<unknown> {
  return fc
    .tuple(valid, fc.nat(), fc.jsonValue(), fc.string(), fc.nat({ max: 4 }))
    .map(([frame, pick, value, key, how]) => {
      const copy: Record<string, unknown> = structuredClone(frame) as Record<string, unknown>;
      const keys = Object.keys(copy);
      const target = keys[pick % keys.length] as string;
      switch (how) {
        case 0:
          delete copy[target];
          break;
        case 1:
          copy[target] = value;
          break;
        case 2:
          copy[key] = value;
          break;
        case 3:
          copy.type = key;
          break;
        default:
          copy[target] = { nested: copy[target] };
      }
      return copy;
    });
}

/** Mutations of a valid frame's text: cut it, insert or replace a character. */
function mutatedText(valid: fc.Arbitrary<object>): fc.Arbitrary<string> {
  return fc
    .tuple(valid, fc.nat(), fc.string({ minLength: 1, maxLength: 3 }), fc.nat({ max: 2 }))
    .map(([frame, at, chars, how]) => {
      const text = JSON.stringify(frame);
      const i = at % (text.length + 1);
      if (how === 0) return text.slice(0, i);
      if (how === 1) return text.slice(0, i) + chars + text.slice(i);
      return text.slice(0, i) + chars + text.slice(i + chars.length);
    });
}

describe.each(directions)('%s', (_name, parse, schema, validFrame, examples) => {
  it(
    'never throws on arbitrary strings, and answers as the schema does',
    () => {
      fc.assert(
        fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })), (text) => {
          const result = parseChecked(parse, schema, text);
          expect(result.ok).toBe(oracle(schema, text));
        }),
        RUNS,
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'never throws on arbitrary JSON values',
    () => {
      fc.assert(
        fc.property(fc.jsonValue(), (value) => {
          const text = JSON.stringify(value);
          const result = parseChecked(parse, schema, text);
          expect(result.ok).toBe(oracle(schema, text));
          if (!result.ok) expect(result.error.code).toBe('bad_frame');
        }),
        RUNS,
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'never throws on arbitrary non-string input',
    () => {
      fc.assert(
        fc.property(fc.anything(), (input) => {
          fc.pre(typeof input !== 'string');
          const result = parseChecked(parse, schema, input);
          expect(result.ok).toBe(false);
        }),
        { numRuns: 300 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'parses every valid frame back to itself',
    () => {
      fc.assert(
        fc.property(validFrame, (frame) => {
          const text = JSON.stringify(frame);
          const result = parseChecked(parse, schema, text);
          expect(result).toEqual({ ok: true, value: JSON.parse(text) });
        }),
        RUNS,
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'never throws on mutated valid frames, and answers as the schema does',
    () => {
      const valid = fc.oneof(validFrame, fc.constantFrom(...examples));
      const seen = { accepted: 0, rejected: 0 };
      fc.assert(
        fc.property(
          fc.oneof(
            mutatedObject(valid).map((v) => JSON.stringify(v)),
            mutatedText(valid),
          ),
          (text) => {
            const result = parseChecked(parse, schema, text);
            expect(result.ok).toBe(oracle(schema, text));
            seen[result.ok ? 'accepted' : 'rejected']++;
          },
        ),
        RUNS,
      );
      // Both outcomes occur: the mutations are neither all harmless nor all fatal.
      expect(seen.accepted).toBeGreaterThan(0);
      expect(seen.rejected).toBeGreaterThan(0);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'rejects anything over maxBytes with frame_too_large, whatever it contains',
    () => {
      fc.assert(
        fc.property(
          fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
          fc.nat({ max: 299 }),
          (text, limit) => {
            const bytes = new TextEncoder().encode(text).length;
            const result = parseChecked(parse, schema, text);
            const limited = parse(text, { maxBytes: limit });
            if (bytes > limit) expect(limited.ok === false && limited.error.code).toBe('frame_too_large');
            else expect(limited.ok).toBe(result.ok);
          },
        ),
        RUNS,
      );
    },
    PROPERTY_TIMEOUT_MS,
  );
});
