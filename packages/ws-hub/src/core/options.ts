/**
 * Options shared by the hub core and its transport bindings.
 * @module
 */
import type { Broker, NamespaceTable, TaskpulseLogger } from '@taskpulse/protocol';
import type { ConnectionRequest } from './codec';
import type { AuthorizeFn, Principal } from './principal';

/**
 * Limits, with seed 003's numbers as defaults. Each is enforced with a documented error frame,
 * close code or HTTP status (see `docs/hub.md`).
 */
export interface HubLimits {
  /** Open connections per hub process (HTTP 503 `too_many_connections` before upgrade). @default 10000 */
  maxConnections: number;
  /** Open connections per user id (HTTP 429 `too_many_connections` before upgrade). @default 10 */
  maxConnectionsPerUser: number;
  /** Channels one connection may subscribe to (error frame `too_many_channels`). @default 50 */
  maxChannelsPerConnection: number;
  /** Largest client frame in bytes (error frame + close 4413). @default 65536 */
  maxFrameBytes: number;
  /** Sustained client frames per second (error frame `rate_limited`; close 4429 when it goes on). @default 20 */
  maxFramesPerSecond: number;
  /** Burst of client frames allowed above the rate. @default 50 */
  frameBurst: number;
  /** Invalid frames tolerated within one minute before the connection is closed with 4400. @default 10 */
  maxInvalidFrames: number;
  /** A connection with no subscription and no client frame for this long is closed with 4408. @default 300000 (5 min) */
  idleTimeoutMs: number;
  /**
   * Bytes queued for one slow connection before it is cut with 4509 (slow consumer). State
   * channels are conflated before this is reached. @default 1048576 (1 MiB)
   */
  maxBufferedBytes: number;
}

/** Default {@link HubLimits}. */
export const DEFAULT_LIMITS: Readonly<HubLimits> = Object.freeze({
  maxConnections: 10_000,
  maxConnectionsPerUser: 10,
  maxChannelsPerConnection: 50,
  maxFrameBytes: 64 * 1024,
  maxFramesPerSecond: 20,
  frameBurst: 50,
  maxInvalidFrames: 10,
  idleTimeoutMs: 5 * 60 * 1000,
  maxBufferedBytes: 1024 * 1024,
});

/**
 * Verifies a token sent on a live connection (`refresh` frame) and returns its principal; throws
 * `TaskpulseError('unauthorized')` for an invalid token. `createJwtAuthenticator(...).verifyToken`
 * is one.
 */
export type VerifyTokenFn = (token: string) => Principal | null | Promise<Principal | null>;

/**
 * Authenticates a request (WebSocket upgrade, SSE, polling, reads, Socket.IO handshake). It gets
 * the transport-neutral {@link ConnectionRequest} (target, headers, peer address) that every
 * binding builds from its own request object, never a Node request.
 */
export type AuthenticateFn = (request: ConnectionRequest) => Principal | null | Promise<Principal | null>;

/**
 * Options of the hub core (transport-independent). The namespace fields (`namespaces`,
 * `namespaceDefaults`, `allowUnknownNamespaces`, see {@link NamespaceTable}) configure the default
 * in-memory broker; a given `broker` carries its own table, so passing both is a `TypeError`.
 * Without a table every channel is refused with `unknown_channel`.
 */
export interface HubCoreOptions extends NamespaceTable {
  /**
   * The backplane. @default an in-memory broker (`createMemoryBroker`) built with the namespace fields
   */
  broker?: Broker;
  /**
   * Authenticates a request: return a principal, or throw `TaskpulseError('unauthorized' |
   * 'forbidden')`. Returning null means anonymous. @default every request is anonymous
   */
  authenticate?: AuthenticateFn;
  /**
   * Enables refresh in place: a client sends `{"type":"refresh","token":"…"}` on its live
   * connection before its credentials expire, the hub verifies the token with this function and
   * the connection then expires at the new `expiresAt` (answer `refreshed`). The new token must
   * be for the same user (else the connection is closed with 4403); subscriptions it no longer
   * allows are dropped with an `error` frame `forbidden`.
   * @default none: `refresh` frames are answered `bad_request`, and a connection whose
   * credentials expire is closed with 4401 (the client refreshes its token and reconnects)
   */
  verifyToken?: VerifyTokenFn;
  /** Authorizes channel actions. @default {@link defaultAuthorize} */
  authorize?: AuthorizeFn;
  /** Limits; missing fields take {@link DEFAULT_LIMITS}. */
  limits?: Partial<HubLimits>;
  /** Heartbeat interval announced to clients and used for protocol pings, in ms. @default 30000 */
  heartbeatIntervalMs?: number;
  /** A peer that does not answer a protocol ping within this time is cut, in ms. @default 10000 */
  pongTimeoutMs?: number;
  /** Allowed `Origin` values (exact match, or `*`). @default every origin */
  allowedOrigins?: readonly string[];
  /** Logger. @default silent */
  logger?: TaskpulseLogger;
  /** Generates client ids. @default random UUIDs */
  generateClientId?: () => string;
  /**
   * How often the broker's status is checked, in ms, to tell connected clients when live data
   * stops and resumes (`live` frames) and to refuse new WebSocket upgrades while it is down.
   * @default 250
   */
  brokerCheckIntervalMs?: number;
}
