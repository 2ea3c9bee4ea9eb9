/**
 * When each channel is polled next (seed 004): an interval per channel or namespace, stretched
 * while nothing changes and snapped back on new data, slowed or paused while the page is hidden.
 * Channels that are due at about the same time share one batched request.
 * @module
 */
import { namespaceOf } from '../channels/channel-name';
import type { PollingOptions } from '../types';

interface Slot {
  baseMs: number;
  currentMs: number;
  dueAt: number;
}

/** @internal */
export class PollSchedule {
  readonly #slots = new Map<string, Slot>();
  readonly #options: Required<Omit<PollingOptions, 'userIntervalMs'>>;
  hidden = false;

  constructor(options: Required<Omit<PollingOptions, 'userIntervalMs'>>) {
    this.#options = options;
  }

  /** The configured interval of a channel: its own entry, its namespace's, or the base. */
  baseIntervalMs(channel: string): number {
    const intervals = this.#options.intervals;
    return intervals[channel] ?? intervals[namespaceOf(channel)] ?? this.#options.intervalMs;
  }

  /** Keeps the slots in step with the wanted channels; new channels are due at once. */
  sync(channels: readonly string[], now: number): void {
    const wanted = new Set(channels);
    for (const channel of this.#slots.keys()) if (!wanted.has(channel)) this.#slots.delete(channel);
    for (const channel of channels) {
      if (this.#slots.has(channel)) continue;
      const baseMs = this.baseIntervalMs(channel);
      this.#slots.set(channel, { baseMs, currentMs: baseMs, dueAt: now });
    }
  }

  #effective(slot: Slot): number {
    return this.hidden && this.#options.whenHidden === 'slow'
      ? slot.currentMs * this.#options.hiddenMultiplier
      : slot.currentMs;
  }

  /** True while polling is paused (hidden page with `whenHidden: 'pause'`). */
  get paused(): boolean {
    return this.hidden && this.#options.whenHidden === 'pause';
  }

  /**
   * Channels to poll now: those due, plus those due within a quarter of their interval (so
   * channels with close schedules share a request).
   */
  due(now: number): string[] {
    const out: string[] = [];
    for (const [channel, slot] of this.#slots) {
      if (slot.dueAt <= now + this.#effective(slot) / 4) out.push(channel);
    }
    return out;
  }

  /** When the next channel is due (undefined: no channel). */
  nextDueAt(): number | undefined {
    let next: number | undefined;
    for (const slot of this.#slots.values()) if (next === undefined || slot.dueAt < next) next = slot.dueAt;
    return next;
  }

  /** After a poll of `channel`: snap back on news, stretch otherwise; `again` polls it at once. */
  polled(channel: string, changed: boolean, now: number, again = false): void {
    const slot = this.#slots.get(channel);
    if (!slot) return;
    if (changed) slot.currentMs = slot.baseMs;
    else
      slot.currentMs = Math.min(
        Math.max(slot.baseMs, this.#options.maxIntervalMs),
        slot.currentMs * this.#options.idleBackoffFactor,
      );
    slot.dueAt = again ? now : now + this.#effective(slot);
  }

  /** Everything due now (the page became visible, the browser came online). */
  dueNow(now: number): void {
    for (const slot of this.#slots.values()) slot.dueAt = Math.min(slot.dueAt, now);
  }

  /** The shortest effective interval (for the status), or null without channels. */
  intervalMs(): number | null {
    let min: number | null = null;
    for (const slot of this.#slots.values()) {
      const ms = this.#effective(slot);
      if (min === null || ms < min) min = ms;
    }
    return min;
  }
}
