/**
 * Native wire frames: one JSON object per WebSocket text frame, discriminated by `type`.
 * @module
 */
import { z } from 'zod';
import { ERROR_CODES } from './errors';
import {
  channelNameSchema,
  epochSchema,
  eventNameSchema,
  offsetSchema,
  prioritySchema,
  publicationSchema,
  streamPositionSchema,
} from './publication';

/** The protocol version spoken by this package. Bumped on incompatible wire changes. */
export const PROTOCOL_VERSION = 1;

/** A request id chosen by the client; echoed in the response or error frame. */
export const requestIdSchema = z.union([z.string().max(64), z.number().int()]);

// ---- client → server -------------------------------------------------------------------------

/** Subscribe to a channel, optionally resuming after a position. */
export const subscribeFrameSchema = z.object({
  type: z.literal('subscribe'),
  id: requestIdSchema.optional(),
  channel: channelNameSchema,
  /** Resume after this position: the server delivers every publication after it, then live ones. */
  since: streamPositionSchema.optional(),
});

/** Unsubscribe from a channel. */
export const unsubscribeFrameSchema = z.object({
  type: z.literal('unsubscribe'),
  id: requestIdSchema.optional(),
  channel: channelNameSchema,
});

/** Application-level ping (browsers cannot send protocol pings). */
export const pingFrameSchema = z.object({
  type: z.literal('ping'),
  id: requestIdSchema.optional(),
});

/** Publish into a channel whose namespace allows client publishing. */
export const publishFrameSchema = z.object({
  type: z.literal('publish'),
  id: requestIdSchema.optional(),
  channel: channelNameSchema,
  event: eventNameSchema,
  data: z.unknown(),
  priority: prioritySchema.optional(),
});

/** Every frame a client may send. */
export const clientFrameSchema = z.discriminatedUnion('type', [
  subscribeFrameSchema,
  unsubscribeFrameSchema,
  pingFrameSchema,
  publishFrameSchema,
]);

/** A frame sent by a client. */
export type ClientFrame = z.infer<typeof clientFrameSchema>;
/** The `subscribe` frame. */
export type SubscribeFrame = z.infer<typeof subscribeFrameSchema>;
/** The `unsubscribe` frame. */
export type UnsubscribeFrame = z.infer<typeof unsubscribeFrameSchema>;
/** The `ping` frame. */
export type PingFrame = z.infer<typeof pingFrameSchema>;
/** The `publish` frame. */
export type PublishFrame = z.infer<typeof publishFrameSchema>;

// ---- server → client -------------------------------------------------------------------------

/** First frame on every connection. */
export const welcomeFrameSchema = z.object({
  type: z.literal('welcome'),
  clientId: z.string().min(1),
  protocolVersion: z.number().int(),
  /** How often the client should expect traffic (or send a ping), in ms. */
  heartbeatIntervalMs: z.number().int().nonnegative(),
});

/**
 * Answer to `subscribe`. `epoch`/`offset` are the channel's current position.
 * `recovered` is present when the subscribe asked for a position: `true` when every publication
 * after it follows, `false` when history could not cover the gap (epoch changed or too old) —
 * the client should then reset its view from `state` (state channels) or the live stream.
 */
export const subscribedFrameSchema = z.object({
  type: z.literal('subscribed'),
  id: requestIdSchema.optional(),
  channel: channelNameSchema,
  kind: z.enum(['events', 'state']),
  epoch: epochSchema,
  offset: offsetSchema,
  recovered: z.boolean().optional(),
  /** For state channels: the latest publication, or null when none exists yet. */
  state: publicationSchema.nullable().optional(),
});

/** Answer to `unsubscribe`. */
export const unsubscribedFrameSchema = z.object({
  type: z.literal('unsubscribed'),
  id: requestIdSchema.optional(),
  channel: channelNameSchema,
});

/** One publication. Its fields are those of {@link publicationSchema} plus `type`. */
export const publicationFrameSchema = publicationSchema.extend({
  type: z.literal('publication'),
});

/** Several publications in one frame, in order. */
export const batchFrameSchema = z.object({
  type: z.literal('batch'),
  publications: z.array(publicationSchema),
});

/** Answer to `publish`. */
export const publishedFrameSchema = z.object({
  type: z.literal('published'),
  id: requestIdSchema.optional(),
  channel: channelNameSchema,
  epoch: epochSchema,
  offset: offsetSchema,
});

/** An error, correlated to the request that caused it when that request had an `id`. */
export const errorFrameSchema = z.object({
  type: z.literal('error'),
  id: requestIdSchema.optional(),
  code: z.enum(ERROR_CODES),
  message: z.string(),
  channel: z.string().optional(),
});

/** Answer to `ping`. */
export const pongFrameSchema = z.object({
  type: z.literal('pong'),
  id: requestIdSchema.optional(),
});

/** Every frame a server may send. */
export const serverFrameSchema = z.discriminatedUnion('type', [
  welcomeFrameSchema,
  subscribedFrameSchema,
  unsubscribedFrameSchema,
  publicationFrameSchema,
  batchFrameSchema,
  publishedFrameSchema,
  errorFrameSchema,
  pongFrameSchema,
]);

/** A frame sent by a server. */
export type ServerFrame = z.infer<typeof serverFrameSchema>;
/** The `welcome` frame. */
export type WelcomeFrame = z.infer<typeof welcomeFrameSchema>;
/** The `subscribed` frame. */
export type SubscribedFrame = z.infer<typeof subscribedFrameSchema>;
/** The `unsubscribed` frame. */
export type UnsubscribedFrame = z.infer<typeof unsubscribedFrameSchema>;
/** The `publication` frame. */
export type PublicationFrame = z.infer<typeof publicationFrameSchema>;
/** The `batch` frame. */
export type BatchFrame = z.infer<typeof batchFrameSchema>;
/** The `published` frame. */
export type PublishedFrame = z.infer<typeof publishedFrameSchema>;
/** The `error` frame. */
export type ErrorFrame = z.infer<typeof errorFrameSchema>;
/** The `pong` frame. */
export type PongFrame = z.infer<typeof pongFrameSchema>;

/** Re-exported so frames and publications share one offset/epoch definition. */
export { epochSchema, offsetSchema };
