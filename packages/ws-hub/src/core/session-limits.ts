/**
 * A session's frame budget and abuse counters: a token bucket of `limits.frameBurst` refilled at
 * `limits.maxFramesPerSecond`, and counts of invalid frames and rate violations over a rolling
 * window, so a client that misbehaves now and then (a burst, one bad frame an hour) is answered
 * with error frames but never accumulates its way to a close.
 * @module
 */
import type { HubLimits } from './options';

/** Invalid frames and rate-limit violations are counted over windows of this length, in ms. */
const ABUSE_WINDOW_MS = 60_000;

/** One session's rate budget and abuse counters. @internal */
export class FrameBudget {
  #tokens: number;
  #tokensAt: number;
  #invalidFrames = 0;
  #rateViolations = 0;
  #abuseWindowStart = 0;

  /** @param frameBurst - the bucket's size (full at the start) */
  constructor(frameBurst: number, now: number) {
    this.#tokens = frameBurst;
    this.#tokensAt = now;
  }

  /** Takes one frame from the bucket; false when it is empty. */
  take(limits: Readonly<HubLimits>, now: number): boolean {
    const { maxFramesPerSecond, frameBurst } = limits;
    this.#tokens = Math.min(frameBurst, this.#tokens + ((now - this.#tokensAt) * maxFramesPerSecond) / 1000);
    this.#tokensAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Counts a rate violation; returns the violations of the current window. */
  rateViolation(now: number): number {
    this.#roll(now);
    return ++this.#rateViolations;
  }

  /** Counts an invalid frame; returns the invalid frames of the current window. */
  invalidFrame(now: number): number {
    this.#roll(now);
    return ++this.#invalidFrames;
  }

  #roll(now: number): void {
    if (now - this.#abuseWindowStart >= ABUSE_WINDOW_MS) {
      this.#abuseWindowStart = now;
      this.#invalidFrames = 0;
      this.#rateViolations = 0;
    }
  }
}
