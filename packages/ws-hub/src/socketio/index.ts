/**
 * The Socket.IO endpoint (see {@link attachSocketIo}).
 * @module
 */
export type { RoomError, RoomReply } from './connection';
export { attachSocketIo, type SocketIoEndpoint } from './endpoint';
export { toSeedEnvelope } from './envelope';
export { DEFAULT_SOCKETIO_LIMITS, type SocketIoEndpointOptions, type SocketIoLimits } from './options';
export type {
  SocketIoConnectError,
  SocketIoEngineConnectionLike,
  SocketIoHandshakeLike,
  SocketIoRefusal,
  SocketIoServerClass,
  SocketIoServerLike,
  SocketIoSocketLike,
} from './types';
