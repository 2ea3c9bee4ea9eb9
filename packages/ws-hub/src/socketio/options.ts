/**
 * Options and limits of the Socket.IO endpoint, with seed 003's numbers as defaults.
 * @module
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { SocketIoServerClass } from './types';

/** Limits of the Socket.IO endpoint (seed 003's WEBSOCKET_CONFIG). */
export interface SocketIoLimits {
  /** Rooms one user may be in at once, over all their connections (anonymous: per connection). @default 50 */
  maxRoomsPerUser: number;
  /** Socket.IO connections per user id. @default 10 */
  maxConnectionsPerUser: number;
  /** Socket.IO connections on this endpoint. @default 10000 */
  maxConnections: number;
  /** A connection that sends no event for this long is disconnected (`idle_timeout`), in ms. @default 300000 */
  idleTimeoutMs: number;
  /** Engine.IO heartbeat: the server pings every this many ms. @default 30000 */
  heartbeatIntervalMs: number;
  /** Engine.IO heartbeat: a client that does not answer a ping within this time is cut, in ms. @default 10000 */
  heartbeatTimeoutMs: number;
  /**
   * Packets Engine.IO may hold for one connection that reads too slowly (a websocket backed up, a
   * polling client that stopped polling) before it is disconnected as a slow consumer
   * (`connection:error` `{code: 'slow_consumer'}`): Socket.IO itself buffers without a bound.
   * @default 1000
   */
  maxBufferedPackets: number;
}

/** Seed 003's limits. */
export const DEFAULT_SOCKETIO_LIMITS: Readonly<SocketIoLimits> = Object.freeze({
  maxRoomsPerUser: 50,
  maxConnectionsPerUser: 10,
  maxConnections: 10_000,
  idleTimeoutMs: 5 * 60 * 1000,
  heartbeatIntervalMs: 30_000,
  heartbeatTimeoutMs: 10_000,
  maxBufferedPackets: 1000,
});

/** Options of {@link attachSocketIo}. */
export interface SocketIoEndpointOptions {
  /**
   * The `Server` class of the `socket.io` package (`import { Server } from 'socket.io'`).
   * @default imported from `socket.io` at attach time (it must be installed)
   */
  Server?: SocketIoServerClass;
  /**
   * The HTTP server to attach to.
   * @default the hub's server
   */
  server?: HttpServer | HttpsServer;
  /**
   * The Socket.IO path (what clients pass as `path`).
   * @default '/socket.io'
   */
  path?: string;
  /** Limits; missing fields take {@link DEFAULT_SOCKETIO_LIMITS}. */
  limits?: Partial<SocketIoLimits>;
  /**
   * Maps a room name to a taskpulse channel.
   * @default `channelForLegacyRoom`: `test-progress-stress_123` → `test-progress:stress_123`
   */
  roomToChannel?: (room: string) => string;
  /**
   * Maps a channel back to the room name written in envelopes.
   * @default `legacyRoomForChannel`
   */
  channelToRoom?: (channel: string) => string;
  /**
   * Extra options for the Socket.IO server (`cors`, `transports`…); the endpoint sets `path`,
   * `pingInterval`, `pingTimeout` and `serveClient: false`.
   * @default none
   */
  serverOptions?: Record<string, unknown>;
}
