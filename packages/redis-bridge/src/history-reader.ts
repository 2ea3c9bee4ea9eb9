/**
 * History and state reads, through `lua/read.lua` (atomic, read-only: a channel that does not
 * exist is at the empty position).
 * @module
 */
import {
  type ChannelState,
  checkedPublicationMessage,
  continuesGeneration,
  createNamespaceResolver,
  exceedsBytes,
  exceedsDepth,
  type HistoryOptions,
  type HistoryResult,
  MAX_DATA_DEPTH,
  type MessageHistoryResult,
  type NamespaceOptions,
  type NamespaceTable,
  type Publication,
  type PublicationMessage,
  publicationMessage,
  readPublicationHeader,
  type StreamPosition,
  streamPositionSchema,
  TaskpulseError,
} from '@taskpulse/protocol';
import { bounded } from './bounded';
import {
  type Connection,
  closeClient,
  type ErrorHook,
  errorHookOf,
  isCluster,
  openConnection,
  type RedisConnectionOptions,
} from './connection';
import { channelKeys } from './keys';
import { loadScript, runScript } from './lua';

/** Options of {@link createHistoryReader}. */
export interface HistoryReaderOptions extends RedisConnectionOptions, NamespaceTable {
  /**
   * Called for each stored entry that fails to parse (it is skipped).
   * @default a warning through `logger`
   */
  onError?: ErrorHook;
}

/** Reads channels' history and state from Redis. */
export interface HistoryReader {
  /** Reads a channel's history (see {@link HistoryOptions}); creates nothing. */
  history(channel: string, options?: HistoryOptions): Promise<HistoryResult>;
  /** Reads a channel's position and newest publication; creates nothing (see `EMPTY_EPOCH`). */
  state(channel: string): Promise<ChannelState>;
  /** Closes the connection when the reader created it from a URL. Idempotent. */
  close(): Promise<void>;
}

/**
 * One stored entry: its offset (from the stream id), the stored text, and the text as a message
 * (header checked, parsed only on demand), or null if the text is not a valid publication of this
 * channel and position. @internal
 */
export interface RawEntry {
  offset: number;
  message: PublicationMessage | null;
  /** The stored text (what the publish script also sent on pub/sub). */
  text: string;
}

/** One read: the channel's position, entries oldest first, and the newest retained entry. @internal */
export interface RawRead {
  epoch: string;
  offset: number;
  entries: RawEntry[];
  /** The newest retained publication's entry (from history, or the meta hash's `latest`). */
  newestEntry: RawEntry | null;
  /**
   * The channel's MAC key (40 lowercase hex characters, see `lua/publish.lua`), or null when it
   * has none (also when absent): live messages carrying a valid MAC under it need no read-back.
   */
  macKey?: string | null;
}

/** What to read. @internal */
export type ReadRequest =
  | { mode: 'head' }
  | { mode: 'latest'; limit: number }
  | {
      mode: 'since';
      since: StreamPosition;
      limit: number;
      /**
       * Live messages awaiting verification, by text: a stored entry with the same text is that
       * message (already checked on arrival), so it is not checked again.
       */
      known?: ReadonlyMap<string, PublicationMessage>;
    };

/**
 * 40 lowercase hex digits: a channel's MAC key as `lua/publish.lua` stores it, and the MAC it
 * appends to a pub/sub message. @internal
 */
export const MAC_HEX = /^[0-9a-f]{40}$/;

/** Largest stored entry a reader accepts, in bytes (as `parsePublication`'s default). */
const MAX_STORED_BYTES = 16 * 1024 * 1024;

/**
 * Checks a publication's text: size and nesting first (the rule of `json-depth`, before anything
 * parses it), the header fields in the publish script's layout (channel, offset, epoch), then one
 * `JSON.parse` with a structural check against the header (`checkedPublicationMessage`): what a
 * hub passes through to its sockets is always one line of valid JSON about this channel, whoever
 * wrote it into Redis. Returns the message (carrying its parsed publication), or the reason it is
 * refused (with the error code).
 *
 * `signed`: the text's MAC checked. `lua/publish.lua` attaches a MAC only to a text it checked in
 * full (valid JSON to JSON.parse, nesting, no raw line break, the members of a publication, the
 * priority in the compact layout), so only the size, the header and the channel are checked, and
 * the text is parsed only if a handler asks for the object.
 * @internal
 */
export function checkPublicationText(
  text: string,
  channel: string,
  maxBytes: number,
  signed = false,
): PublicationMessage | TaskpulseError {
  if (exceedsBytes(text, maxBytes)) {
    return new TaskpulseError('frame_too_large', `publication is larger than ${maxBytes} bytes`, {
      details: { maxBytes },
    });
  }
  if (!signed && exceedsDepth(text, MAX_DATA_DEPTH + 1)) {
    return new TaskpulseError('bad_frame', `publication nests deeper than ${MAX_DATA_DEPTH + 1} levels`);
  }
  const header = readPublicationHeader(text);
  if (!header) return new TaskpulseError('bad_frame', 'not a publication (header fields missing or invalid)');
  if (header.channel !== channel) {
    return new TaskpulseError('bad_frame', `publication for ${header.channel} arrived on ${channel}`);
  }
  if (signed) return publicationMessage(text, header);
  try {
    return checkedPublicationMessage(text, header);
  } catch (error) {
    return TaskpulseError.from(error, 'bad_frame');
  }
}

/**
 * The parsed publication of a checked entry, or null (reported through `onError`) when its text
 * does not parse. @internal
 */
export function entryPublication(
  entry: RawEntry | null | undefined,
  channel: string,
  onError: ErrorHook | undefined,
): Publication | null {
  if (!entry?.message) return null;
  try {
    return entry.message.publication();
  } catch (error) {
    onError?.(TaskpulseError.from(error, 'bad_frame'), { channel });
    return null;
  }
}

// Texts this short are within the stored-entry size limit (at most 3 UTF-8 bytes per UTF-16
// unit), so reusing a live message of the same text cannot accept what the check would refuse.
const MAX_REUSED_TEXT_LENGTH = Math.floor(MAX_STORED_BYTES / 3);

/** Reads from an open connection, shared with the subscriber and the broker. @internal */
export function readerOn(
  connection: Connection,
  resolve: (channel: string) => NamespaceOptions,
  onError: ErrorHook | undefined,
): (channel: string, request: ReadRequest) => Promise<RawRead> {
  const script = loadScript('read');

  const checkEntry = (
    channel: string,
    id: string,
    text: string,
    known?: ReadonlyMap<string, PublicationMessage>,
  ): RawEntry => {
    const offset = id === 'latest' ? Number.NaN : Number(id.split('-')[0]);
    const reused = text.length <= MAX_REUSED_TEXT_LENGTH ? known?.get(text) : undefined;
    const checked = reused ?? checkPublicationText(text, channel, MAX_STORED_BYTES);
    if (!(checked instanceof TaskpulseError) && (Number.isNaN(offset) || checked.offset === offset)) {
      return { offset: checked.offset, message: checked, text };
    }
    const reason =
      checked instanceof TaskpulseError ? checked.message : 'stored publication does not match its position';
    onError?.(new TaskpulseError('bad_frame', `invalid history entry ${id} on ${channel}: ${reason}`), { channel });
    return { offset, message: null, text };
  };

  const batch = readBatcher(connection, script);
  // A hub verifying live publications reads the same channels over and over: their namespace
  // options and keys are worked out once (the channel name is checked then), not on every read.
  const targets = new Map<string, { ns: NamespaceOptions; keys: ReturnType<typeof channelKeys> }>();

  return async (channel, request) => {
    let target = targets.get(channel);
    if (target === undefined) {
      target = { ns: resolve(channel), keys: channelKeys(connection.prefix, channel) };
      // Bounded: channels come from clients; past the bound, the oldest half is let go.
      if (targets.size >= MAX_CACHED_TARGETS)
        for (const old of [...targets.keys()].slice(0, targets.size / 2)) targets.delete(old);
      targets.set(channel, target);
    }
    const { ns, keys } = target;
    const limit = request.mode === 'head' ? 0 : request.limit;
    const args: Array<string | number> = [
      '', // unused since reads create nothing: no epoch candidate is drawn per read
      ns.historyTtlMs,
      request.mode,
      limit,
      request.mode === 'since' ? request.since.epoch : '',
      request.mode === 'since' ? request.since.offset : 0,
      ns.historySize,
    ];
    const reply = await batch([keys.meta, keys.history], args);
    if (!Array.isArray(reply) || reply.length < 4 || !Array.isArray(reply[2]) || !Array.isArray(reply[3])) {
      throw new TaskpulseError('internal', 'unexpected reply from the read script');
    }
    const known = request.mode === 'since' ? request.known : undefined;
    const flat = reply[2] as unknown[];
    const entries: RawEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      entries.push(checkEntry(channel, String(flat[i]), String(flat[i + 1]), known));
    const newestPair = reply[3] as unknown[];
    let newestEntry: RawEntry | null = null;
    const last = entries[entries.length - 1];
    if (newestPair.length === 1) {
      // The newest entry is the last one just read (lua/read.lua then sends its id alone).
      if (last === undefined || String(flat[flat.length - 2]) !== String(newestPair[0])) {
        throw new TaskpulseError('internal', 'unexpected reply from the read script');
      }
      newestEntry = last;
    } else if (newestPair.length >= 2) {
      const id = String(newestPair[0]);
      const text = String(newestPair[1]);
      // The same text as the last entry read is not checked (nor reported) twice.
      newestEntry = last !== undefined && last.text === text ? last : checkEntry(channel, id, text, known);
    }
    const macKey = typeof reply[4] === 'string' && MAC_HEX.test(reply[4]) ? reply[4] : null;
    return { epoch: String(reply[0]), offset: Number(reply[1]), entries, newestEntry, macKey };
  };
}

/**
 * Runs reads in batches, one script call for many channels: the reads requested in one turn of
 * the event loop go out together, and while a batch is in flight the next reads wait for it and
 * then go out together too. A hub verifying the publications of many channels at a high rate thus
 * pays one command per round trip instead of one per channel and publication, and at a low rate no
 * wait at all. A Cluster client runs each read on its own (the keys of different channels live in
 * different slots).
 */
/** Most channels read by one script call. */
const MAX_BATCH = 32;

/** How many channels' namespace options and keys one reader keeps at most. */
const MAX_CACHED_TARGETS = 10_000;

function readBatcher(
  connection: Connection,
  script: ReturnType<typeof loadScript>,
): (keys: string[], args: Array<string | number>) => Promise<unknown> {
  const { client } = connection;
  const single = (keys: string[], args: Array<string | number>) =>
    bounded(connection, client, 'read', () => runScript(client, script, keys, args));
  if (isCluster(client)) return single;
  interface Pending {
    keys: string[];
    args: Array<string | number>;
    resolve(value: unknown): void;
    reject(error: unknown): void;
  }
  let queue: Pending[] = [];
  let scheduled = false;
  let inFlight = false;
  const done = () => {
    inFlight = false;
    if (queue.length > 0) flush();
  };
  const flush = () => {
    scheduled = false;
    if (inFlight || queue.length === 0) return;
    // At most MAX_BATCH channels per call, so that one call never holds Redis for long.
    const list = queue.length <= MAX_BATCH ? queue : queue.slice(0, MAX_BATCH);
    queue = queue.length <= MAX_BATCH ? [] : queue.slice(MAX_BATCH);
    inFlight = true;
    if (list.length === 1) {
      const only = list[0] as Pending;
      single(only.keys, only.args).then(only.resolve, only.reject).finally(done);
      return;
    }
    // One script call reads every channel (lua/read.lua takes channels in groups).
    const keys: string[] = [];
    const args: Array<string | number> = [];
    for (const r of list) {
      keys.push(...r.keys);
      args.push(...r.args);
    }
    single(keys, args)
      .then(
        (replies) => {
          if (!Array.isArray(replies) || replies.length !== list.length) {
            const error = new TaskpulseError('internal', 'unexpected reply from the read script');
            for (const r of list) r.reject(error);
            return;
          }
          for (let i = 0; i < list.length; i++) (list[i] as Pending).resolve(replies[i]);
        },
        (error) => {
          // Redis refused the call (one channel's keys of the wrong type, say): read each channel
          // on its own, so that one bad channel cannot hold up the others. Anything else (Redis
          // unavailable) fails them all.
          if (error instanceof TaskpulseError && error.code === 'internal') {
            for (const r of list) single(r.keys, r.args).then(r.resolve, r.reject);
          } else for (const r of list) r.reject(error);
        },
      )
      .finally(done);
  };
  return (keys, args) =>
    new Promise((resolve, reject) => {
      queue.push({ keys, args, resolve, reject });
      // After the I/O callbacks of this turn of the event loop, so that every read the pub/sub
      // messages received in this turn asked for goes in the same pipeline.
      if (!scheduled && !inFlight) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}

function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return -1;
  if (!Number.isInteger(limit) || limit < 0) throw new TaskpulseError('bad_request', 'limit must be an integer >= 0');
  return limit;
}

/** Turns raw reads into the broker's history reads, as stored messages. @internal */
export function historyMessagesOn(
  read: (channel: string, request: ReadRequest) => Promise<RawRead>,
): (channel: string, options?: HistoryOptions) => Promise<MessageHistoryResult> {
  const messagesOf = (entries: RawEntry[]) => entries.flatMap((e) => (e.message ? [e.message] : []));
  return async (channel, options = {}) => {
    const limit = checkLimit(options.limit);
    const since = options.since;
    if (!since) {
      const raw = await read(channel, { mode: 'latest', limit });
      return { epoch: raw.epoch, offset: raw.offset, messages: messagesOf(raw.entries), recovered: true };
    }
    const position = streamPositionSchema.safeParse(since);
    if (!position.success) throw new TaskpulseError('bad_request', 'since must be a position {epoch, offset}');
    const raw = await read(channel, { mode: 'since', since: position.data, limit });
    let recovered = false;
    if (continuesGeneration(since, raw.epoch) && since.offset <= raw.offset) {
      // Continuous when nothing is missing between `since` and the first retained entry after it.
      recovered = since.offset === raw.offset || raw.entries[0]?.offset === since.offset + 1 || limit === 0;
      if (limit === 0 && since.offset < raw.offset) {
        // No entry was read: ask for one to know whether the gap is still covered.
        const probe = await read(channel, { mode: 'since', since: position.data, limit: 1 });
        recovered = continuesGeneration(since, probe.epoch) && probe.entries[0]?.offset === since.offset + 1;
      }
    }
    return { epoch: raw.epoch, offset: raw.offset, messages: messagesOf(raw.entries), recovered };
  };
}

/** Turns raw reads into the broker's {@link HistoryResult} (stored texts parsed). @internal */
export function historyOn(
  read: (channel: string, request: ReadRequest) => Promise<RawRead>,
  onError: ErrorHook | undefined,
): (channel: string, options?: HistoryOptions) => Promise<HistoryResult> {
  const messages = historyMessagesOn(read);
  return async (channel, options) => {
    const { messages: list, ...rest } = await messages(channel, options);
    const publications: Publication[] = [];
    for (const message of list) {
      const p = entryPublication({ offset: message.offset, message, text: message.text }, channel, onError);
      if (p) publications.push(p);
    }
    return { ...rest, publications };
  };
}

/** Reads the channel state from a raw head read. @internal */
export function stateOn(
  read: (channel: string, request: ReadRequest) => Promise<RawRead>,
  onError: ErrorHook | undefined,
): (channel: string) => Promise<ChannelState> {
  return async (channel) => {
    const raw = await read(channel, { mode: 'head' });
    return { epoch: raw.epoch, offset: raw.offset, latest: entryPublication(raw.newestEntry, channel, onError) };
  };
}

/**
 * Creates a reader of channel history and state.
 *
 * @example
 * ```ts
 * const reader = createHistoryReader({ redis: 'redis://127.0.0.1:6379' });
 * const { publications, recovered } = await reader.history('task:42', { since: { epoch, offset: 7 } });
 * const { latest } = await reader.state('processor:status');
 * ```
 */
export function createHistoryReader(options: HistoryReaderOptions): HistoryReader {
  const resolve = createNamespaceResolver(options, 'createHistoryReader');
  const connection = openConnection(options);
  const onError = errorHookOf(options.onError, connection.logger);
  const read = readerOn(connection, resolve, onError);
  const history = historyOn(read, onError);
  const state = stateOn(read, onError);
  let closed = false;
  const ensureOpen = () => {
    if (closed) throw new TaskpulseError('unavailable', 'reader is closed');
  };
  return {
    async history(channel, historyOptions) {
      ensureOpen();
      return history(channel, historyOptions);
    },
    async state(channel) {
      ensureOpen();
      return state(channel);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (connection.owned) await closeClient(connection.client);
    },
  };
}
