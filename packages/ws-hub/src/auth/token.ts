/**
 * Where a bearer token travels on a request. Browsers cannot set headers on a WebSocket or an
 * EventSource, so besides `Authorization: Bearer` the token may come in the query string or a
 * cookie.
 * @module
 */
import type { ConnectionRequest } from '../core/codec';

/**
 * What {@link extractToken} reads of a request: its target and headers. A {@link ConnectionRequest}
 * and Node's `IncomingMessage` both are one.
 */
export interface TokenRequest {
  /** The request headers (`authorization`, `cookie`…). */
  readonly headers: ConnectionRequest['headers'];
  /** The request target, path and query string (the `token` query parameter is read from it). */
  readonly url?: string | undefined;
}

/** A place a token may be read from. */
export type TokenSource = 'header' | 'query' | 'cookie';

/** Options of {@link extractToken}. */
export interface ExtractTokenOptions {
  /**
   * Where to look, in order; the first token found wins.
   * @default ['header', 'query', 'cookie']
   */
  tokenFrom?: readonly TokenSource[];
  /**
   * Query parameter carrying the token.
   * @default 'token'
   */
  queryParam?: string;
  /**
   * Cookie carrying the token.
   * @default 'taskpulse_token'
   */
  cookieName?: string;
}

const DEFAULT_SOURCES: readonly TokenSource[] = ['header', 'query', 'cookie'];

function fromHeader(request: TokenRequest): string | undefined {
  const value = request.headers.authorization;
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}

function fromQuery(request: TokenRequest, name: string): string | undefined {
  const url = request.url ?? '';
  const q = url.indexOf('?');
  if (q === -1) return undefined;
  const value = new URLSearchParams(url.slice(q + 1)).get(name);
  return value === null || value === '' ? undefined : value;
}

function fromCookie(request: TokenRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const raw = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(raw) || undefined;
    } catch {
      return raw || undefined;
    }
  }
  return undefined;
}

/**
 * Returns the bearer token of a request, or undefined when none is present.
 *
 * @example
 * ```ts
 * extractToken(request, { tokenFrom: ['cookie'], cookieName: 'session' });
 * ```
 */
export function extractToken(request: TokenRequest, options: ExtractTokenOptions = {}): string | undefined {
  for (const source of options.tokenFrom ?? DEFAULT_SOURCES) {
    const token =
      source === 'header'
        ? fromHeader(request)
        : source === 'query'
          ? fromQuery(request, options.queryParam ?? 'token')
          : fromCookie(request, options.cookieName ?? 'taskpulse_token');
    if (token !== undefined) return token;
  }
  return undefined;
}
