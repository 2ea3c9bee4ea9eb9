/**
 * `@taskpulse/ws-hub`: the taskpulse server.
 *
 * @packageDocumentation
 */

// Brokers
export { createMemoryBroker, type MemoryBrokerOptions } from './memory-broker';

// Core (transport-independent)
export { ChannelRouter, type ChannelListener, type ChannelRouterOptions } from './core/channel-router';
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
  type HubLogger,
} from './core/options';
export { type AuthorizeFn, type ChannelAction, defaultAuthorize, type Principal } from './core/principal';
export { batchFrame, SerializedPublication } from './core/serialized';
export { Session, type SessionTransport } from './core/session';

// HTTP
export { createHttpHandler, type HttpHandler, type HttpOptions } from './http/http-handler';
