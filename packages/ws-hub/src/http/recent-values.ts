/**
 * Values computed lately for string keys, kept so that the clients of one channel — who send the
 * same cursor until something is published — find them computed. Bounded: keys longer than
 * `maxKeyLength` are never kept, and the map is emptied when it holds `maxEntries`.
 * @module
 */

/** A bounded memo of values by string key. @internal */
export class RecentValues<V> {
  readonly #values = new Map<string, V>();
  readonly #maxEntries: number;
  readonly #maxKeyLength: number;

  /**
   * @param maxEntries - values kept at most (the map is emptied when full)
   * @param maxKeyLength - longer keys are computed every time, never kept
   */
  constructor(maxEntries = 1024, maxKeyLength = 1024) {
    this.#maxEntries = maxEntries;
    this.#maxKeyLength = maxKeyLength;
  }

  /** The value kept for `key`, or `compute()`'s (kept when the key is short enough). A throw is not kept. */
  get(key: string, compute: () => V): V {
    // A long key is neither looked up nor kept (hashing it would cost what the memo saves).
    if (key.length > this.#maxKeyLength) return compute();
    let value = this.#values.get(key);
    if (value !== undefined) return value;
    value = compute();
    if (this.#values.size >= this.#maxEntries) this.#values.clear();
    this.#values.set(key, value);
    return value;
  }
}
