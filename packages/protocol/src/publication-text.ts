/**
 * Publications as text: the exact JSON a publisher wrote (the Lua publish script, the in-memory
 * broker), its routing header read without parsing the rest, and the parsed object only on demand.
 * A hub passes the text through to its sockets; only code that needs `data` pays for a parse.
 * @module
 */
import { TaskpulseError } from './errors';
import type { Publication } from './publication';

/** The fields a hub routes a publication by, read from the head and tail of its text. */
export interface PublicationHeader {
  /** The channel. */
  readonly channel: string;
  /** The publication's epoch. */
  readonly epoch: string;
  /** The publication's offset (≥ 1). */
  readonly offset: number;
  /** The priority 1–4, or undefined when the publication has none. */
  readonly priority: number | undefined;
}

/**
 * A publication as a broker carries it: the exact JSON text, the header fields, and the parsed
 * publication on demand (parsed once, then cached; the same object for every caller).
 */
export interface PublicationMessage extends PublicationHeader {
  /** The publication's JSON text, exactly as stored and published. */
  readonly text: string;
  /**
   * The parsed publication. Parses the text on the first call.
   * @throws TaskpulseError `bad_frame` when the text is not a publication with this header
   */
  publication(): Publication;
}

const PREFIX = '{"channel":"';
const OFFSET_KEY = '","offset":';
const EPOCH_KEY = ',"epoch":"';
const PRIORITY_SUFFIX = ',"priority":';

/**
 * Reads the header of a publication's JSON text in its canonical layout — the one the publish
 * script and every taskpulse broker write:
 * `{"channel":"…","offset":N,"epoch":"…",…[,"priority":N]}` — without parsing the rest. Linear
 * in the header's length, never throws. Returns null when the text does not start that way (it
 * does not validate the rest: combine it with the size and depth checks and, where the text is
 * untrusted, a full parse).
 *
 * @example
 * ```ts
 * readPublicationHeader('{"channel":"task:1","offset":3,"epoch":"e1","event":"e","data":1,"ts":5,"priority":2}')
 * // { channel: 'task:1', epoch: 'e1', offset: 3, priority: 2 }
 * ```
 */
export function readPublicationHeader(text: string): PublicationHeader | null {
  if (!text.startsWith(PREFIX) || text.charCodeAt(text.length - 1) !== 0x7d) return null;
  const channelEnd = text.indexOf('"', PREFIX.length);
  // Channel names hold no quotes or backslashes (the channel grammar), so the first quote ends it.
  if (channelEnd <= PREFIX.length || channelEnd > PREFIX.length + 512 || !text.startsWith(OFFSET_KEY, channelEnd)) {
    return null;
  }
  const channel = text.slice(PREFIX.length, channelEnd);
  if (channel.includes('\\')) return null;
  let i = channelEnd + OFFSET_KEY.length;
  const offsetStart = i;
  let offset = 0;
  for (; i < text.length && i - offsetStart < 17; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    offset = offset * 10 + (c - 0x30);
  }
  // 1 or more, no leading zero, a safe integer.
  if (i === offsetStart || text.charCodeAt(offsetStart) === 0x30 || !Number.isSafeInteger(offset)) return null;
  if (!text.startsWith(EPOCH_KEY, i)) return null;
  const epochStart = i + EPOCH_KEY.length;
  const epochEnd = text.indexOf('"', epochStart);
  if (epochEnd <= epochStart || epochEnd - epochStart > 64 || text.charCodeAt(epochEnd + 1) !== 0x2c) return null;
  const epoch = text.slice(epochStart, epochEnd);
  if (epoch.includes('\\')) return null;
  // The priority is the last field when present: `,"priority":N}` closes the object. In JSON text
  // a tail `,"priority":N}` can only be the top-level object's last member.
  let priority: number | undefined;
  const p = text.length - PRIORITY_SUFFIX.length - 2;
  if (p > epochEnd && text.startsWith(PRIORITY_SUFFIX, p)) {
    const digit = text.charCodeAt(text.length - 2) - 0x30;
    if (digit >= 1 && digit <= 4) priority = digit;
  }
  return { channel, epoch, offset, priority };
}

/** Parses the text of a message and checks it against its header (cheap structural checks, no schema). */
function parseText(header: PublicationHeader, text: string): Publication {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new TaskpulseError('bad_frame', `publication ${header.channel}@${header.offset} is not valid JSON`, {
      cause,
    });
  }
  const p = value as Partial<Publication> | null;
  const ok =
    p !== null &&
    typeof p === 'object' &&
    !Array.isArray(p) &&
    p.channel === header.channel &&
    p.offset === header.offset &&
    p.epoch === header.epoch &&
    // The header reads the priority of the compact layout only; a publisher that wrote
    // `"priority": 2` (with a space) still has one, taken from the parse.
    (p.priority === header.priority || (header.priority === undefined && isPriority(p.priority))) &&
    typeof p.event === 'string' &&
    p.event.length > 0 &&
    p.event.length <= 128 &&
    typeof p.ts === 'number' &&
    'data' in p &&
    (p.id === undefined || (typeof p.id === 'string' && p.id.length <= 128));
  if (!ok) {
    throw new TaskpulseError('bad_frame', `publication ${header.channel}@${header.offset} does not match its header`);
  }
  return p as Publication;
}

function isPriority(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 4;
}

/**
 * Checks a publication's text completely and parses it once: one line of valid JSON (a raw line
 * break would split an SSE `data:` line), an object whose `channel`, `offset`, `epoch` and
 * `priority` are those of `header` (so a body cannot carry a second, different `channel` that
 * clients would read), with an `event`, `data` and `ts`. No schema: a cheap structural check.
 * The message carries the parsed publication, so it is never parsed again.
 * @throws TaskpulseError `bad_frame`
 */
export function checkedPublicationMessage(text: string, header: PublicationHeader): PublicationMessage {
  if (text.indexOf('\n') !== -1 || text.indexOf('\r') !== -1) {
    throw new TaskpulseError('bad_frame', `publication ${header.channel}@${header.offset} holds a raw line break`);
  }
  const publication = parseText(header, text);
  const checked = publication.priority === header.priority ? header : { ...header, priority: publication.priority };
  return new TextMessage(checked, text, publication);
}

class TextMessage implements PublicationMessage {
  readonly channel: string;
  readonly epoch: string;
  readonly offset: number;
  readonly priority: number | undefined;
  readonly text: string;
  #publication: Publication | undefined;

  constructor(header: PublicationHeader, text: string, publication: Publication | undefined) {
    this.channel = header.channel;
    this.epoch = header.epoch;
    this.offset = header.offset;
    this.priority = header.priority;
    this.text = text;
    this.#publication = publication;
  }

  publication(): Publication {
    if (this.#publication === undefined) this.#publication = parseText(this, this.text);
    return this.#publication;
  }
}

/**
 * Wraps a publication's text and header (from {@link readPublicationHeader}) as a
 * {@link PublicationMessage}. Pass `publication` when the parsed object is already known (it is
 * then never parsed again).
 */
export function publicationMessage(
  text: string,
  header: PublicationHeader,
  publication?: Publication,
): PublicationMessage {
  return new TextMessage(header, text, publication);
}

/**
 * The canonical JSON text of a publication — the layout of the publish script:
 * `{"channel":…,"offset":…,"epoch":…,"event":…,"data":…,"ts":…[,"id":…][,"priority":…]}`.
 * `dataJson` is `JSON.stringify(publication.data)` when already known.
 */
export function publicationText(publication: Publication, dataJson?: string): string {
  let text = `{"channel":${JSON.stringify(publication.channel)},"offset":${publication.offset},"epoch":${JSON.stringify(publication.epoch)},"event":${JSON.stringify(publication.event)},"data":${dataJson ?? JSON.stringify(publication.data)},"ts":${JSON.stringify(publication.ts)}`;
  if (publication.id !== undefined) text += `,"id":${JSON.stringify(publication.id)}`;
  if (publication.priority !== undefined) text += `,"priority":${publication.priority}`;
  return `${text}}`;
}

/**
 * A {@link PublicationMessage} for a publication object (brokers that deliver objects, tests):
 * its text is {@link publicationText}, its parse the object itself.
 */
export function messageOf(publication: Publication, dataJson?: string): PublicationMessage {
  return new TextMessage(
    {
      channel: publication.channel,
      epoch: publication.epoch,
      offset: publication.offset,
      priority: publication.priority,
    },
    publicationText(publication, dataJson),
    publication,
  );
}
