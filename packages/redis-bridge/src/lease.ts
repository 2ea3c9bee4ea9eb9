/**
 * A lease on Redis: `SET key token NX PX ttl` to acquire, a compare-and-set script to renew and to
 * release. The holder counts itself as holder only until `renewal start + ttl - margin`, which is
 * never later than the moment Redis expires the key, so two instances never both think they hold it.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { TaskpulseError } from '@taskpulse/protocol';
import { bounded } from './bounded';
import { closeClient, type ErrorHook, openConnection, type RedisConnectionOptions } from './connection';

/** Options of {@link createLease}. */
export interface LeaseOptions extends Omit<RedisConnectionOptions, 'sharded'> {
  /** The Redis key of the lease (used as is, without the prefix). */
  key: string;
  /**
   * How long the lease lives without renewal, in ms: the time another instance waits before it
   * takes over from one that died.
   * @default 10000
   */
  ttlMs?: number;
  /**
   * How often the holder renews, in ms. Must be well below `ttlMs`.
   * @default ttlMs / 3
   */
  renewIntervalMs?: number;
  /**
   * How often a non-holder tries to acquire, in ms.
   * @default ttlMs / 5
   */
  acquireIntervalMs?: number;
  /**
   * Time before the Redis expiry at which the holder stops counting itself as holder, in ms
   * (covers clock-rate differences).
   * @default min(ttlMs / 10, 500)
   */
  safetyMarginMs?: number;
  /** This instance's token. @default 16 random bytes, base64url */
  token?: string;
  /** Called when this instance becomes the holder. */
  onAcquired?: () => void;
  /** Called when this instance stops being the holder (`taken`: another holds it; `expired`: not renewed in time). */
  onLost?: (reason: 'taken' | 'expired') => void;
  /** Called with failed acquire/renew attempts (they are retried). @default ignore */
  onError?: ErrorHook;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

/** A lease held (or wanted) by this instance. */
export interface Lease {
  /** The Redis key. */
  readonly key: string;
  /** This instance's token (the value stored in the key while it holds the lease). */
  readonly token: string;
  /** Whether this instance holds the lease right now (checked against its local deadline). */
  isHeld(): boolean;
  /** Stops renewing and releases the lease if held (compare-and-delete). Idempotent. */
  close(): Promise<void>;
}

const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * Creates a lease and starts competing for it at once.
 *
 * @example
 * ```ts
 * const lease = createLease({ redis, key: 'taskpulse:lease:bridge', ttlMs: 5000,
 *   onAcquired: () => start(), onLost: () => stop() });
 * if (lease.isHeld()) doExclusiveWork();
 * await lease.close();
 * ```
 */
export function createLease(options: LeaseOptions): Lease {
  const connection = openConnection({ ...options, sharded: false });
  const { client } = connection;
  const ttlMs = options.ttlMs ?? 10_000;
  if (!(ttlMs >= 10)) throw new TaskpulseError('bad_request', 'ttlMs must be at least 10');
  const renewIntervalMs = options.renewIntervalMs ?? Math.floor(ttlMs / 3);
  const acquireIntervalMs = options.acquireIntervalMs ?? Math.max(1, Math.floor(ttlMs / 5));
  const margin = options.safetyMarginMs ?? Math.min(Math.floor(ttlMs / 10), 500);
  if (renewIntervalMs >= ttlMs - margin) throw new TaskpulseError('bad_request', 'renewIntervalMs must be below ttlMs');
  const token = options.token ?? randomBytes(16).toString('base64url');
  const now = options.now ?? Date.now;
  const key = options.key;
  // Commands of a lease must answer well within the ttl, or the renewal is useless.
  const timing = { commandTimeoutMs: Math.min(connection.commandTimeoutMs, Math.max(10, ttlMs - margin)) };
  let held = false;
  let validUntil = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let expiryTimer: NodeJS.Timeout | undefined;

  const lose = (reason: 'taken' | 'expired') => {
    if (!held) return;
    held = false;
    clearTimeout(expiryTimer);
    options.onLost?.(reason);
  };

  const armExpiry = () => {
    clearTimeout(expiryTimer);
    expiryTimer = setTimeout(
      () => {
        if (held && now() >= validUntil) lose('expired');
      },
      Math.max(0, validUntil - now()),
    );
    expiryTimer.unref?.();
  };

  const report = (error: unknown) =>
    options.onError?.(TaskpulseError.from(error, 'unavailable'), { source: `lease ${key}` });

  async function tick(): Promise<void> {
    const started = now();
    try {
      if (held) {
        const renewed = await bounded(timing, client, 'lease renew', () => client.eval(RENEW, 1, key, token, ttlMs));
        if (closed) return;
        if (Number(renewed) === 1) {
          validUntil = started + ttlMs - margin;
          armExpiry();
        } else {
          lose('taken');
        }
      } else {
        const set = await bounded(timing, client, 'lease acquire', () => client.set(key, token, 'PX', ttlMs, 'NX'));
        if (closed) {
          // Acquired while closing: give it back at once.
          if (set === 'OK') await client.eval(RELEASE, 1, key, token).catch(() => {});
          return;
        }
        if (set === 'OK') {
          held = true;
          validUntil = started + ttlMs - margin;
          armExpiry();
          options.onAcquired?.();
        }
      }
    } catch (error) {
      report(error);
      if (held && now() >= validUntil) lose('expired');
    }
  }

  const schedule = (delayMs: number) => {
    if (closed) return;
    timer = setTimeout(() => {
      tick().finally(() => schedule(held ? renewIntervalMs : acquireIntervalMs));
    }, delayMs);
    timer.unref?.();
  };
  schedule(0);

  return {
    key,
    token,
    isHeld: () => held && !closed && now() < validUntil,
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      clearTimeout(expiryTimer);
      if (held) {
        held = false;
        try {
          await bounded(timing, client, 'lease release', () => client.eval(RELEASE, 1, key, token));
        } catch (error) {
          report(error); // it expires by itself after ttlMs
        }
      }
      if (connection.owned) await closeClient(client);
    },
  };
}
