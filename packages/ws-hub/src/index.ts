/**
 * `@taskpulse/ws-hub`: the taskpulse server. `createHub` serves the native WebSocket protocol, SSE,
 * HTTP polling and the REST reads on one server; `createHubCore` with `createHttpHandler` embeds the
 * HTTP side in a server of your own; `attachSocketIo` adds the seed's Socket.IO rooms.
 *
 * The WebSocket dialects (the seed protocols and `defineDialect` for your own) are in
 * `@taskpulse/ws-hub/dialects`.
 *
 * @packageDocumentation
 * @module @taskpulse/ws-hub
 */

// Authentication
export { createJwtAuthenticator, type JwtAuthenticator, type JwtAuthenticatorOptions } from './auth/jwt';
export { type ExtractTokenOptions, extractToken, type TokenRequest, type TokenSource } from './auth/token';
export type { ConnectionRequest } from './core/codec';
// The core (embedding without `createHub`), options, authorization
export { createHubCore, type HubCore, type HubStats } from './core/hub-core';
export type { HubMetrics } from './core/metrics';
export {
  type AuthenticateFn,
  DEFAULT_LIMITS,
  type HubCoreOptions,
  type HubLimits,
  type VerifyTokenFn,
} from './core/options';
export { type AuthorizeFn, type ChannelAction, defaultAuthorize, type Principal } from './core/principal';
// HTTP side (embedding without `createHub`)
export { createHttpHandler, type HttpHandler, type HttpOptions } from './http/http-handler';
export type { PollChannelResult, PollResponse } from './http/poll-endpoint';
export type { ReadRateLimit } from './http/read-rate-limit';
// Hub (core + WebSocket + HTTP on a server)
export { createHub, type Hub, type HubOptions, type WsDialect } from './hub';
// In-memory broker (one node, tests)
export { createMemoryBroker, type MemoryBrokerOptions } from './memory-broker';
// Operations dashboard
export type { DashboardOptions } from './ops/dashboard-options';
// Socket.IO endpoint (needs the optional peer `socket.io`)
export {
  attachSocketIo,
  DEFAULT_SOCKETIO_LIMITS,
  type RoomError,
  type RoomReply,
  type SocketIoConnectError,
  type SocketIoEndpoint,
  type SocketIoEndpointOptions,
  type SocketIoEngineConnectionLike,
  type SocketIoHandshakeLike,
  type SocketIoLimits,
  type SocketIoRefusal,
  type SocketIoServerClass,
  type SocketIoServerLike,
  type SocketIoSocketLike,
  toSeedEnvelope,
} from './socketio/index';
// A codec on a WebSocket path (`WsDialect`), backlog figures (`hub.wsStats()`)
export type { WsMount, WsStats } from './ws/ws-binding';
