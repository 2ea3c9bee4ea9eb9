/**
 * HTTP side of the hub: SSE, polling, reads, stats, health, metrics, publish, dialect REST paths.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HubCore } from '../core/hub-core';

/** Options of the HTTP side of the hub. */
export interface HttpOptions {
  /**
   * Prefix of every native HTTP endpoint.
   * @default '/taskpulse'
   */
  basePath?: string;
}

/** Handles the hub's HTTP requests. */
export interface HttpHandler {
  /**
   * Handles a request when its path belongs to the hub. Resolves true when handled (a response
   * was or will be sent), false when the path is not the hub's (the caller passes it on).
   */
  handle(request: IncomingMessage, response: ServerResponse): Promise<boolean>;
  /** Ends long-lived responses (SSE streams, long polls). */
  close(): Promise<void>;
}

/** Creates the HTTP handler of a hub. */
export function createHttpHandler(_core: HubCore, _options: HttpOptions = {}): HttpHandler {
  return {
    handle: async () => false,
    close: async () => {},
  };
}
