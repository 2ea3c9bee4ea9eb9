/**
 * Turning thrown values into the client's error shape.
 * @module
 * @internal
 */
import type { ClientError } from '@taskpulse/fallback-client';

/** A {@link ClientError} for something thrown (keeps a `code` the value carries). @internal */
export function toClientError(cause: unknown, fallbackCode = 'internal'): ClientError {
  const code =
    typeof cause === 'object' && cause !== null && typeof (cause as { code?: unknown }).code === 'string'
      ? (cause as { code: string }).code
      : fallbackCode;
  return { code, message: cause instanceof Error ? cause.message : String(cause), cause };
}
