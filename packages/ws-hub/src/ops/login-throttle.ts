/**
 * Failed dashboard logins, counted per client address: guessing keys stays slow, and someone
 * posting wrong keys from one address cannot lock the operators out from theirs.
 * @module
 */

/** A per-address budget of failed logins per window. @internal */
export interface LoginThrottle {
  /** Whether `address` has used up its failures for the current window. */
  blocked(address: string, now: number): boolean;
  /** Counts a failed login from `address`. */
  fail(address: string, now: number): void;
}

/** Addresses tracked at most; beyond, new addresses share one budget (memory stays bounded). */
const MAX_ADDRESSES = 10_000;
const SHARED = '*';

/**
 * Creates a throttle allowing `maxFailures` failed logins per address per `windowMs`.
 * @internal
 */
export function createLoginThrottle(maxFailures: number, windowMs: number): LoginThrottle {
  const windows = new Map<string, { start: number; failures: number }>();

  const keyFor = (address: string, now: number): string => {
    if (windows.has(address) || windows.size < MAX_ADDRESSES) return address;
    for (const [key, w] of windows) if (now - w.start > windowMs) windows.delete(key);
    return windows.size < MAX_ADDRESSES ? address : SHARED;
  };
  const current = (address: string, now: number) => {
    const key = keyFor(address, now);
    let w = windows.get(key);
    if (!w || now - w.start > windowMs) {
      w = { start: now, failures: 0 };
      windows.set(key, w);
    }
    return w;
  };

  return {
    blocked: (address, now) => current(address, now).failures >= maxFailures,
    fail(address, now) {
      current(address, now).failures++;
    },
  };
}
