/**
 * Publications and stream positions.
 * @module
 */
import { z } from 'zod';
import { CHANNEL_NAME_PATTERN, MAX_CHANNEL_LENGTH } from './channel';

/** A channel name as a zod schema (the grammar of {@link CHANNEL_NAME_PATTERN}). */
export const channelNameSchema = z
  .string()
  .min(1)
  .max(MAX_CHANNEL_LENGTH)
  .regex(CHANNEL_NAME_PATTERN, { message: 'invalid channel name (see the channel grammar)' });

/** Epoch: identifies one generation of a channel's history. Changes when history was lost. */
export const epochSchema = z.string().min(1).max(64);

/** Offset: a per-channel integer growing by exactly 1 per publication; 0 means "nothing yet". */
export const offsetSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Message priority of seed 003: 1 critical, 2 high, 3 normal, 4 low. */
export const prioritySchema = z.number().int().min(1).max(4);

/** An event name: a short non-empty string such as `progress` or `test:started`. */
export const eventNameSchema = z.string().min(1).max(128);

/**
 * A publication: one message on one channel, at one position of its history.
 *
 * `offset` grows by exactly 1 per publication on the channel; `epoch` identifies the history
 * generation; `ts` is the publish time in milliseconds since the Unix epoch.
 */
export const publicationSchema = z.object({
  /** The channel the publication belongs to. */
  channel: channelNameSchema,
  /** Its position in the channel's history: 1 for the first publication of an epoch, then +1 each. */
  offset: offsetSchema.min(1),
  /** The history generation `offset` belongs to. */
  epoch: epochSchema,
  /** What happened, e.g. `progress`, `status`, `test:started`. */
  event: eventNameSchema,
  /** The payload (any JSON value, `null` included; the key must be present). */
  data: z.unknown(),
  /** Publish time, milliseconds since the Unix epoch. */
  ts: z.number(),
  /** Optional message id chosen by the publisher (seed 003's `id`). */
  id: z.string().max(128).optional(),
  /** Optional priority 1–4 (seed 003). */
  priority: prioritySchema.optional(),
});

/** A publication (see {@link publicationSchema}). */
export type Publication<T = unknown> = Omit<z.infer<typeof publicationSchema>, 'data'> & {
  /** The payload, typed by the caller (validate it with a payload schema first). */
  data: T;
};

/** A position in a channel's history: the last offset seen in an epoch. */
export const streamPositionSchema = z.object({
  /** The epoch the offset belongs to. */
  epoch: epochSchema,
  /** The offset of the last publication seen (0: none seen yet in this epoch). */
  offset: offsetSchema,
});

/** A position in a channel's history (see {@link streamPositionSchema}). */
export type StreamPosition = z.infer<typeof streamPositionSchema>;

/** Options that may accompany a publish call. */
export interface PublishOptions {
  /** A message id (seed 003's `id`), kept with the publication. */
  id?: string;
  /** A priority 1–4 (seed 003). */
  priority?: number;
  /** Publish time in ms; defaults to the broker's clock. */
  ts?: number;
}
