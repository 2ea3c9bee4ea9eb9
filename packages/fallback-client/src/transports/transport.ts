/**
 * What a transport is to the connection manager: one connection attempt (and, once open, one
 * session) over WebSocket, SSE or polling. A transport never reconnects by itself: it reports
 * `opened` or `failed` once, and the manager decides what comes next (one place decides).
 * @module
 */
import type { ChannelRegistry } from '../channels/registry';
import type { TransportFailure } from '../errors';
import type { ResolvedOptions } from '../options';
import type { ClientError, EventSourceConstructor, TransportName, WebSocketConstructor } from '../types';

/** Constructors resolved for this platform. @internal */
export interface ResolvedPlatform {
  WebSocket: WebSocketConstructor | undefined;
  EventSource: EventSourceConstructor | undefined;
  fetch: typeof fetch;
}

/** The manager, as seen by a transport. @internal */
export interface TransportHost {
  readonly registry: ChannelRegistry;
  readonly options: ResolvedOptions;
  readonly platform: ResolvedPlatform;
  /** True when the application gave `getToken` (a fresh token can be asked for). */
  readonly canRefreshToken: boolean;
  /** A fresh token from `getToken()` (shared call), or the last one when it fails. */
  token(): Promise<string | null>;
  /** The transport works (welcome received, first poll answered). */
  opened(transport: Transport): void;
  /** The transport stopped working; it is dead after this call. */
  failed(transport: Transport, failure: TransportFailure): void;
  /** The hub's broker went down (false) or came back (true). */
  live(transport: Transport, available: boolean, error?: ClientError): void;
  /** Traffic arrived (for `lastMessageAt`). */
  activity(transport: Transport): void;
  /** The polling interval in effect changed. */
  pollingInterval(transport: Transport, intervalMs: number | null): void;
  /** The hub refused one channel. */
  refuse(channel: string, error: ClientError): void;
  /** A connection-level problem worth logging that is not a failure (bad frame…). */
  report(error: ClientError): void;
}

/** One transport session. @internal */
export interface Transport {
  readonly name: TransportName;
  /** Connects with this token (null: none). */
  start(token: string | null): void;
  /** The wanted channels changed, or the transport became the active one: put them on the wire. */
  sync(): void;
  /** The page's visibility changed (polling slows down or pauses). */
  setHidden?(hidden: boolean): void;
  /** Releases everything; no callback after this. Idempotent. */
  stop(): void;
}
