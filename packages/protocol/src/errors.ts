/**
 * The one error vocabulary shared by servers, brokers and clients.
 *
 * Every failure that crosses a package boundary is a {@link TaskpulseError} whose `code` is one
 * of {@link ERROR_CODES}. On the wire the same code travels in error frames and JSON error bodies;
 * {@link httpStatusFor} and {@link CloseCode} map it to HTTP statuses and WebSocket close codes.
 *
 * @module
 */

/**
 * The closed set of machine-readable error codes.
 *
 * | code | meaning | HTTP |
 * |---|---|---|
 * | `bad_request` | a request is malformed (bad query, bad position, bad body) | 400 |
 * | `bad_frame` | a frame is not valid JSON or does not match the protocol schema | 400 |
 * | `frame_too_large` | a frame or body exceeds the size limit | 413 |
 * | `payload_too_large` | a publication's data exceeds the namespace's limit | 413 |
 * | `bad_channel` | a channel name breaks the grammar | 400 |
 * | `unknown_channel` | the namespace of a channel is not configured | 404 |
 * | `not_found` | the requested resource does not exist | 404 |
 * | `unauthorized` | no or invalid credentials | 401 |
 * | `forbidden` | authenticated, but not allowed (channel, origin, publish) | 403 |
 * | `already_subscribed` | the connection is already subscribed to the channel | 409 |
 * | `not_subscribed` | unsubscribe from a channel the connection is not subscribed to | 409 |
 * | `too_many_connections` | a global or per-user connection limit is reached | 429 |
 * | `too_many_channels` | the per-connection channel limit is reached | 429 |
 * | `rate_limited` | the client sends frames or requests too fast | 429 |
 * | `slow_consumer` | the client reads too slowly; it was cut off and should recover | 503 |
 * | `idle_timeout` | the connection was idle for too long | 408 |
 * | `unsupported_version` | the client speaks an unsupported protocol version | 426 |
 * | `unavailable` | the broker (Redis) is unreachable | 503 |
 * | `timeout` | an operation did not complete in time | 504 |
 * | `shutting_down` | the server is closing | 503 |
 * | `internal` | an unexpected server error | 500 |
 */
export const ERROR_CODES = [
  'bad_request',
  'bad_frame',
  'frame_too_large',
  'payload_too_large',
  'bad_channel',
  'unknown_channel',
  'not_found',
  'unauthorized',
  'forbidden',
  'already_subscribed',
  'not_subscribed',
  'too_many_connections',
  'too_many_channels',
  'rate_limited',
  'slow_consumer',
  'idle_timeout',
  'unsupported_version',
  'unavailable',
  'timeout',
  'shutting_down',
  'internal',
] as const;

/** One of the {@link ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[number];

const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  bad_frame: 400,
  frame_too_large: 413,
  payload_too_large: 413,
  bad_channel: 400,
  unknown_channel: 404,
  not_found: 404,
  unauthorized: 401,
  forbidden: 403,
  already_subscribed: 409,
  not_subscribed: 409,
  too_many_connections: 429,
  too_many_channels: 429,
  rate_limited: 429,
  slow_consumer: 503,
  idle_timeout: 408,
  unsupported_version: 426,
  unavailable: 503,
  timeout: 504,
  shutting_down: 503,
  internal: 500,
};

/** Returns the HTTP status that an error code maps to (see the table on {@link ERROR_CODES}). */
export function httpStatusFor(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

/** Returns true when `value` is one of the {@link ERROR_CODES}. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** Options of the {@link TaskpulseError} constructor. */
export interface TaskpulseErrorOptions {
  /** The underlying error or value, kept for logs. */
  cause?: unknown;
  /** Machine-readable details (the offending channel, the limit that was hit…). */
  details?: Record<string, unknown>;
}

/**
 * An error with a code from the closed set {@link ErrorCode}.
 *
 * @example
 * ```ts
 * throw new TaskpulseError('bad_channel', 'channel name contains a space', { details: { channel } });
 * ```
 */
export class TaskpulseError extends Error {
  /** The machine-readable code. */
  readonly code: ErrorCode;
  /** Machine-readable details, safe to send to a client. */
  readonly details: Record<string, unknown> | undefined;

  /**
   * @param code - one of {@link ERROR_CODES}
   * @param message - a human-readable sentence
   * @param options - cause and details
   */
  constructor(code: ErrorCode, message: string, options: TaskpulseErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TaskpulseError';
    this.code = code;
    this.details = options.details;
  }

  /** The HTTP status this error maps to. */
  get status(): number {
    return httpStatusFor(this.code);
  }

  /**
   * Wraps anything thrown into a {@link TaskpulseError}: a TaskpulseError is returned as is,
   * anything else becomes `fallbackCode` (default `internal`) with the original as `cause`.
   */
  static from(cause: unknown, fallbackCode: ErrorCode = 'internal'): TaskpulseError {
    if (cause instanceof TaskpulseError) return cause;
    // A TaskpulseError from another copy of this package (the ESM and the CJS build loaded side by
    // side, or two installed versions) fails `instanceof`; keep its code instead of hiding it.
    if (isForeignTaskpulseError(cause)) {
      return new TaskpulseError(cause.code, cause.message, {
        cause,
        ...(cause.details ? { details: cause.details } : {}),
      });
    }
    const message = cause instanceof Error ? cause.message : safeString(cause);
    return new TaskpulseError(fallbackCode, message, { cause });
  }

  /** The JSON shape used in HTTP error bodies: `{ error: { code, message, details? } }`. */
  toJSON(): {
    /** The error. */
    error: {
      /** The machine-readable code. */
      code: ErrorCode;
      /** The human-readable message. */
      message: string;
      /** Machine-readable details, when there are any. */
      details?: Record<string, unknown>;
    };
  } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details ? { details: this.details } : {}),
      },
    };
  }
}

function isForeignTaskpulseError(
  value: unknown,
): value is Error & { code: ErrorCode; details?: Record<string, unknown> } {
  return value instanceof Error && value.name === 'TaskpulseError' && isErrorCode((value as { code?: unknown }).code);
}

// String(value) throws for objects without a usable toString (Object.create(null), a throwing
// toString); `from` must never throw while wrapping an error.
function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return 'unknown error';
  }
}

/**
 * WebSocket close codes used by taskpulse servers. The 4xxx codes mirror HTTP statuses
 * (4400 ↔ 400, 4401 ↔ 401 …) so that a client can reason about them the same way.
 *
 * | code | name | when | client should |
 * |---|---|---|---|
 * | 1000 | Normal | the client or the server closed on purpose | not reconnect (client) / reconnect (server) |
 * | 1001 | GoingAway | the server is shutting down | reconnect (another node) |
 * | 4400 | BadRequest | too many invalid frames | not retry without a fix |
 * | 4401 | Unauthorized | credentials expired or were revoked | refresh credentials, then reconnect |
 * | 4403 | Forbidden | the connection is no longer allowed | not reconnect |
 * | 4408 | Timeout | idle timeout or heartbeat (pong) timeout | reconnect |
 * | 4413 | FrameTooLarge | a frame exceeded `maxFrameBytes` | not resend that frame |
 * | 4426 | UnsupportedVersion | protocol version mismatch | upgrade the client |
 * | 4429 | RateLimited | frame rate or a connection/channel limit exceeded | reconnect after a delay |
 * | 4500 | InternalError | unexpected server error | reconnect with backoff |
 * | 4503 | Unavailable | the broker is unavailable or the server overloaded | reconnect with backoff |
 * | 4509 | SlowConsumer | the client read too slowly; its buffer passed the high-water mark | reconnect and recover from its last position |
 *
 * 4509 is the one code that does not mirror an HTTP status (`slow_consumer` answers 503 over
 * HTTP): it stays distinct from 4503 so that a client knows the server is healthy and it can
 * reconnect at once and recover from its last position instead of backing off.
 * {@link closeCodeFor} maps every error code to the close code a server uses for it.
 */
export const CloseCode = {
  /** 1000: closed on purpose. */
  Normal: 1000,
  /** 1001: the server is shutting down; reconnect (another node will answer). */
  GoingAway: 1001,
  /** 4400: too many invalid frames; do not retry without a fix. */
  BadRequest: 4400,
  /** 4401: credentials expired or were revoked; refresh them, then reconnect. */
  Unauthorized: 4401,
  /** 4403: the connection is no longer allowed; do not reconnect. */
  Forbidden: 4403,
  /** 4408: idle timeout or heartbeat (pong) timeout; reconnect. */
  Timeout: 4408,
  /** 4413: a frame exceeded the server's `maxFrameBytes`; do not resend it. */
  FrameTooLarge: 4413,
  /** 4426: the server does not speak the client's protocol version; upgrade the client. */
  UnsupportedVersion: 4426,
  /** 4429: the client exceeded a rate or connection limit; reconnect after a delay. */
  RateLimited: 4429,
  /** 4500: unexpected server error; reconnect with backoff. */
  InternalError: 4500,
  /** 4503: the broker is unavailable or the server overloaded; reconnect with backoff. */
  Unavailable: 4503,
  /** 4509: the client read too slowly; reconnect at once and recover from its last position. */
  SlowConsumer: 4509,
} as const;

/** A value of {@link CloseCode}. */
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Whether a client should reconnect after the server closed with `code`.
 * Codes that mean "your request is wrong" (4400, 4403, 4413, 4426) return false.
 */
export function isRetryableClose(code: number): boolean {
  return !(
    code === CloseCode.BadRequest ||
    code === CloseCode.Forbidden ||
    code === CloseCode.FrameTooLarge ||
    code === CloseCode.UnsupportedVersion
  );
}

const CLOSE_CODE_FOR: Record<ErrorCode, CloseCodeValue> = {
  bad_request: CloseCode.BadRequest,
  bad_frame: CloseCode.BadRequest,
  frame_too_large: CloseCode.FrameTooLarge,
  payload_too_large: CloseCode.FrameTooLarge,
  bad_channel: CloseCode.BadRequest,
  unknown_channel: CloseCode.BadRequest,
  not_found: CloseCode.BadRequest,
  unauthorized: CloseCode.Unauthorized,
  forbidden: CloseCode.Forbidden,
  already_subscribed: CloseCode.BadRequest,
  not_subscribed: CloseCode.BadRequest,
  too_many_connections: CloseCode.RateLimited,
  too_many_channels: CloseCode.RateLimited,
  rate_limited: CloseCode.RateLimited,
  slow_consumer: CloseCode.SlowConsumer,
  idle_timeout: CloseCode.Timeout,
  unsupported_version: CloseCode.UnsupportedVersion,
  unavailable: CloseCode.Unavailable,
  timeout: CloseCode.Unavailable,
  shutting_down: CloseCode.GoingAway,
  internal: CloseCode.InternalError,
};

/**
 * The close code a server uses when it closes a connection because of an error with `code`.
 * Most errors are answered with an error frame and the connection stays open; this mapping is
 * for the ones that end it (authentication lost, limits, heartbeat timeout, shutdown…).
 *
 * @example
 * ```ts
 * socket.close(closeCodeFor(error.code), error.message);
 * ```
 */
export function closeCodeFor(code: ErrorCode): CloseCodeValue {
  return CLOSE_CODE_FOR[code];
}
