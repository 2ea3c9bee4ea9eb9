/**
 * Validation of a publish call's input, shared by every broker so that they all accept and reject
 * the same publications with the same errors. Pure: no I/O, runs in browsers and Node.
 * @module
 */
import type { NamespaceOptions } from './channel';
import { TaskpulseError } from './errors';
import { exceedsDepth, MAX_DATA_DEPTH } from './json-depth';
import { exceedsBytes } from './parse';
import type { PublishOptions } from './publication';

/** Longest event name, in characters (as in `eventNameSchema`). */
const MAX_EVENT_LENGTH = 128;
/** Longest message id, in characters (as in `publicationSchema`). */
const MAX_ID_LENGTH = 128;

/** A validated publish input, ready to be stored and sent (see {@link preparePublish}). */
export interface PreparedPublish {
  /** The payload serialized as JSON (what is stored and sent as `data`). */
  dataJson: string;
  /** Publish time in ms since the Unix epoch: the caller's `ts`, or the clock's. */
  ts: number;
  /** The caller's message id, when given. */
  id?: string;
  /** The caller's priority 1–4, when given. */
  priority?: number;
}

/**
 * Validates a publish call and serializes its payload, before anything is stored or sent.
 *
 * @param namespace - the options of the channel's namespace (for `maxPayloadBytes`)
 * @param channel - the channel name (already resolved to `namespace`), reported in error details
 * @param event - the event name: a string of 1 to 128 characters
 * @param data - the payload: anything `JSON.stringify` turns into JSON text
 * @param options - optional `ts` (finite number), `id` (string of at most 128 characters) and
 * `priority` (integer 1–4)
 * @param now - the clock for `ts` when `options.ts` is absent, in ms since the Unix epoch
 * @returns the payload as JSON text and the validated `ts`, `id` and `priority`
 * @throws TaskpulseError `bad_request` (event, non-JSON data, data nested deeper than
 * {@link MAX_DATA_DEPTH}, ts, id, priority) or
 * `payload_too_large` (details: `channel`, `maxPayloadBytes`)
 *
 * @example
 * ```ts
 * const { dataJson, ts } = preparePublish(resolve('task:42'), 'task:42', 'progress', { progress: 50 }, {});
 * ```
 */
export function preparePublish(
  namespace: Pick<NamespaceOptions, 'maxPayloadBytes'>,
  channel: string,
  event: string,
  data: unknown,
  options: PublishOptions = {},
  now: () => number = Date.now,
): PreparedPublish {
  if (typeof event !== 'string' || event.length === 0 || event.length > MAX_EVENT_LENGTH) {
    throw new TaskpulseError('bad_request', `event must be a string of 1 to ${MAX_EVENT_LENGTH} characters`);
  }
  let dataJson: string | undefined;
  try {
    dataJson = JSON.stringify(data);
  } catch (cause) {
    throw new TaskpulseError('bad_request', 'data is not JSON-serializable', { cause });
  }
  if (dataJson === undefined) throw new TaskpulseError('bad_request', 'data is not JSON-serializable');
  if (exceedsDepth(dataJson, MAX_DATA_DEPTH)) {
    throw new TaskpulseError('bad_request', `data nests deeper than ${MAX_DATA_DEPTH} levels`, {
      details: { channel, maxDepth: MAX_DATA_DEPTH },
    });
  }
  const max = namespace.maxPayloadBytes;
  if (exceedsBytes(dataJson, max)) {
    throw new TaskpulseError('payload_too_large', `data is larger than ${max} bytes`, {
      details: { channel, maxPayloadBytes: max },
    });
  }
  const opts = options ?? {};
  const ts = opts.ts ?? now();
  if (typeof ts !== 'number' || !Number.isFinite(ts)) {
    throw new TaskpulseError('bad_request', 'ts must be a finite number');
  }
  const prepared: PreparedPublish = { dataJson, ts };
  if (opts.id !== undefined) {
    if (typeof opts.id !== 'string' || opts.id.length > MAX_ID_LENGTH) {
      throw new TaskpulseError('bad_request', `id must be a string of at most ${MAX_ID_LENGTH} characters`);
    }
    prepared.id = opts.id;
  }
  if (opts.priority !== undefined) {
    const p = opts.priority;
    if (!Number.isInteger(p) || p < 1 || p > 4) {
      throw new TaskpulseError('bad_request', 'priority must be 1, 2, 3 or 4');
    }
    prepared.priority = p;
  }
  return prepared;
}
