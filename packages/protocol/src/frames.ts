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

/**
 * The WebSocket subprotocol of {@link PROTOCOL_VERSION} (`taskpulse.v1`). A client offers it in
 * `Sec-WebSocket-Protocol` (`new WebSocket(url, [WS_SUBPROTOCOL])`); the server selects it, or
 * closes with 4426 `unsupported_version` when the client offers only versions it does not speak.
 */
export const WS_SUBPROTOCOL = `taskpulse.v${PROTOCOL_VERSION}`;

/** A request id chosen by the client; echoed in the response or error frame. */
export const requestIdSchema = z.union([z.string().max(64), z.number().int()]);

// ---- client → server -------------------------------------------------------------------------

/** Subscribe to a channel, optionally resuming after a position. */
export const subscribeFrameSchema = z.object({
  /** Always `subscribe`. */
  type: z.literal('subscribe'),
  /** Request id, echoed in the `subscribed` or `error` answer. */
  id: requestIdSchema.optional(),
  /** The channel to subscribe to. */
  channel: channelNameSchema,
  /** Resume after this position: the server delivers every publication after it, then live ones. */
  since: streamPositionSchema.optional(),
});

/** Unsubscribe from a channel. */
export const unsubscribeFrameSchema = z.object({
  /** Always `unsubscribe`. */
  type: z.literal('unsubscribe'),
  /** Request id, echoed in the `unsubscribed` or `error` answer. */
  id: requestIdSchema.optional(),
  /** The channel to leave. */
  channel: channelNameSchema,
});

/** Application-level ping (browsers cannot send protocol pings). */
export const pingFrameSchema = z.object({
  /** Always `ping`. */
  type: z.literal('ping'),
  /** Request id, echoed in the `pong`. */
  id: requestIdSchema.optional(),
});

/** Publish into a channel whose namespace allows client publishing. */
export const publishFrameSchema = z.object({
  /** Always `publish`. */
  type: z.literal('publish'),
  /** Request id, echoed in the `published` or `error` answer. */
  id: requestIdSchema.optional(),
  /** The channel to publish to; its namespace must allow client publishing. */
  channel: channelNameSchema,
  /** The event name of the publication. */
  event: eventNameSchema,
  /** The payload (any JSON value; the key must be present). */
  data: z.unknown(),
  /** Optional priority 1–4. */
  priority: prioritySchema.optional(),
});

/**
 * Replaces the connection's credentials without reconnecting (refresh in place), when the server
 * enables it. Answered with `refreshed` (the connection now expires at the new token's expiry)
 * or an `error` (`unauthorized`: the token is invalid, the old one still holds until it expires;
 * `bad_request`: the server does not refresh in place — reconnect with the new token). A token
 * for another user closes the connection with 4403.
 */
export const refreshFrameSchema = z.object({
  /** Always `refresh`. */
  type: z.literal('refresh'),
  /** Request id, echoed in the `refreshed` or `error` answer. */
  id: requestIdSchema.optional(),
  /** The new credentials (for the JWT authenticator: a JWT). */
  token: z.string().min(1).max(16_384),
});

/** Every frame a client may send. */
export const clientFrameSchema = z.discriminatedUnion('type', [
  subscribeFrameSchema,
  unsubscribeFrameSchema,
  pingFrameSchema,
  publishFrameSchema,
  refreshFrameSchema,
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
/** The `refresh` frame. */
export type RefreshFrame = z.infer<typeof refreshFrameSchema>;

// ---- server → client -------------------------------------------------------------------------

/** First frame on every connection. */
export const welcomeFrameSchema = z.object({
  /** Always `welcome`. */
  type: z.literal('welcome'),
  /** The id the server gave this connection (for logs and support; not a credential). */
  clientId: z.string().min(1),
  /** The {@link PROTOCOL_VERSION} the server speaks. */
  protocolVersion: z.number().int(),
  /** How often the client should expect traffic (or send a ping), in ms. */
  heartbeatIntervalMs: z.number().int().nonnegative(),
  /**
   * When the connection's credentials expire, in ms since the Unix epoch (absent: they do not).
   * The server closes the connection with 4401 at that time unless the client refreshed them
   * (`refresh` frame) before.
   */
  expiresAt: z.number().int().nonnegative().optional(),
});

/**
 * Answer to `subscribe`. `epoch`/`offset` are the channel's current position.
 * `recovered` is present when the subscribe asked for a position: `true` when every publication
 * after it follows, `false` when history could not cover the gap (epoch changed or too old) —
 * the client should then reset its view from `state` (state channels) or the live stream.
 */
export const subscribedFrameSchema = z.object({
  /** Always `subscribed`. */
  type: z.literal('subscribed'),
  /** The id of the `subscribe` request. */
  id: requestIdSchema.optional(),
  /** The channel subscribed to. */
  channel: channelNameSchema,
  /** `events` (an ordered log) or `state` (the latest value matters). */
  kind: z.enum(['events', 'state']),
  /** The channel's current epoch. */
  epoch: epochSchema,
  /** The channel's current offset (0 when nothing was published in this epoch). */
  offset: offsetSchema,
  /** Present when the subscribe carried `since`: whether the missed publications follow. */
  recovered: z.boolean().optional(),
  /** For state channels: the latest publication, or null when none exists yet. */
  state: publicationSchema.nullable().optional(),
});

/** Answer to `unsubscribe`. */
export const unsubscribedFrameSchema = z.object({
  /** Always `unsubscribed`. */
  type: z.literal('unsubscribed'),
  /** The id of the `unsubscribe` request. */
  id: requestIdSchema.optional(),
  /** The channel left. */
  channel: channelNameSchema,
});

/** One publication. Its fields are those of {@link publicationSchema} plus `type`. */
export const publicationFrameSchema = publicationSchema.extend({
  /** Always `publication`. */
  type: z.literal('publication'),
});

/** Several publications in one frame, in order. */
export const batchFrameSchema = z.object({
  /** Always `batch`. */
  type: z.literal('batch'),
  /** The publications, in delivery order (per channel: offset order). */
  publications: z.array(publicationSchema),
});

/** Answer to `publish`. */
export const publishedFrameSchema = z.object({
  /** Always `published`. */
  type: z.literal('published'),
  /** The id of the `publish` request. */
  id: requestIdSchema.optional(),
  /** The channel published to. */
  channel: channelNameSchema,
  /** The channel's epoch. */
  epoch: epochSchema,
  /** The offset assigned to the publication (1 or more). */
  offset: offsetSchema.min(1),
});

/** An error, correlated to the request that caused it when that request had an `id`. */
export const errorFrameSchema = z.object({
  /** Always `error`. */
  type: z.literal('error'),
  /** The id of the request that failed, when it had one. */
  id: requestIdSchema.optional(),
  /** A machine-readable code from {@link ERROR_CODES}. */
  code: z.enum(ERROR_CODES),
  /** A human-readable sentence. */
  message: z.string(),
  /** The channel concerned, when there is one (echoed as received, so possibly invalid). */
  channel: z.string().optional(),
});

/** Answer to `refresh`: the new credentials are in force. */
export const refreshedFrameSchema = z.object({
  /** Always `refreshed`. */
  type: z.literal('refreshed'),
  /** The id of the `refresh` request. */
  id: requestIdSchema.optional(),
  /** When the new credentials expire, in ms since the Unix epoch (absent: they do not). */
  expiresAt: z.number().int().nonnegative().optional(),
});

/** Answer to `ping`. */
export const pongFrameSchema = z.object({
  /** Always `pong`. */
  type: z.literal('pong'),
  /** The id of the `ping`. */
  id: requestIdSchema.optional(),
});

/**
 * Whether live data is flowing. Sent with `available: false` (and `code: "unavailable"`) when the
 * server loses its broker (Redis down) — publications stop until further notice and values on
 * screen may be stale — and with `available: true` once the broker is back, every subscription is
 * re-established and any missed publications have been delivered (or reset announced). Sent the
 * same way on WebSocket and SSE; a client connecting while the broker is down is refused instead.
 */
export const liveFrameSchema = z.object({
  /** Always `live`. */
  type: z.literal('live'),
  /** `false`: live data stopped; `true`: live data resumed. */
  available: z.boolean(),
  /** Present when `available` is false: why (`unavailable` for a broker outage). */
  code: z.enum(ERROR_CODES).optional(),
  /** A human-readable sentence, present when `available` is false. */
  message: z.string().optional(),
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
  liveFrameSchema,
  refreshedFrameSchema,
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
/** The `live` frame (broker down/up). */
export type LiveFrame = z.infer<typeof liveFrameSchema>;
/** The `refreshed` frame. */
export type RefreshedFrame = z.infer<typeof refreshedFrameSchema>;
