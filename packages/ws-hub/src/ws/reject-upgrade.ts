/**
 * Refusing an upgrade with a real HTTP response, so a client can tell "you may not" (401, 403,
 * 429, 503 with a JSON body) from "the network failed".
 * @module
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TaskpulseError } from '@taskpulse/protocol';
import { statusOf } from '../http/http-io';

/**
 * Writes `HTTP/1.1 <status>` with a JSON body `{ "error": { code, message, details? } }` on the
 * raw socket of an upgrade request, then closes it.
 */
export function rejectUpgrade(socket: Duplex, error: TaskpulseError): void {
  if (!socket.writable || socket.destroyed) {
    socket.destroy();
    return;
  }
  // `details.status` when the error names one (429 vs 503), as for every HTTP error of the hub.
  const status = statusOf(error);
  const body = JSON.stringify(error.toJSON());
  const retryAfter = status === 429 || status === 503 ? 'Retry-After: 5\r\n' : '';
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      retryAfter +
      `\r\n${body}`,
  );
}
