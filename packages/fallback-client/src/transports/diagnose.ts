/**
 * Why did a WebSocket or EventSource fail before it opened? Browsers hide the HTTP status of a
 * refused upgrade or SSE request, so the client asks the hub once over plain HTTP (a poll of the
 * same channels, no wait): 401 means "refresh the token", 403/404 with a channel means "that
 * channel is refused", 503 means "the broker is down" — none of which is a reason to fall back.
 * A successful answer means HTTP works but the transport does not: a real network failure. When
 * HTTP fails too, the hub is unreachable: not a reason to fall back either.
 * @module
 */
import { CHANNEL_ERROR_CODES, classifyStatus, clientError, readErrorBody, type TransportFailure } from '../errors';
import type { TransportHost } from './transport';

/** The diagnosis: a failure, a refused channel, or null (HTTP fine: the transport itself is blocked). @internal */
export type Diagnosis =
  | { failure: TransportFailure; channel?: undefined }
  | { channel: string; code: string; message: string; failure?: undefined }
  | null;

/** Headers with the bearer token. @internal */
export function authHeaders(token: string | null): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/**
 * A GET `RequestInit`: bearer token, credentials mode, and `cache: 'no-store'` (the client does
 * its own ETag handling; a browser cache must not answer for the hub).
 * @internal
 */
export function getInit(
  token: string | null,
  withCredentials: boolean,
  extra: { headers?: Record<string, string>; signal?: AbortSignal } = {},
): RequestInit {
  return {
    headers: { ...authHeaders(token), ...extra.headers },
    credentials: withCredentials ? 'include' : 'same-origin',
    cache: 'no-store',
    ...(extra.signal ? { signal: extra.signal } : {}),
  } as RequestInit;
}

/** Classifies an HTTP status + body into a diagnosis. @internal */
export async function diagnoseResponse(host: TransportHost, response: Response): Promise<Diagnosis> {
  if (response.ok || response.status === 304) return null;
  const body = await readErrorBody(response);
  if (body && CHANNEL_ERROR_CODES.has(body.code) && response.status !== 401) {
    const channel = body.channel ?? host.registry.channelIn(body.message);
    if (channel !== undefined) return { channel, code: body.code, message: body.message };
  }
  return { failure: classifyStatus(response.status, body) };
}

/**
 * Asks the hub over HTTP. When HTTP fails too the hub itself is unreachable (down, restarting, no
 * network): an `unreachable` failure, which backs off on the same transport instead of counting
 * toward fallback — otherwise every client would end up polling after a hub restart. @internal
 */
export async function diagnose(host: TransportHost, token: string | null, signal?: AbortSignal): Promise<Diagnosis> {
  const params = new URLSearchParams();
  for (const name of host.registry.wantedNames()) params.append('channel', name);
  params.set('limit', '1');
  try {
    const response = await host.platform.fetch(
      `${host.options.httpBase}/poll?${params}`,
      getInit(token, host.options.withCredentials, signal ? { signal } : {}),
    );
    return await diagnoseResponse(host, response);
  } catch (cause) {
    return { failure: { kind: 'unreachable', error: clientError('network', 'the hub is unreachable', cause) } };
  }
}
