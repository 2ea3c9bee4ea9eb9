/**
 * History and state reads, through `lua/read.lua` (atomic, read-only: a channel that does not
 * exist is at the empty position).
 * @module
 */
import {
  type ChannelState,
  continuesGeneration,
  createNamespaceResolver,
  type HistoryOptions,
  type HistoryResult,
  type NamespaceOptions,
  type NamespaceTable,
  type Publication,
  parsePublication,
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

/** One stored entry: its offset (from the stream id) and the parsed publication, or null if invalid. @internal */
export interface RawEntry {
  offset: number;
  publication: Publication | null;
  /** The stored text (what the publish script also sent on pub/sub). */
  text: string;
}

/** One read: the channel's position, entries oldest first, and the newest retained publication. @internal */
export interface RawRead {
  epoch: string;
  offset: number;
  entries: RawEntry[];
  newest: Publication | null;
  /** The stored entry of `newest` (from history, or the meta hash's `latest`). */
  newestEntry: RawEntry | null;
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
       * Publications already parsed from these exact texts (live messages awaiting verification):
       * a stored entry with the same text reuses the parse instead of parsing it again.
       */
      known?: ReadonlyMap<string, Publication>;
    };

// Texts this short are within parsePublication's default size limit (at most 3 UTF-8 bytes per
// UTF-16 unit), so reusing another parse of the same text cannot accept what it would refuse.
const MAX_REUSED_TEXT_LENGTH = Math.floor((16 * 1024 * 1024) / 3);

/** Reads from an open connection, shared with the subscriber and the broker. @internal */
export function readerOn(
  connection: Connection,
  resolve: (channel: string) => NamespaceOptions,
  onError: ErrorHook | undefined,
): (channel: string, request: ReadRequest) => Promise<RawRead> {
  const script = loadScript('read');

  const parseEntry = (
    channel: string,
    id: string,
    text: string,
    known?: ReadonlyMap<string, Publication>,
  ): RawEntry => {
    const offset = id === 'latest' ? Number.NaN : Number(id.split('-')[0]);
    const reused = text.length <= MAX_REUSED_TEXT_LENGTH ? known?.get(text) : undefined;
    const parsed = reused ? { ok: true as const, value: reused } : parsePublication(text);
    if (parsed.ok && parsed.value.channel === channel && (Number.isNaN(offset) || parsed.value.offset === offset)) {
      return { offset: parsed.value.offset, publication: parsed.value, text };
    }
    const reason = parsed.ok ? 'stored publication does not match its channel or position' : parsed.error.message;
    onError?.(new TaskpulseError('bad_frame', `invalid history entry ${id} on ${channel}: ${reason}`), { channel });
    return { offset, publication: null, text };
  };

  return async (channel, request) => {
    const ns = resolve(channel);
    const keys = channelKeys(connection.prefix, channel);
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
    const reply = await bounded(connection, connection.client, 'read', () =>
      runScript(connection.client, script, [keys.meta, keys.history], args),
    );
    if (!Array.isArray(reply) || reply.length < 4 || !Array.isArray(reply[2]) || !Array.isArray(reply[3])) {
      throw new TaskpulseError('internal', 'unexpected reply from the read script');
    }
    const known = request.mode === 'since' ? request.known : undefined;
    const flat = reply[2] as unknown[];
    const entries: RawEntry[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      entries.push(parseEntry(channel, String(flat[i]), String(flat[i + 1]), known));
    const newestPair = reply[3] as unknown[];
    const newestEntry =
      newestPair.length >= 2 ? parseEntry(channel, String(newestPair[0]), String(newestPair[1]), known) : null;
    return {
      epoch: String(reply[0]),
      offset: Number(reply[1]),
      entries,
      newest: newestEntry?.publication ?? null,
      newestEntry,
    };
  };
}

function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return -1;
  if (!Number.isInteger(limit) || limit < 0) throw new TaskpulseError('bad_request', 'limit must be an integer >= 0');
  return limit;
}

/** Turns a raw read into the broker's {@link HistoryResult}. @internal */
export function historyOn(
  read: (channel: string, request: ReadRequest) => Promise<RawRead>,
): (channel: string, options?: HistoryOptions) => Promise<HistoryResult> {
  return async (channel, options = {}) => {
    const limit = checkLimit(options.limit);
    const since = options.since;
    if (!since) {
      const raw = await read(channel, { mode: 'latest', limit });
      const publications = raw.entries.flatMap((e) => (e.publication ? [e.publication] : []));
      return { epoch: raw.epoch, offset: raw.offset, publications, recovered: true };
    }
    const position = streamPositionSchema.safeParse(since);
    if (!position.success) throw new TaskpulseError('bad_request', 'since must be a position {epoch, offset}');
    const raw = await read(channel, { mode: 'since', since: position.data, limit });
    const publications = raw.entries.flatMap((e) => (e.publication ? [e.publication] : []));
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
    return { epoch: raw.epoch, offset: raw.offset, publications, recovered };
  };
}

/** Reads the channel state from a raw head read. @internal */
export function stateOn(
  read: (channel: string, request: ReadRequest) => Promise<RawRead>,
): (channel: string) => Promise<ChannelState> {
  return async (channel) => {
    const raw = await read(channel, { mode: 'head' });
    return { epoch: raw.epoch, offset: raw.offset, latest: raw.newest };
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
  const read = readerOn(connection, resolve, errorHookOf(options.onError, connection.logger));
  const history = historyOn(read);
  const state = stateOn(read);
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
