/** Backoff arithmetic and jitter (pure), and the poll schedule's stretching and visibility rules. */
import { describe, expect, it } from 'vitest';
import { Backoff, backoffDelayMs, DEFAULT_BACKOFF } from '../src/backoff';
import { DEFAULT_POLLING } from '../src/options';
import { PollSchedule } from '../src/transports/poll-schedule';

describe('backoff', () => {
  const none = { ...DEFAULT_BACKOFF, jitter: 'none' as const };

  it('doubles from 1 s to the 30 s cap (seed 000)', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((n) => backoffDelayMs(n, none))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
  });

  it('draws full jitter uniformly in [0, ceiling]', () => {
    expect(backoffDelayMs(2, DEFAULT_BACKOFF, () => 0)).toBe(0);
    expect(backoffDelayMs(2, DEFAULT_BACKOFF, () => 0.5)).toBe(2000);
    expect(backoffDelayMs(2, DEFAULT_BACKOFF, () => 0.999_999)).toBe(3999);
    expect(backoffDelayMs(9, DEFAULT_BACKOFF, () => 0.5)).toBe(15000);
    const seen = new Set<number>();
    let seed = 7;
    const lcg = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 200; i++) {
      const d = backoffDelayMs(3, DEFAULT_BACKOFF, lcg);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(8000);
      seen.add(Math.floor(d / 1000));
    }
    expect(seen.size).toBe(8); // spread over every second of the window
  });

  it('counts attempts, resets, and is exhausted after maxAttempts', () => {
    const b = new Backoff({ ...none, maxAttempts: 3 });
    expect([b.next(), b.next()]).toEqual([1000, 2000]);
    expect(b.exhausted).toBe(false);
    b.next();
    expect(b.exhausted).toBe(true);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(1000);
  });
});

describe('poll schedule', () => {
  const options = { ...DEFAULT_POLLING, intervals: { monitoring: 5000, capacity: 30_000, 'signals:a': 10_000 } };

  it('takes the channel entry, then the namespace entry, then the base interval', () => {
    const s = new PollSchedule(options);
    expect(s.baseIntervalMs('monitoring:cpu')).toBe(5000);
    expect(s.baseIntervalMs('capacity')).toBe(30_000);
    expect(s.baseIntervalMs('signals:a')).toBe(10_000);
    expect(s.baseIntervalMs('signals:b')).toBe(5000);
  });

  it('polls new channels at once and batches channels due within a quarter interval', () => {
    const s = new PollSchedule(options);
    s.sync(['monitoring', 'capacity'], 0);
    expect(s.due(0)).toEqual(['monitoring', 'capacity']);
    s.polled('monitoring', true, 0);
    s.polled('capacity', true, 0);
    expect(s.due(3000)).toEqual([]);
    expect(s.due(3750)).toEqual(['monitoring']); // 5000 − 5000/4
    expect(s.nextDueAt()).toBe(5000);
  });

  it('stretches while nothing changes, snaps back on data, and caps at maxIntervalMs', () => {
    const s = new PollSchedule({ ...options, maxIntervalMs: 12_000 });
    s.sync(['monitoring'], 0);
    const intervals: (number | null)[] = [];
    for (let i = 0; i < 5; i++) {
      s.polled('monitoring', false, 0);
      intervals.push(s.intervalMs());
    }
    expect(intervals).toEqual([7500, 11250, 12000, 12000, 12000]);
    s.polled('monitoring', true, 0);
    expect(s.intervalMs()).toBe(5000);
  });

  it('polls twice as slowly while hidden, or pauses, and catches up when visible', () => {
    const slow = new PollSchedule(options);
    slow.sync(['monitoring'], 0);
    slow.polled('monitoring', true, 0);
    slow.hidden = true;
    expect(slow.intervalMs()).toBe(10_000);
    slow.polled('monitoring', true, 1000);
    expect(slow.nextDueAt()).toBe(11_000);
    slow.hidden = false;
    slow.dueNow(2000);
    expect(slow.due(2000)).toEqual(['monitoring']);

    const pause = new PollSchedule({ ...options, whenHidden: 'pause' });
    pause.hidden = true;
    expect(pause.paused).toBe(true);
  });
});
