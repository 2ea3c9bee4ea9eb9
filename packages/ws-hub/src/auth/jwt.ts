/**
 * JWT authentication with `jose`: a ready {@link AuthenticateFn} for the hub.
 * @module
 */
import type { KeyObject, webcrypto } from 'node:crypto';
import { TaskpulseError } from '@taskpulse/protocol';
import type { JWTPayload, JWTVerifyGetKey, JWTVerifyOptions } from 'jose';
import type { ConnectionRequest } from '../core/codec';
import type { AuthenticateFn, VerifyTokenFn } from '../core/options';
import type { Principal } from '../core/principal';
import { type ExtractTokenOptions, extractToken } from './token';

/** Options of {@link createJwtAuthenticator}. Give exactly one of `secret`, `publicKey`, `jwksUrl`. */
export interface JwtAuthenticatorOptions extends ExtractTokenOptions {
  /** Shared secret for HMAC tokens (HS256/384/512). */
  secret?: string | Uint8Array;
  /** Public key for RSA/EC/EdDSA tokens: a PEM (SPKI) string, a `KeyObject` or a `CryptoKey`. */
  // `webcrypto.CryptoKey` from node:crypto, not jose's: the CommonJS type definitions must not
  // import from the ESM-only jose (TS1479 under `module: node16`).
  publicKey?: string | KeyObject | webcrypto.CryptoKey;
  /** URL of a JSON Web Key Set (keys are fetched and cached by `jose`). */
  jwksUrl?: string | URL;
  /** Required `iss` claim. */
  issuer?: string | string[];
  /** Required `aud` claim. */
  audience?: string | string[];
  /**
   * Accepted algorithms.
   * @default ['HS256', 'HS384', 'HS512'] with `secret`; `['RS256']` to import a PEM `publicKey`;
   * otherwise what the key allows
   */
  algorithms?: string[];
  /**
   * Claim holding the user id.
   * @default 'sub'
   */
  userIdClaim?: string;
  /**
   * Claim holding the project ids (an array, or a comma-separated string).
   * @default 'projects'
   */
  projectIdsClaim?: string;
  /**
   * Accept requests without a token as anonymous (a token that is present must still be valid).
   * @default false
   */
  optional?: boolean;
  /**
   * Tolerated clock skew for `exp`/`nbf`, in ms. A connection is closed with 4401 this long after
   * its token's `exp`.
   * @default 5000
   */
  clockToleranceMs?: number;
  /**
   * Refuse tokens without an `exp` claim (401 `token has no exp claim`). With `false`, such a
   * token is accepted and its connection never expires by itself (it lives until it closes).
   * @default true
   */
  requireExpiry?: boolean;
}

/**
 * The authenticator of {@link createJwtAuthenticator}: an {@link AuthenticateFn} for requests,
 * plus {@link JwtAuthenticator.verifyToken} for refresh in place.
 */
export interface JwtAuthenticator extends AuthenticateFn {
  /**
   * Verifies a token (the same checks as for a request) and returns its principal; throws
   * `unauthorized`. Pass it as the hub's `verifyToken` option to let clients refresh their
   * credentials on a live connection (`refresh` frame).
   */
  verifyToken: VerifyTokenFn;
}

type Jose = typeof import('jose');

// jose 6 is ESM-only; importing it lazily keeps the CommonJS build of the hub loadable on every
// Node version the package supports, and costs nothing for hubs that do not use JWT.
let josePromise: Promise<Jose> | undefined;
function loadJose(): Promise<Jose> {
  josePromise ??= import('jose');
  return josePromise;
}

function asIdList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) {
    return value.filter((v) => typeof v === 'string' || typeof v === 'number').map(String);
  }
  if (typeof value === 'string') {
    return value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  if (typeof value === 'number') return [String(value)];
  return undefined;
}

/** Turns a verified payload into a principal; it expires `toleranceMs` after `exp`. */
function principalOf(
  payload: JWTPayload,
  userIdClaim: string,
  projectIdsClaim: string,
  toleranceMs: number,
): Principal {
  const user = payload[userIdClaim];
  const projectIds = asIdList(payload[projectIdsClaim]);
  return {
    ...(typeof user === 'string' || typeof user === 'number' ? { userId: String(user) } : {}),
    ...(projectIds ? { projectIds } : {}),
    ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp * 1000 + toleranceMs } : {}),
    claims: payload as Record<string, unknown>,
  };
}

function toTaskpulseError(error: unknown, remoteKeys: boolean): TaskpulseError {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_JWT_EXPIRED') return new TaskpulseError('unauthorized', 'token expired', { cause: error });
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && (error as { claim?: unknown }).claim === 'exp') {
    return new TaskpulseError('unauthorized', 'token has no exp claim', { cause: error });
  }
  // The key set could not be fetched (timeout, network, not a 200): not the client's fault.
  if (code === 'ERR_JWKS_TIMEOUT' || (remoteKeys && (code === 'ERR_JOSE_GENERIC' || typeof code !== 'string'))) {
    return new TaskpulseError('unavailable', 'the key set is unreachable', { cause: error });
  }
  if (typeof code === 'string' && code.startsWith('ERR_J')) {
    return new TaskpulseError('unauthorized', `invalid token: ${(error as Error).message}`, { cause: error });
  }
  // Not a jose error code: jose throws a plain TypeError for a token whose `alg` does not fit the
  // key (an HS256 token against an RSA key), which is the token's fault.
  return new TaskpulseError('unauthorized', 'invalid token', { cause: error });
}

/**
 * Creates an authenticator that verifies a JWT from the `Authorization: Bearer` header, the
 * `token` query parameter or the `taskpulse_token` cookie. The principal carries the user id
 * (`sub`) and the project ids (`projects`) of the token. Missing, invalid or expired tokens throw
 * `unauthorized` (HTTP 401 before the upgrade); a key that cannot be loaded (a bad PEM, an
 * unsupported algorithm) throws `internal`, since no client can fix it.
 *
 * @example
 * ```ts
 * const hub = createHub({
 *   server,
 *   authenticate: createJwtAuthenticator({ secret: process.env.TASKPULSE_JWT_SECRET!, issuer: 'my-app' }),
 * });
 * ```
 */
export function createJwtAuthenticator(options: JwtAuthenticatorOptions): JwtAuthenticator {
  const given = [options.secret, options.publicKey, options.jwksUrl].filter((k) => k !== undefined).length;
  if (given !== 1) {
    throw new TaskpulseError('bad_request', 'createJwtAuthenticator needs exactly one of secret, publicKey, jwksUrl');
  }
  const userIdClaim = options.userIdClaim ?? 'sub';
  const projectIdsClaim = options.projectIdsClaim ?? 'projects';
  const toleranceMs = options.clockToleranceMs ?? 5000;
  const verifyOptions: JWTVerifyOptions = {
    clockTolerance: Math.round(toleranceMs / 1000),
    ...(options.requireExpiry === false ? {} : { requiredClaims: ['exp'] }),
    ...(options.issuer !== undefined ? { issuer: options.issuer } : {}),
    ...(options.audience !== undefined ? { audience: options.audience } : {}),
  };
  const algorithms = options.algorithms ?? (options.secret !== undefined ? ['HS256', 'HS384', 'HS512'] : undefined);
  if (algorithms) verifyOptions.algorithms = algorithms;

  let keyPromise: Promise<Uint8Array | KeyObject | webcrypto.CryptoKey | JWTVerifyGetKey> | undefined;
  const key = () => {
    keyPromise ??= (async () => {
      const jose = await loadJose();
      if (options.secret !== undefined) {
        return typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
      }
      if (options.jwksUrl !== undefined) return jose.createRemoteJWKSet(new URL(options.jwksUrl));
      const publicKey = options.publicKey as string | KeyObject | webcrypto.CryptoKey;
      if (typeof publicKey === 'string') return jose.importSPKI(publicKey, algorithms?.[0] ?? 'RS256');
      return publicKey;
    })();
    // A key that failed to import must not poison every later request.
    keyPromise.catch(() => {
      keyPromise = undefined;
    });
    return keyPromise;
  };

  const verifyToken = async (token: string): Promise<Principal> => {
    let jose: Jose;
    let verifyKey: Awaited<ReturnType<typeof key>>;
    try {
      [jose, verifyKey] = await Promise.all([loadJose(), key()]);
    } catch (error) {
      // The server's configuration (a bad PEM, an unknown algorithm, jose not loadable), not the
      // client's token: a 500 that operators notice, not a 401 for every client.
      throw new TaskpulseError('internal', 'the JWT verification key could not be loaded', { cause: error });
    }
    try {
      const { payload } = await jose.jwtVerify(token, verifyKey as Parameters<Jose['jwtVerify']>[1], verifyOptions);
      return principalOf(payload, userIdClaim, projectIdsClaim, toleranceMs);
    } catch (error) {
      throw toTaskpulseError(error, options.jwksUrl !== undefined);
    }
  };

  const authenticate = async (request: ConnectionRequest): Promise<Principal | null> => {
    const token = extractToken(request, options);
    if (token === undefined) {
      if (options.optional) return null;
      throw new TaskpulseError('unauthorized', 'no token');
    }
    return verifyToken(token);
  };
  return Object.assign(authenticate, { verifyToken });
}
