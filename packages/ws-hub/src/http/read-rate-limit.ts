/**
 * Rate limit of HTTP reads (history, state, polls): a token bucket per client — the user id when
 * authenticated, else the remote address. Over the limit a read is answered 429 `rate_limited`
 * with `Retry-After`.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { TaskpulseError } from '@taskpulse/protocol';
import type { Principal } from '../core/principal';

/** Settings of the read rate limit (`HttpOptions.readRateLimit`). */
export interface ReadRateLimit {
  /**
   * Sustained reads per second per client.
   * @default 50
   */
  perSecond?: number;
  /**
   * Reads a client may make at once above the rate.
   * @default 100
   */
  burst?: number;
  /**
   * Which client a read counts against. Anonymous clients are told apart by the TCP peer
   * address, so every client behind one NAT, and every client of a hub behind a reverse proxy,
   * shares one budget: behind a proxy you trust, key on the address it forwards, e.g.
   * `(request, principal) => principal.userId ?? String(request.headers['x-real-ip'])`.
   * @default the user id when authenticated, else the remote address
   */
  clientKey?: (request: IncomingMessage, principal: Principal) => string;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Most clients tracked at once; the oldest entries go first beyond it (memory stays bounded). */
const MAX_TRACKED = 100_000;

/** Per-client token buckets. @internal */
export class ReadRateLimiter {
  readonly #perSecond: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #onReject: () => void;
  readonly #clientKey: ((request: IncomingMessage, principal: Principal) => string) | undefined;

  constructor(settings: ReadRateLimit, onReject: () => void) {
    this.#perSecond = settings.perSecond ?? 50;
    this.#burst = settings.burst ?? 100;
    if (!(this.#perSecond > 0) || !(this.#burst >= 1)) {
      throw new TypeError('http.readRateLimit: perSecond must be > 0 and burst >= 1');
    }
    this.#onReject = onReject;
    if (settings.clientKey !== undefined && typeof settings.clientKey !== 'function') {
      throw new TypeError('http.readRateLimit.clientKey must be a function');
    }
    this.#clientKey = settings.clientKey;
  }

  /** Takes one read from the client's budget; throws `rate_limited` (429, `Retry-After`) when empty. */
  take(request: IncomingMessage, principal: Principal): void {
    const key = this.#clientKey
      ? `k:${this.#clientKey(request, principal)}`
      : principal.userId !== undefined
        ? `u:${principal.userId}`
        : `a:${request.socket.remoteAddress ?? '?'}`;
    const now = Date.now();
    let bucket = this.#buckets.get(key);
    if (bucket) {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) * this.#perSecond) / 1000);
      bucket.at = now;
      // Refresh its place: the map's order is least recently used first.
      this.#buckets.delete(key);
    } else {
      bucket = { tokens: this.#burst, at: now };
      if (this.#buckets.size >= MAX_TRACKED) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return;
    }
    this.#onReject();
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perSecond));
    throw new TaskpulseError('rate_limited', `too many reads; at most ${this.#perSecond} per second`, {
      details: { status: 429, retryAfterSeconds },
    });
  }
}
