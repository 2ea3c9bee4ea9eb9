/**
 * `@taskpulse/fallback-client`: one client for browsers and Node — WebSocket, then SSE, then HTTP
 * polling, with backoff, token refresh, and per-channel resume without loss or duplicates.
 *
 * @packageDocumentation
 */

// Defaults and helpers
export { backoffDelayMs, DEFAULT_BACKOFF } from './backoff';
// The client
export { createClient } from './client';
export { DEFAULT_POLLING, TRANSPORT_OVERRIDE_PARAM, USER_POLLING_INTERVAL_BOUNDS_MS } from './options';
export { defaultEnvironment } from './platform/environment';

// Types
export type {
  BackoffOptions,
  ChannelPosition,
  ClientEnvironment,
  ClientError,
  ClientLogger,
  ClientOptions,
  ClientPlatform,
  ClientPublication,
  ConnectionState,
  ConnectionStatus,
  EnvironmentListener,
  EventSourceConstructor,
  EventSourceLike,
  PollingOptions,
  RecoveryFailedInfo,
  SubscribedInfo,
  SubscribeOptions,
  Subscription,
  TaskpulseClient,
  TransportName,
  WebSocketConstructor,
  WebSocketLike,
} from './types';
