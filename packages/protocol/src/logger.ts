/**
 * The one logger type every taskpulse package takes (`logger?: TaskpulseLogger`).
 * @module
 */

/**
 * A structured logger. `console` fits, and so do pino and winston loggers (pass a child or a
 * small adapter if their argument order differs). Libraries never write to the console by
 * themselves: without a logger they are silent, and failures still reach metrics and `onError`
 * hooks where a package has them.
 *
 * @example
 * ```ts
 * import type { TaskpulseLogger } from '@taskpulse/protocol';
 *
 * const logger: TaskpulseLogger = console;
 * ```
 */
export interface TaskpulseLogger {
  /** Per-connection and per-message detail. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Lifecycle events (listening, lease acquired, closing). */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Rejected input, refused connections, broker trouble that is being retried. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Unexpected failures. */
  error(message: string, fields?: Record<string, unknown>): void;
}

const noop = (): void => {};

/** A logger that drops everything: the default wherever `logger` is optional. */
export const silentLogger: TaskpulseLogger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
