/**
 * Position cursors: every channel position of a stream or a poll in one compact, URL-safe token.
 * The SSE event id and the polling `cursor` are both cursors, so a client that switches between
 * them resumes with what it has.
 * @module
 */
import { channelNameProblem, type StreamPosition, TaskpulseError } from '@taskpulse/protocol';
import { RecentValues } from './recent-values';

/** Longest cursor accepted, in characters (50 channels of long names fit comfortably). */
export const MAX_CURSOR_LENGTH = 16 * 1024;

/**
 * Encodes channel positions as a cursor: base64url of the JSON `{"channel": [epoch, offset]}`.
 *
 * @example
 * ```ts
 * encodePositionsCursor({ 'task:1': { epoch: 'a1b2', offset: 7 } }); // 'eyJ0YXNrOjEiOlsiYTFiMiIsN119'
 * ```
 */
export function encodePositionsCursor(positions: Readonly<Record<string, StreamPosition>>): string {
  const compact: Record<string, [string, number]> = {};
  for (const [channel, p] of Object.entries(positions)) compact[channel] = [p.epoch, p.offset];
  return Buffer.from(JSON.stringify(compact), 'utf8').toString('base64url');
}

function badPosition(message: string): TaskpulseError {
  return new TaskpulseError('bad_request', `bad position: ${message}`);
}

/** Validates one position given as an `{epoch, offset}` object or an `[epoch, offset]` pair. */
export function parsePosition(value: unknown, channel: string): StreamPosition {
  let epoch: unknown;
  let offset: unknown;
  if (Array.isArray(value) && value.length === 2) [epoch, offset] = value;
  else if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    ({ epoch, offset } = value as { epoch?: unknown; offset?: unknown });
  } else {
    throw badPosition(`position of ${channel} must be {epoch, offset}`);
  }
  if (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > 64) {
    throw badPosition(`epoch of ${channel} must be a string of 1 to 64 characters`);
  }
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw badPosition(`offset of ${channel} must be a non-negative integer`);
  }
  return { epoch, offset };
}

/** Options of {@link decodePositionsCursor}. */
export interface DecodeCursorOptions {
  /**
   * Most channels accepted in one cursor.
   * @default 1000
   */
  maxChannels?: number;
}

/**
 * Cursors decoded lately, by maxChannels and token: the clients of one channel poll with the same
 * cursor until something is published, so most requests find theirs here. Only well-formed
 * cursors are kept (a bad one throws every time), 1,024 of up to about 1 KiB (see RecentValues).
 */
const decodedCursors = new RecentValues<Readonly<Record<string, Readonly<StreamPosition>>>>();

/**
 * Decodes a cursor made by {@link encodePositionsCursor}. Throws `bad_request` for anything that
 * is not a well-formed cursor (never a generic error), so a tampered `Last-Event-ID` is a 400.
 * The result is frozen and may be shared with other requests that sent the same cursor.
 */
export function decodePositionsCursor(
  cursor: string,
  options: DecodeCursorOptions = {},
): Readonly<Record<string, Readonly<StreamPosition>>> {
  const maxChannels = options.maxChannels ?? 1000;
  return decodedCursors.get(`${maxChannels}:${cursor}`, () => decodeCursor(cursor, maxChannels));
}

function decodeCursor(cursor: string, maxChannels: number): Readonly<Record<string, Readonly<StreamPosition>>> {
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw badPosition('cursor is not a base64url token');
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badPosition('cursor does not decode to JSON');
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw badPosition('cursor is not an object');
  const entries = Object.entries(json);
  if (entries.length > maxChannels) throw badPosition(`cursor has more than ${maxChannels} channels`);
  const out: Record<string, StreamPosition> = {};
  for (const [channel, value] of entries) {
    const problem = channelNameProblem(channel);
    if (problem !== null) throw badPosition(`cursor names an invalid channel (${problem})`);
    out[channel] = Object.freeze(parsePosition(value, channel));
  }
  return Object.freeze(out);
}
