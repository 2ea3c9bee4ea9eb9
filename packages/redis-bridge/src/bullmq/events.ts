/**
 * BullMQ's event stream as the bridge sees it: one Redis Stream per queue
 * (`<bullmq prefix>:<queue>:events`), one entry per job lifecycle event, fields as BullMQ's Lua
 * scripts write them (`event`, `jobId`, and per event `name`, `data`, `returnvalue`,
 * `failedReason`, `prev`…).
 * @module
 */

/** The job lifecycle events the bridge republishes by default. */
export const BULLMQ_JOB_EVENTS = ['added', 'active', 'progress', 'completed', 'failed', 'stalled', 'removed'] as const;

/** One of {@link BULLMQ_JOB_EVENTS}. */
export type BullmqJobEventName = (typeof BULLMQ_JOB_EVENTS)[number];

/** A job's record in Redis (the job hash `<prefix>:<queue>:<jobId>`), as far as mappings need it. */
export interface BullmqJobRecord {
  /** The job id. */
  id: string;
  /** The job name given to `queue.add(name, data)`. */
  name: string;
  /** The job data (parsed JSON; `null` when absent or not JSON). */
  data: unknown;
  /** Attempts made so far. */
  attemptsMade: number;
}

/** One entry of the event stream, parsed. */
export interface BullmqStreamEvent {
  /** The queue name. */
  queue: string;
  /** The stream entry id (`<ms>-<seq>`), from which publication ids are derived. */
  streamId: string;
  /** When BullMQ wrote the entry, in ms since the Unix epoch (the entry id's time part). */
  ts: number;
  /** BullMQ's event name (`added`, `active`, `progress`…). */
  event: string;
  /** The job id (every job event has one). */
  jobId: string;
  /** Every field of the entry as BullMQ wrote it (strings). */
  fields: Readonly<Record<string, string>>;
  /** The `progress` event's value, parsed (a number or an object). */
  progress?: unknown;
  /** The `completed` event's return value, parsed (`null` when absent or not JSON). */
  returnValue?: unknown;
  /** The `failed` event's reason. */
  failedReason?: string;
  /**
   * Loads the job's record (once per job id, cached by the bridge; `fresh` reads it again, e.g. for
   * `attemptsMade` after a failure); `null` when the job no longer exists (removed, or removed on
   * completion before the bridge read the event).
   */
  job(options?: { fresh?: boolean }): Promise<BullmqJobRecord | null>;
}

/** Parses JSON, returning `fallback` for absent or invalid text. @internal */
export function parseJsonField(text: string | undefined, fallback: unknown = null): unknown {
  if (text === undefined) return fallback;
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

/** Turns a flat `[field, value, …]` list into a record. @internal */
export function fieldRecord(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

/** Compares two stream ids (`<ms>-<seq>`): negative, zero or positive. @internal */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const ms = Number(am) - Number(bm);
  return ms !== 0 ? ms : Number(as) - Number(bs);
}

/**
 * Validates and parses one stream entry: returns the event or a reason why the entry is bad.
 * @internal
 */
export function parseStreamEntry(
  queue: string,
  streamId: string,
  flat: readonly string[],
  job: (jobId: string, fresh: boolean) => Promise<BullmqJobRecord | null>,
): BullmqStreamEvent | { invalid: string } {
  const fields = fieldRecord(flat);
  const event = fields.event;
  if (!event) return { invalid: 'entry has no "event" field' };
  const jobId = fields.jobId ?? '';
  const ts = Number(streamId.split('-')[0]);
  const parsed: BullmqStreamEvent = {
    queue,
    streamId,
    ts,
    event,
    jobId,
    fields,
    job: (options) => job(jobId, options?.fresh === true),
  };
  if (!(BULLMQ_JOB_EVENTS as readonly string[]).includes(event)) return parsed;
  if (jobId === '') return { invalid: `"${event}" entry has no jobId` };
  if (event === 'progress') {
    if (fields.data === undefined) return { invalid: 'progress entry has no data' };
    const invalid = Symbol('invalid');
    const progress = parseJsonField(fields.data, invalid);
    if (progress === invalid) return { invalid: 'progress data is not JSON' };
    parsed.progress = progress;
  } else if (event === 'completed') {
    parsed.returnValue = parseJsonField(fields.returnvalue);
  } else if (event === 'failed') {
    parsed.failedReason = fields.failedReason ?? '';
  }
  return parsed;
}
