/**
 * The operations credential on every transport: the ops API key (`X-API-Key`, as `/stats` and
 * `/metrics` take it) or the dashboard's session cookie, which a browser sends by itself on the
 * WebSocket upgrade, on SSE, polls and reads. Requests that carry it get one shared principal,
 * the only one allowed to subscribe to and read the system channels.
 *
 * The cookie rides along on every request of its origin, the application's own ones included
 * when the application is served from the hub's origin. On the hub's endpoints it therefore
 * counts only when the request also presents {@link OPS_SESSION_TOKEN} as its token (the dashboard
 * page does): any other request keeps the application's own authentication.
 * @module
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { OPS_SESSION_TOKEN } from '@taskpulse/protocol';
import { extractToken, type TokenRequest } from '../auth/token';
import type { Principal } from '../core/principal';

/** Name of the dashboard's session cookie. */
export const OPS_COOKIE = 'taskpulse_ops';

// One frozen principal for every request with the credential; recognised by identity, so no
// authentication hook can forge it.
const OPS_PRINCIPAL: Principal = Object.freeze({ claims: Object.freeze({ taskpulse: 'operations' }) });

/** Whether a principal is the operations principal (the credential was presented). */
export function isOpsPrincipal(principal: Principal): boolean {
  return principal === OPS_PRINCIPAL;
}

const digest = (value: string) => createHash('sha256').update(value).digest();
const TOKEN_RE = /^v1\.(\d{13,16})\.([A-Za-z0-9_-]{43})$/;

function mac(key: string, expiresAt: number): string {
  return createHmac('sha256', key).update(`taskpulse-ops-session.v1.${expiresAt}`).digest('base64url');
}

function cookieValue(request: TokenRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

/**
 * Whether a request comes from the hub's own origin: no `Origin` header (same-origin GETs carry
 * none) or one naming the request's host. A cookie is only taken from there: a page on a sibling
 * subdomain is "same-site", so `SameSite` alone would not stop it.
 * @internal
 */
export function sameOrigin(request: TokenRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (typeof origin !== 'string') return false;
  const host = hostOf(origin);
  if (host === undefined) return false;
  const forwarded = request.headers['x-forwarded-host'];
  const hosts = [request.headers.host, ...(typeof forwarded === 'string' ? forwarded.split(',') : [])];
  return hosts.some((h) => typeof h === 'string' && h.trim().toLowerCase() === host.toLowerCase());
}

/** The operations credential: checks keys, issues and verifies session cookies. */
export interface OpsCredential {
  /** Whether `key` is one of the ops API keys (compared in constant time). */
  verifyKey(key: string): boolean;
  /**
   * The operations principal when the request carries a valid ops key in `X-API-Key`, or a valid
   * session cookie from its own origin together with {@link OPS_SESSION_TOKEN} as its token; null
   * otherwise (the request goes on to the hub's own authentication).
   */
  principalFor(request: TokenRequest): Principal | null;
  /**
   * Whether the request carries the ops key or a valid session cookie from its own origin (the
   * dashboard's own paths: the page and its files are loaded by the browser, without a token).
   */
  hasCredential(request: TokenRequest): boolean;
  /** A new session token, valid for `sessionTtlMs` from `now`. */
  issueToken(now?: number): string;
  /** Whether a session token is valid at `now` (signature, expiry). */
  verifyToken(token: string, now?: number): boolean;
}

/** Options of {@link createOpsCredential}. */
export interface OpsCredentialOptions {
  /** The ops API keys (at least one). */
  apiKeys: readonly string[];
  /** How long a session cookie is valid, in ms. */
  sessionTtlMs: number;
  /** The clock, in ms since the Unix epoch. @default Date.now */
  now?: () => number;
}

/**
 * Creates the operations credential. Session tokens are `v1.<expiry>.<HMAC-SHA256(key, expiry)>`:
 * they never contain the key, expire by themselves, and every node with the same ops keys accepts
 * them (a dashboard that reconnects to another node stays logged in). Removing a key from the
 * hub's options revokes the sessions made with it.
 * @internal
 */
export function createOpsCredential(options: OpsCredentialOptions): OpsCredential {
  const keys = [...options.apiKeys];
  const digests = keys.map(digest);
  const now = options.now ?? Date.now;

  const verifyKey = (key: string): boolean => {
    const d = digest(key);
    let ok = false;
    for (const k of digests) if (timingSafeEqual(d, k)) ok = true;
    return ok;
  };

  const verifyToken = (token: string, at = now()): boolean => {
    const match = TOKEN_RE.exec(token);
    if (!match) return false;
    const expiresAt = Number(match[1]);
    if (!(expiresAt > at)) return false;
    const given = Buffer.from(match[2] as string);
    let ok = false;
    for (const key of keys) {
      const expected = Buffer.from(mac(key, expiresAt));
      if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true;
    }
    return ok;
  };

  const hasKey = (request: TokenRequest): boolean => {
    const key = request.headers['x-api-key'];
    return typeof key === 'string' && key !== '' && verifyKey(key);
  };
  const hasSession = (request: TokenRequest): boolean => {
    const token = cookieValue(request, OPS_COOKIE);
    return token !== undefined && sameOrigin(request) && verifyToken(token);
  };

  return {
    verifyKey,
    verifyToken,
    issueToken(at = now()) {
      const expiresAt = at + options.sessionTtlMs;
      return `v1.${expiresAt}.${mac(keys[0] as string, expiresAt)}`;
    },
    principalFor(request) {
      if (hasKey(request)) return OPS_PRINCIPAL;
      // The cookie alone may be the application's request on the same origin: not ours.
      if (extractToken(request, { tokenFrom: ['header', 'query'] }) !== OPS_SESSION_TOKEN) return null;
      return hasSession(request) ? OPS_PRINCIPAL : null;
    },
    hasCredential: (request) => hasKey(request) || hasSession(request),
  };
}
