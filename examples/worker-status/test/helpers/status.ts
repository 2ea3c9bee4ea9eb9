/**
 * Reading the nine fields off the pages, and watching what the worker publishes.
 */
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';

/** Seed 000's fields, in the seed's order. */
export const SEED_FIELDS = [
  'running',
  'workers',
  'queue_pending',
  'queue_retry',
  'queue_dead',
  'processed_total',
  'processed_today',
  'speed',
  'last_error',
] as const;

/** A status as the Vue page shows it (text per field; `last_error` null shows as `none`). */
export type ShownStatus = Record<(typeof SEED_FIELDS)[number], string>;

/** How the Vue page shows a published status. */
export function shown(status: Record<string, unknown>): ShownStatus {
  const out = {} as ShownStatus;
  for (const f of SEED_FIELDS) {
    const v = status[f];
    out[f] = f === 'last_error' ? String(v ?? 'none') : String(v);
  }
  return out;
}

/** Reads the nine fields off the Vue page. */
export async function readVuePage(page: Page): Promise<ShownStatus> {
  return page.evaluate(
    (fields) => {
      const out: Record<string, string> = {};
      for (const f of fields) out[f] = document.querySelector(`[data-field="${f}"]`)?.textContent?.trim() ?? '';
      return out;
    },
    SEED_FIELDS as unknown as string[],
  ) as Promise<ShownStatus>;
}

/** Every status the worker publishes on `processor:status:realtime`, in order. */
export class WorkerMonitor {
  readonly statuses: Array<Record<string, unknown>> = [];
  readonly #sub: Redis;

  private constructor(sub: Redis) {
    this.#sub = sub;
  }

  /** Subscribes (ioredis resubscribes by itself after Redis restarts). */
  static async start(url: string): Promise<WorkerMonitor> {
    const sub = new Redis(url, { maxRetriesPerRequest: null });
    sub.on('error', () => {});
    const monitor = new WorkerMonitor(sub);
    sub.on('message', (_c, message) => {
      try {
        const status = JSON.parse(message) as Record<string, unknown>;
        // The tests' own wrong-shaped messages are marked; only the worker's statuses count.
        if (!('test' in status)) monitor.statuses.push(status);
      } catch {
        // the tests' own invalid messages
      }
    });
    await sub.subscribe('processor:status:realtime');
    return monitor;
  }

  /** Whether the worker published exactly what the page shows. */
  published(status: ShownStatus): boolean {
    const text = JSON.stringify(status);
    return this.statuses.some((s) => JSON.stringify(shown(s)) === text);
  }

  /** The latest published status. */
  latest(): Record<string, unknown> | undefined {
    return this.statuses.at(-1);
  }

  close(): void {
    this.#sub.disconnect();
  }
}
