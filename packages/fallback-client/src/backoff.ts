/**
 * Reconnect delays: exponential growth with full jitter (seed 000: 1 s → 2 s → 4 s … capped at
 * 30 s). The attempt count resets only when a connection has stayed healthy for `healthyAfterMs`
 * (the connection manager decides that), so a server that accepts and closes at once cannot pull
 * every client into a tight reconnect loop.
 * @module
 */
import type { BackoffOptions } from './types';

/** Backoff options with every default applied. @internal */
export type ResolvedBackoff = Required<BackoffOptions>;

/** The defaults of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF: Readonly<Required<BackoffOptions>> = Object.freeze({
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 'full',
  healthyAfterMs: 10_000,
  maxAttempts: Number.POSITIVE_INFINITY,
});

/**
 * The delay before attempt `attempt` (0 for the first retry): `min(max, initial × multiplier^attempt)`,
 * or a uniformly random value in `[0, that]` with full jitter.
 *
 * @example
 * ```ts
 * backoffDelayMs(3, { ...DEFAULT_BACKOFF, jitter: 'none' }); // 8000
 * ```
 */
export function backoffDelayMs(
  attempt: number,
  options: Required<BackoffOptions>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** Math.max(0, attempt));
  return options.jitter === 'full' ? Math.floor(random() * ceiling) : ceiling;
}

/** Counts consecutive failed attempts and hands out their delays. @internal */
export class Backoff {
  #attempt = 0;
  readonly #options: ResolvedBackoff;
  readonly #random: () => number;

  constructor(options: ResolvedBackoff, random: () => number = Math.random) {
    this.#options = options;
    this.#random = random;
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** True once `maxAttempts` failures in a row happened. */
  get exhausted(): boolean {
    return this.#attempt >= this.#options.maxAttempts;
  }

  /** The delay before the next attempt; counts one more failure. */
  next(): number {
    const delay = backoffDelayMs(this.#attempt, this.#options, this.#random);
    this.#attempt++;
    return delay;
  }

  /** Back to the first delay (after a healthy connection, an `online` event, a manual retry). */
  reset(): void {
    this.#attempt = 0;
  }
}
