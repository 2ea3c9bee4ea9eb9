/**
 * Public types of `@taskpulse/fallback-client` (the agreed client contract).
 * @module
 */
import type { TaskpulseLogger } from '@taskpulse/protocol';
import type { z } from 'zod';

/** A transport the client can use, best first: `websocket`, `sse`, `polling`. */
export type TransportName = 'websocket' | 'sse' | 'polling';

/**
 * Connection status, for a status indicator.
 *
 * - `connecting`: before the first `welcome` (WebSocket, SSE) or the first poll response.
 * - `connected`: working over the best transport allowed by the options.
 * - `degraded`: working over a transport below the best allowed one (SSE or polling in `auto` mode).
 * - `offline`: the browser says it is offline, or every attempt is failing.
 * - `unauthorized`: the hub refused the credentials and `getToken()` could not fix it.
 * - `closed`: after {@link TaskpulseClient.close}.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'degraded' | 'offline' | 'unauthorized' | 'closed';

/** A snapshot of the connection, replaced (never mutated) on every change. */
export interface ConnectionState {
  /** The status. */
  status: ConnectionStatus;
  /** The transport in use (or being tried), null when none. */
  transport: TransportName | null;
  /** The current effective polling interval in ms while polling (the shortest over all channels), else null. */
  pollingIntervalMs: number | null;
  /** `Date.now()` of the last frame or response carrying data or a heartbeat, null before any. */
  lastMessageAt: number | null;
  /** False while the hub reports that its broker is down (live data stopped); true otherwise. */
  liveDataAvailable: boolean;
  /** The last connection-level error, null after a successful (re)connection. */
  error: ClientError | null;
  /** True once `auto` mode has fallen back to polling (for a one-time notice); stays true until close. */
  switchedToPolling: boolean;
}

/**
 * An error reported by the client. `code` is one of the protocol's error codes (`forbidden`,
 * `unauthorized`, `unknown_channel`, `unavailable`…) or a client code: `network` (a transport
 * failed), `bad_data` (a publication failed the subscription's schema), `bad_frame` (the server
 * sent something that is not a valid frame), `timeout` (connect timeout).
 */
export interface ClientError {
  /** Machine-readable code. */
  code: string;
  /** A human-readable sentence. */
  message: string;
  /** The underlying error or event, when there is one. */
  cause?: unknown;
}

/** A publication as delivered to the application. */
export interface ClientPublication<T = unknown> {
  /** The channel. */
  channel: string;
  /** The history generation of `offset`. */
  epoch: string;
  /** Position in the channel's history (≥ 1). */
  offset: number;
  /** What happened (`progress`, `status`, `test:started`…). */
  event: string;
  /** The payload (validated by the subscription's schema when one is given). */
  data: T;
  /** Publish time, ms since the Unix epoch. */
  ts: number;
  /** Message id chosen by the publisher. */
  id?: string;
  /** Priority 1–4. */
  priority?: number;
}

/** A channel position: the last publication seen. */
export interface ChannelPosition {
  /** The history generation. */
  epoch: string;
  /** The offset of the last publication seen (0: none). */
  offset: number;
}

/** Information passed to {@link SubscribeOptions.onSubscribed}. */
export interface SubscribedInfo {
  /** The channel's kind. */
  kind: 'events' | 'state';
  /** The channel's epoch. */
  epoch: string;
  /** The channel's current offset at the time of the answer. */
  offset: number;
  /** Present when the client resumed from a position: whether the missed publications follow. */
  recovered?: boolean;
}

/** Information passed to {@link SubscribeOptions.onRecoveryFailed}. */
export interface RecoveryFailedInfo<T = unknown> {
  /** The channel. */
  channel: string;
  /** The channel's new epoch (the client's new baseline). */
  epoch: string;
  /** The channel's new offset (the client's new baseline). */
  offset: number;
  /** State channels: the current value (null when none); events channels: null. */
  state: ClientPublication<T> | null;
}

/** Options of {@link TaskpulseClient.subscribe}. */
export interface SubscribeOptions<T = unknown> {
  /** Validates `data` of each publication; invalid data goes to `onError` (code `bad_data`), never a throw. */
  schema?: z.ZodType<T>;
  /** Resume after this position (the first subscribe only; later resumes use the client's own positions). */
  since?: ChannelPosition;
  /** Every publication once, in offset order. */
  onPublication?: (publication: ClientPublication<T>) => void;
  /**
   * State channels: the current value on every (re)subscribe (`recovered: false` when a gap could
   * not be filled), and at once with the cached value for a later subscriber of a shared channel.
   */
  onState?: (latest: ClientPublication<T> | null, info: { recovered?: boolean }) => void;
  /** The hub could not fill a gap (epoch changed, history too short): refetch what you need. */
  onRecoveryFailed?: (info: RecoveryFailedInfo<T>) => void;
  /** The hub answered the subscription (on every transport and every resubscribe). */
  onSubscribed?: (info: SubscribedInfo) => void;
  /** Forbidden or unknown channel, bad data, bad frames: never thrown into the application. */
  onError?: (error: ClientError) => void;
}

/** A handle on one subscription. Several handles on one channel share one wire subscription. */
export interface Subscription<T = unknown> {
  /** The channel. */
  readonly channel: string;
  /** `events` or `state`; null until the first `subscribed` answer. */
  readonly kind: 'events' | 'state' | null;
  /** The client's position on the channel (last publication seen), null before the first answer. */
  readonly position: ChannelPosition | null;
  /** The last publication seen (state channels: the current value). */
  readonly latest: ClientPublication<T> | null;
  /** Re-reads the channel's current state over HTTP (`GET {base}/channels/{channel}/state`) and delivers it via `onState`. */
  refresh(): Promise<ClientPublication<T> | null>;
  /** Drops this handle; the wire unsubscribe happens when the last handle of the channel is dropped. Idempotent. */
  unsubscribe(): void;
}

/**
 * The client's logger: the protocol's `TaskpulseLogger` (`debug`/`info`/`warn`/`error`, each
 * `(message, fields?)`), the one logger type every taskpulse package takes. Kept as an alias for
 * compatibility.
 */
export type ClientLogger = TaskpulseLogger;

/** Reconnect backoff: exponential with full jitter (seed 000: 1 s → 2 s → 4 s … capped at 30 s). */
export interface BackoffOptions {
  /**
   * First delay in ms (before jitter).
   * @default 1000
   */
  initialDelayMs?: number;
  /**
   * Largest delay in ms.
   * @default 30_000
   */
  maxDelayMs?: number;
  /**
   * Growth factor per failed attempt.
   * @default 2
   */
  multiplier?: number;
  /**
   * `full`: wait a random time in [0, delay]; `none`: wait exactly the delay.
   * @default 'full'
   */
  jitter?: 'full' | 'none';
  /**
   * A connection must stay up this long before the backoff resets (a server that accepts and
   * closes at once does not defeat the backoff), in ms.
   * @default 10_000
   */
  healthyAfterMs?: number;
  /**
   * Give up after this many failed attempts in a row (then status `offline`, until `online` or `retryWebSocket()`).
   * @default Infinity
   */
  maxAttempts?: number;
}

/** Polling options (seed 004). */
export interface PollingOptions {
  /**
   * Base interval in ms for channels without their own (the developer's setting: at least 10 ms,
   * not clamped; see `userIntervalMs` for the end user's choice).
   * @default 5000
   */
  intervalMs?: number;
  /**
   * The interval the end user chose (seed 004's slider), in ms: replaces `intervalMs` as the base
   * interval, clamped to {@link USER_POLLING_INTERVAL_BOUNDS_MS} (3 000–30 000) so a user can
   * neither hammer the server nor stall the page. Per-channel `intervals` still win.
   */
  userIntervalMs?: number;
  /**
   * Intervals in ms per channel or per namespace (a channel's own entry wins), e.g.
   * `{ monitoring: 5000, capacity: 30_000 }`.
   * @default {}
   */
  intervals?: Record<string, number>;
  /**
   * The interval grows by this factor after each poll that brought nothing new, and snaps back on data.
   * @default 1.5
   */
  idleBackoffFactor?: number;
  /**
   * Upper bound of a stretched interval, in ms.
   * @default 30_000
   */
  maxIntervalMs?: number;
  /**
   * While the page is hidden: `slow` multiplies intervals by `hiddenMultiplier`, `pause` stops
   * polling until visible, `none` changes nothing. Becoming visible polls at once.
   * @default 'slow'
   */
  whenHidden?: 'slow' | 'pause' | 'none';
  /**
   * Interval multiplier while hidden (with `whenHidden: 'slow'`).
   * @default 2
   */
  hiddenMultiplier?: number;
  /**
   * Long-poll: ask the hub to hold a poll with nothing new for up to this long (ms). 0 = plain interval polling.
   * @default 0
   */
  waitMs?: number;
  /**
   * Most publications per channel per poll (`more: true` answers are re-polled at once).
   * @default 100
   */
  limit?: number;
}

/** Platform constructors, for Node or tests. Browsers use the globals. */
export interface ClientPlatform {
  /** A WHATWG-compatible WebSocket constructor (`ws` in Node). */
  WebSocket?: WebSocketConstructor;
  /** A WHATWG-compatible EventSource constructor (`eventsource` v3/v4 in Node). */
  EventSource?: EventSourceConstructor;
  /** A fetch function. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Page visibility and connectivity. @default the browser's `document`/`navigator` (elsewhere: visible, online) */
  environment?: ClientEnvironment;
}

/** Listeners of {@link ClientEnvironment.listen}. */
export interface EnvironmentListener {
  /** The page became hidden (true) or visible (false). */
  visibility(hidden: boolean): void;
  /** The browser went online (true) or offline (false). */
  connectivity(online: boolean): void;
}

/** Page visibility and connectivity, as the client sees them. */
export interface ClientEnvironment {
  /** Whether the page is hidden now. */
  isHidden(): boolean;
  /** Whether the browser believes it is online now. */
  isOnline(): boolean;
  /** Starts listening; returns the function that stops. */
  listen(listener: EnvironmentListener): () => void;
}

/** The subset of the WebSocket constructor the client uses. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** The subset of a WebSocket the client uses. */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  /** Open handler. */
  onopen: ((event: unknown) => void) | null;
  /** Message handler. */
  onmessage: ((event: { data: unknown }) => void) | null;
  /** Close handler. */
  onclose: ((event: { code: number; reason: string }) => void) | null;
  /** Error handler. */
  onerror: ((event: unknown) => void) | null;
  /** Sends text. */
  send(data: string): void;
  /** Closes. */
  close(code?: number, reason?: string): void;
}

/** The subset of the EventSource constructor the client uses. */
export type EventSourceConstructor = new (
  url: string,
  init?: { withCredentials?: boolean; fetch?: unknown },
) => EventSourceLike;

/** The subset of an EventSource the client uses. */
export interface EventSourceLike {
  /** 0 connecting, 1 open, 2 closed. */
  readonly readyState: number;
  /** Open handler. */
  onopen: ((event: unknown) => void) | null;
  /** Message handler. */
  onmessage: ((event: { data: string; lastEventId?: string }) => void) | null;
  /** Error handler (`code` is set by the `eventsource` package for HTTP errors). */
  onerror: ((event: { code?: number; message?: string } & object) => void) | null;
  /** Closes. */
  close(): void;
}

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** Hub origin (or origin + path prefix), e.g. `'http://127.0.0.1:3000'`; the ws(s) URL is derived. */
  url: string;
  /**
   * Path of the hub's native endpoints under `url`.
   * @default '/taskpulse'
   */
  basePath?: string;
  /** A fixed token (sent as `Authorization: Bearer` over HTTP, as `?token=` on WebSocket and SSE). */
  token?: string;
  /** Called before every connection and again after an auth refusal; wins over `token`. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /**
   * `auto` (WebSocket, then SSE, then polling), one transport, or an ordered list.
   * @default 'auto'
   */
  transports?: 'auto' | TransportName | TransportName[];
  /**
   * Seed 004's debug switch: force polling whatever `transports` says.
   * @default false
   */
  forcePolling?: boolean;
  /**
   * Honour a `?taskpulse-transport=polling|sse|websocket|auto` query parameter of the page
   * (browsers; for support staff).
   * @default true
   */
  allowUrlOverride?: boolean;
  /**
   * A WebSocket or SSE that has not said `welcome` within this time counts as a failure, in ms;
   * a poll request unanswered after this (plus `polling.waitMs`) is abandoned as failed too.
   * @default 10_000
   */
  connectTimeoutMs?: number;
  /**
   * Failed attempts in a row (timeouts, abnormal closes before `welcome`) before `auto` mode
   * moves to the next transport.
   * @default 3
   */
  failuresBeforeFallback?: number;
  /**
   * While degraded, probe the better transport this often, in ms (0: only on `retryWebSocket()`).
   * @default 60_000
   */
  probeIntervalMs?: number;
  /** Reconnect backoff. */
  backoff?: BackoffOptions;
  /** Polling. */
  polling?: PollingOptions;
  /**
   * Send credentials (cookies) with SSE and fetch (`withCredentials` / `credentials: 'include'`).
   * @default false
   */
  withCredentials?: boolean;
  /** Constructors for Node or tests (browsers use their globals). */
  platform?: ClientPlatform;
  /** Logger: a `TaskpulseLogger` from `@taskpulse/protocol` (`console` fits); the client never logs to the console by itself. */
  logger?: TaskpulseLogger;
  /** Called with every connection-level and subscription error (besides the subscription's own `onError`). */
  onError?: (error: ClientError) => void;
}

/** The client. */
export interface TaskpulseClient {
  /** The current connection state (a new object on every change). */
  readonly state: ConnectionState;
  /** Listener called on every state change; returns an unsubscribe function. */
  onStateChange(listener: (state: ConnectionState) => void): () => void;
  /**
   * Subscribes to a channel. Several calls for one channel share ONE wire subscription
   * (reference-counted); the wire unsubscribe happens when the last handle unsubscribes. A later
   * subscriber of a state channel gets the cached latest value at once via `onState`.
   */
  subscribe<T = unknown>(channel: string, options?: SubscribeOptions<T>): Subscription<T>;
  /** Probes WebSocket now (seed 004's "retry WebSocket" button); switches only once it works. */
  retryWebSocket(): void;
  /** Releases every socket, stream, timer and listener. Idempotent. */
  close(): Promise<void>;
}
