/**
 * `@taskpulse/ws-hub/dialects`: WebSocket dialects — other wire protocols served by the same hub on
 * other paths. The seed dialects (`taskProgressDialect`, `processorStatusDialect`,
 * `celeryTasksDialect`), and what a custom dialect is made of: `defineDialect`, the codec contract
 * (`WireCodec`, `CodecConnection`, `CodecContext`, `Session`), `createChannelCodec`, `stateRoute`,
 * `createFrameGate` and the client record store. Pass a dialect to `createHub({ dialects })`.
 *
 * @packageDocumentation
 * @module @taskpulse/ws-hub/dialects
 */

export type { DeliverySink } from '../core/channel-subscription';
// The codec contract, then the dialects and their building blocks, by module
export {
  type CodecConnection,
  type CodecContext,
  type ConnectionRequest,
  nativeCodec,
  type WireCodec,
} from '../core/codec';
export type { SerializedPublication } from '../core/serialized';
export type { Session, SessionTransport } from '../core/session';
export { type CeleryTasksDialectOptions, celeryTasksDialect } from './celery-tasks';
export {
  type CeleryArgumentSource,
  type CeleryFailureState,
  type CeleryFieldMapping,
  type CeleryFieldSource,
  type CeleryTaskView,
  mappedFields,
} from './celery-tasks-encode';
export { type ChannelCodecConnection, type ChannelCodecOptions, createChannelCodec } from './channel-codec';
export {
  type BrokerClientStoreOptions,
  CLIENT_RECORD_NAMESPACE,
  CLIENT_RECORD_NAMESPACES,
  type ClientRecord,
  type ClientRecordStore,
  createBrokerClientStore,
} from './client-store';
export {
  type DialectRequestContext,
  type DialectRoute,
  defineDialect,
  type HubDialect,
  matchRoutePath,
} from './dialect';
export { createFrameGate, type FrameGate } from './frame-gate';
export { type ProcessorStatusDialectOptions, processorStatusDialect } from './processor-status';
export { type StateRouteOptions, stateRoute } from './state-route';
export {
  type TaskProgressDialect,
  type TaskProgressDialectOptions,
  type TrustQueryIdentityOptions,
  taskProgressDialect,
} from './task-progress';
