/**
 * The expiry of a connection's credentials: one timer per connection whose principal has an
 * `expiresAt`, re-armed when the credentials are refreshed in place.
 * @module
 */

/** setTimeout's largest delay (about 24.8 days); longer waits are made of several timers. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Calls `onExpired` once `expiresAt` has passed (ms since the Unix epoch). @internal */
export class ExpiryTimer {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #expiresAt: number | undefined;
  readonly #onExpired: () => void;

  /** @param onExpired - called once when the current expiry passes */
  constructor(onExpired: () => void) {
    this.#onExpired = onExpired;
  }

  /** Arms the timer for `expiresAt` (replacing any earlier one); undefined disarms it. */
  arm(expiresAt: number | undefined): void {
    this.disarm();
    this.#expiresAt = expiresAt;
    if (expiresAt === undefined) return;
    this.#schedule();
  }

  /** Stops the timer. */
  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#expiresAt = undefined;
  }

  #schedule(): void {
    const expiresAt = this.#expiresAt;
    if (expiresAt === undefined) return;
    const delay = expiresAt - Date.now();
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        // A timer may fire a little early, and long waits are split: check the clock again.
        if (Date.now() < expiresAt) this.#schedule();
        else this.#onExpired();
      },
      Math.min(Math.max(delay, 0), MAX_TIMER_MS),
    );
    this.#timer.unref?.();
  }
}
