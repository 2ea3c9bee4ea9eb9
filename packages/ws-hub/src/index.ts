/**
 * `@taskpulse/ws-hub`: the taskpulse server.
 *
 * @packageDocumentation
 */

// Authentication
export { createJwtAuthenticator, type JwtAuthenticator, type JwtAuthenticatorOptions } from './auth/jwt';
export { type ExtractTokenOptions, extractToken, type TokenSource } from './auth/token';

// Core (transport-independent)
export { type ChannelListener, ChannelRouter, type ChannelRouterOptions } from './core/channel-router';
export {
  ChannelSubscription,
  type OpenedSubscription,
  openChannelSubscription,
  type SubscriptionTarget,
} from './core/channel-subscription';
export {
  type CodecConnection,
  type CodecContext,
  nativeCodec,
  type WireCodec,
} from './core/codec';
export { createHubCore, HubCore, type HubStats } from './core/hub-core';
export { createHubMetrics, type HubMetrics, type HubMetricsOptions } from './core/metrics';
export {
  type AuthenticateFn,
  DEFAULT_LIMITS,
  type HubCoreOptions,
  type HubLimits,
  type VerifyTokenFn,
} from './core/options';
export { type AuthorizeFn, type ChannelAction, defaultAuthorize, type Principal } from './core/principal';
export { batchFrame, SerializedPublication } from './core/serialized';
export { Session, type SessionTransport } from './core/session';

// Dialects
export { type CeleryTasksDialectOptions, celeryTasksDialect } from './dialects/celery-tasks';
export {
  type CeleryArgumentSource,
  type CeleryFailureState,
  type CeleryFieldMapping,
  type CeleryFieldSource,
  type CeleryTaskView,
  mappedFields,
} from './dialects/celery-tasks-encode';
export { type ChannelCodecConnection, type ChannelCodecOptions, createChannelCodec } from './dialects/channel-codec';
export {
  type BrokerClientStoreOptions,
  CLIENT_RECORD_NAMESPACE,
  CLIENT_RECORD_NAMESPACES,
  type ClientRecord,
  type ClientRecordStore,
  createBrokerClientStore,
} from './dialects/client-store';
export {
  type DialectRequestContext,
  type DialectRoute,
  defineDialect,
  type HubDialect,
  matchRoutePath,
} from './dialects/dialect';
export { createFrameGate, type FrameGate } from './dialects/frame-gate';
export { type ProcessorStatusDialectOptions, processorStatusDialect } from './dialects/processor-status';
export { type StateRouteOptions, stateRoute } from './dialects/state-route';
export {
  type TaskProgressDialect,
  type TaskProgressDialectOptions,
  type TrustQueryIdentityOptions,
  taskProgressDialect,
} from './dialects/task-progress';

// HTTP
export { createHttpHandler, type HttpHandler, type HttpOptions } from './http/http-handler';
export type { PollChannelResult, PollResponse } from './http/poll-endpoint';
export { type DecodeCursorOptions, decodePositionsCursor, encodePositionsCursor } from './http/positions-cursor';
export type { ReadRateLimit } from './http/read-rate-limit';

// Hub (core + WebSocket + HTTP on a server)
export { createHub, type Hub, type HubOptions, type WsDialect } from './hub';
// Brokers
export { createMemoryBroker, type MemoryBrokerOptions } from './memory-broker';
// Operations dashboard
export type { DashboardOptions } from './ops/dashboard-options';
export { OPS_COOKIE } from './ops/ops-credential';

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

// WebSocket binding
export { createWsBinding, type WsBinding, type WsBindingOptions, type WsMount, type WsStats } from './ws/ws-binding';
