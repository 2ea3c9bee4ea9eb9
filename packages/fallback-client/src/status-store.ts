/**
 * The observable connection state: an immutable snapshot replaced on each change, and listeners.
 * @module
 */
import type { ConnectionState } from './types';

/** @internal */
export class StatusStore {
  #state: ConnectionState = {
    status: 'connecting',
    transport: null,
    pollingIntervalMs: null,
    lastMessageAt: null,
    liveDataAvailable: true,
    error: null,
    switchedToPolling: false,
  };
  readonly #listeners = new Set<(state: ConnectionState) => void>();
  readonly #onListenerError: (error: unknown) => void;

  constructor(onListenerError: (error: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Applies a change; listeners run only when a field actually changed. */
  update(patch: Partial<ConnectionState>): void {
    let changed = false;
    for (const key of Object.keys(patch) as (keyof ConnectionState)[]) {
      if (this.#state[key] !== patch[key]) {
        changed = true;
        break;
      }
    }
    if (!changed) return;
    this.#state = { ...this.#state, ...patch };
    for (const listener of [...this.#listeners]) {
      try {
        listener(this.#state);
      } catch (error) {
        this.#onListenerError(error);
      }
    }
  }

  /**
   * Marks traffic. On the hot path a new snapshot (and an event) is made at most once per second,
   * so `lastMessageAt` may lag by up to a second.
   */
  touch(now: number): void {
    const last = this.#state.lastMessageAt;
    if (last !== null && now - last < 1000 && now >= last) return;
    this.update({ lastMessageAt: now });
  }

  listen(listener: (state: ConnectionState) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  clear(): void {
    this.#listeners.clear();
  }
}
