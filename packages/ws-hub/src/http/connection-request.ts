/**
 * The transport-neutral view of a Node request, as the core and the `authenticate` hook see it.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { ConnectionRequest } from '../core/codec';

/** Builds the {@link ConnectionRequest} of a Node request (upgrade, SSE, polling, Socket.IO handshake). */
export function connectionRequest(request: IncomingMessage): ConnectionRequest {
  return { url: request.url ?? '/', headers: request.headers, remoteAddress: request.socket?.remoteAddress };
}
