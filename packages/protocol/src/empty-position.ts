/**
 * The empty position: where a channel that does not exist (never published, or expired) is.
 * Reads never create anything, so such a channel has no epoch yet; it is reported at epoch
 * {@link EMPTY_EPOCH}, offset 0, and a position there continues with the first publication of
 * whatever epoch the channel gets (offset 1), when the retained history still starts at offset 1.
 * @module
 */
import type { StreamPosition } from './publication';

/** The epoch reported for a channel that does not exist. Real epochs are never `"0"`. */
export const EMPTY_EPOCH = '0';

/**
 * True when `position` is the empty position (epoch {@link EMPTY_EPOCH}, offset 0): the next
 * publication it expects is offset 1 of any epoch.
 */
export function isEmptyPosition(position: StreamPosition | { epoch: string; offset: number }): boolean {
  return position.epoch === EMPTY_EPOCH && position.offset === 0;
}

/**
 * True when a publication of `epoch` belongs to the generation of `position`: the same epoch, or
 * any epoch after the empty position.
 */
export function continuesGeneration(position: { epoch: string; offset: number }, epoch: string): boolean {
  return position.epoch === epoch || isEmptyPosition(position);
}
