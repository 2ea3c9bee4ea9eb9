/**
 * Client errors and the one place that classifies a failure: HTTP statuses, error bodies and close
 * codes become a {@link FailureKind} that the connection manager acts on.
 * @module
 */
import type { ClientError } from './types';

/**
 * What a failure means for the connection manager:
 * - `network`: the transport did not work (timeout, abnormal close, blocked) — counts toward fallback;
 * - `unreachable`: the transport failed before it opened and plain HTTP to the hub failed too (hub
 *   down or restarting, no network) — backoff on the same transport, not fallback;
 * - `unavailable`: the hub works but its broker is down (503) — backoff, not fallback;
 * - `rate_limited`: 429 / 4429 — backoff, not fallback;
 * - `dropped`: a working connection ended (1000/1001/4408/4509…) — reconnect, not fallback;
 * - `auth`: 401 / 4401 — refresh the token, never fallback;
 * - `forbidden`: 403 / 4403 at connection level (origin, revoked) — stop;
 * - `fatal`: the client cannot fix it by retrying (4400, 4413, 4426, bad protocol version).
 * @internal
 */
export type FailureKind =
  | 'network'
  | 'unreachable'
  | 'unavailable'
  | 'rate_limited'
  | 'dropped'
  | 'auth'
  | 'forbidden'
  | 'fatal';

/** A classified failure of one transport attempt. @internal */
export interface TransportFailure {
  /** What it means. */
  kind: FailureKind;
  /** For the application. */
  error: ClientError;
  /** Reconnect without waiting (4509 slow consumer, 1001 going away). */
  immediate?: boolean;
}

/** Builds a {@link ClientError}. @internal */
export function clientError(code: string, message: string, cause?: unknown): ClientError {
  return cause === undefined ? { code, message } : { code, message, cause };
}

/** Classifies a WebSocket close code (after or before `welcome`). @internal */
export function classifyClose(code: number, reason: string, opened: boolean): TransportFailure {
  const error = clientError(closeErrorCode(code), `connection closed (${code}${reason ? `: ${reason}` : ''})`);
  switch (code) {
    case 4401:
      return { kind: 'auth', error };
    case 4403:
      return { kind: 'forbidden', error };
    case 4400:
    case 4413:
    case 4426:
      return { kind: 'fatal', error };
    case 4429:
      return { kind: 'rate_limited', error };
    case 4500:
    case 4503:
      return { kind: 'unavailable', error };
    case 4509:
      return { kind: 'dropped', error, immediate: true };
    case 1000:
    case 1001:
    case 4408:
      return { kind: opened ? 'dropped' : 'network', error, immediate: opened && code === 1001 };
    default:
      // 1006 and anything unknown: the network failed (before welcome this counts toward fallback).
      return { kind: opened ? 'dropped' : 'network', error };
  }
}

function closeErrorCode(code: number): string {
  const map: Record<number, string> = {
    4400: 'bad_request',
    4401: 'unauthorized',
    4403: 'forbidden',
    4408: 'idle_timeout',
    4413: 'frame_too_large',
    4426: 'unsupported_version',
    4429: 'rate_limited',
    4500: 'internal',
    4503: 'unavailable',
    4509: 'slow_consumer',
    1001: 'shutting_down',
  };
  return map[code] ?? 'network';
}

/** The hub's JSON error body, when the response has one. @internal */
export interface HttpErrorBody {
  /** Error code. */
  code: string;
  /** Message. */
  message: string;
  /** The channel the error is about (`details.channel`), when any. */
  channel?: string;
}

/** Reads `{error: {code, message, details}}` from a failed response; never throws. @internal */
export async function readErrorBody(response: Response): Promise<HttpErrorBody | null> {
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    const e = body?.error;
    if (!e || typeof e.code !== 'string') return null;
    const details = e.details as { channel?: unknown } | undefined;
    return {
      code: e.code,
      message: typeof e.message === 'string' ? e.message : e.code,
      ...(typeof details?.channel === 'string' ? { channel: details.channel } : {}),
    };
  } catch {
    return null;
  }
}

const STATUS_CODES: Record<number, string> = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  426: 'unsupported_version',
  429: 'rate_limited',
  500: 'internal',
  503: 'unavailable',
};

/**
 * Classifies a connection-level HTTP status (a refused upgrade, SSE request or poll). A 503 is
 * the hub saying "not now" (broker down, shutting down, at its connection limit): every
 * transport would get it, so it backs off without counting toward fallback.
 * @internal
 */
export function classifyStatus(status: number, body: HttpErrorBody | null): TransportFailure {
  const error = clientError(body?.code ?? STATUS_CODES[status] ?? `http_${status}`, body?.message ?? `HTTP ${status}`);
  if (status === 401) return { kind: 'auth', error };
  if (status === 403) return { kind: 'forbidden', error };
  if (status === 429) return { kind: 'rate_limited', error };
  if (status === 426) return { kind: 'fatal', error };
  if (status === 503) return { kind: 'unavailable', error };
  return { kind: 'network', error };
}

/** Channel-level error codes: they concern one channel, not the connection. @internal */
export const CHANNEL_ERROR_CODES: ReadonlySet<string> = new Set([
  'forbidden',
  'unknown_channel',
  'bad_channel',
  'not_found',
  'too_many_channels',
]);
