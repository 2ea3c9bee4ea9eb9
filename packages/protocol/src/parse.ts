/**
 * Parsing of incoming text: any string in, a typed frame or a typed error out. Never throws.
 * @module
 */
import type { z } from 'zod';
import { TaskpulseError } from './errors';
import { type ClientFrame, clientFrameSchema, type ServerFrame, serverFrameSchema } from './frames';
import { exceedsDepth, MAX_DATA_DEPTH } from './json-depth';
import { type Publication, publicationSchema } from './publication';

/** Default largest frame accepted, in bytes (UTF-8). */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024;

/**
 * Result of a parse: the value, or a {@link TaskpulseError} saying why not. The error's code is
 * `frame_too_large` or `bad_frame`.
 */
export type ParseResult<T> =
  | {
      /** The input was valid. */
      ok: true;
      /** The parsed, typed value. */
      value: T;
    }
  | {
      /** The input was rejected. */
      ok: false;
      /** Why: `frame_too_large` or `bad_frame`. */
      error: TaskpulseError;
    };

/** Options of the parse functions. */
export interface ParseOptions {
  /**
   * Largest input accepted, in UTF-8 bytes; larger input is rejected before it is parsed.
   * @default 65_536
   */
  maxBytes?: number;
  /**
   * Deepest nesting of arrays and objects accepted; deeper input is rejected with `bad_frame`
   * before it is parsed. The defaults allow `data` nested {@link MAX_DATA_DEPTH} levels inside
   * the frame (publication, publish frame, batch).
   */
  maxDepth?: number;
}

/**
 * UTF-8 length of a string in bytes, computed without allocating.
 * Lone surrogates count as 3 bytes, as `TextEncoder` would encode them as U+FFFD.
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** True when `text` is longer than `maxBytes` in UTF-8; cheap for short strings. */
export function exceedsBytes(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return true; // every UTF-16 unit is at least one byte
  if (text.length * 3 <= maxBytes) return false; // every UTF-16 unit is at most three bytes
  return utf8ByteLength(text) > maxBytes;
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid frame';
  const path = issue.path.length ? `${issue.path.join('.')}: ` : '';
  return `${path}${issue.message}`;
}

/**
 * Parses text with a zod schema: size check first, then JSON, then the schema.
 * Errors: `frame_too_large` (size), `bad_frame` (nested deeper than `maxDepth`, not JSON, not an
 * object, schema mismatch).
 */
export function parseWith<S extends z.ZodType>(
  schema: S,
  text: unknown,
  options: ParseOptions = {},
): ParseResult<z.infer<S>> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_FRAME_BYTES;
  try {
    if (typeof text !== 'string') {
      return { ok: false, error: new TaskpulseError('bad_frame', 'frame must be text') };
    }
    if (exceedsBytes(text, maxBytes)) {
      return {
        ok: false,
        error: new TaskpulseError('frame_too_large', `frame is larger than ${maxBytes} bytes`, {
          details: { maxBytes },
        }),
      };
    }
    const maxDepth = options.maxDepth ?? MAX_DATA_DEPTH + 3;
    if (exceedsDepth(text, maxDepth)) {
      return {
        ok: false,
        error: new TaskpulseError('bad_frame', `frame nests deeper than ${maxDepth} levels`, { details: { maxDepth } }),
      };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      return { ok: false, error: new TaskpulseError('bad_frame', 'frame is not valid JSON', { cause }) };
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json)) {
      return { ok: false, error: new TaskpulseError('bad_frame', 'frame must be a JSON object') };
    }
    const result = schema.safeParse(json);
    if (!result.success) {
      return {
        ok: false,
        error: new TaskpulseError('bad_frame', `invalid frame: ${firstIssue(result.error)}`, {
          cause: result.error,
        }),
      };
    }
    return { ok: true, value: result.data };
  } catch (cause) {
    // Defensive: nothing above should throw, but a parse function must never throw.
    return { ok: false, error: new TaskpulseError('bad_frame', 'frame could not be parsed', { cause }) };
  }
}

/**
 * Parses a frame received by a server. Never throws: oversize input is rejected with
 * `frame_too_large` before it is parsed, anything else that is not a valid client frame with
 * `bad_frame`.
 *
 * @example
 * ```ts
 * const result = parseClientFrame(text, { maxBytes: 65536 });
 * if (!result.ok) sendError(result.error.code, result.error.message);
 * else handle(result.value);
 * ```
 */
export function parseClientFrame(text: unknown, options?: ParseOptions): ParseResult<ClientFrame> {
  // A publish frame is one object around `data`.
  return parseWith(clientFrameSchema, text, { maxDepth: MAX_DATA_DEPTH + 1, ...options });
}

// A client trusts its server more than a server trusts its clients: a batch frame may carry many
// publications, so the default limit for server frames and stored publications is larger.
const DEFAULT_MAX_TRUSTED_BYTES = 16 * 1024 * 1024;

/**
 * Parses a frame received by a client. Never throws.
 * `options.maxBytes` defaults to 16 MiB here (a batch frame may carry many publications).
 *
 * @example
 * ```ts
 * socket.onmessage = (event) => {
 *   const result = parseServerFrame(event.data);
 *   if (result.ok && result.value.type === 'publication') render(result.value.data);
 * };
 * ```
 */
export function parseServerFrame(text: unknown, options?: ParseOptions): ParseResult<ServerFrame> {
  // A batch frame nests `data` three levels deep: frame, publications array, publication.
  return parseWith(serverFrameSchema, text, {
    maxBytes: options?.maxBytes ?? DEFAULT_MAX_TRUSTED_BYTES,
    maxDepth: options?.maxDepth ?? MAX_DATA_DEPTH + 3,
  });
}

/**
 * Parses a serialized publication (as stored in history or sent on pub/sub). Never throws.
 * `options.maxBytes` defaults to 16 MiB here.
 */
export function parsePublication(text: unknown, options?: ParseOptions): ParseResult<Publication> {
  // A publication is one object around `data`: anything deeper was not written by a taskpulse
  // publisher and is rejected here, so no reader ever serializes it.
  return parseWith(publicationSchema, text, {
    maxBytes: options?.maxBytes ?? DEFAULT_MAX_TRUSTED_BYTES,
    maxDepth: options?.maxDepth ?? MAX_DATA_DEPTH + 1,
  });
}

/** Returns the request id of a raw frame when one can be read, so errors can be correlated. */
export function peekRequestId(text: unknown): string | number | undefined {
  if (typeof text !== 'string' || text.length > DEFAULT_MAX_FRAME_BYTES) return undefined;
  try {
    const json: unknown = JSON.parse(text);
    if (json && typeof json === 'object' && 'id' in json) {
      const id = (json as { id: unknown }).id;
      if ((typeof id === 'string' && id.length <= 64) || (typeof id === 'number' && Number.isInteger(id))) return id;
    }
  } catch {
    // not JSON: no id to correlate
  }
  return undefined;
}
