/**
 * Ordering of publications that may arrive by two paths (push and an HTTP re-read).
 * @module
 * @internal
 */
import type { ClientPublication } from '@taskpulse/fallback-client';

/**
 * True when `candidate` is at least as new as `current`: same epoch and an offset not below it,
 * or a different epoch (the channel's history was reset: the candidate is the new truth).
 * @internal
 */
export function isNotOlder(candidate: ClientPublication<unknown>, current: ClientPublication<unknown> | null): boolean {
  if (current === null) return true;
  if (candidate.epoch !== current.epoch) return true;
  return candidate.offset >= current.offset;
}
