/**
 * Seed 000's worker status panel: `GET /ws/processor-status` sends each worker status as bare
 * JSON (`{"running": true, "workers": 3, …}`), the page's `Object.assign(status, JSON.parse(e.data))`
 * works unchanged; the page's initial load reads the same value over HTTP.
 * @module
 */
import { channels } from '@taskpulse/protocol';
import { createChannelCodec } from './channel-codec';
import { defineDialect, type HubDialect } from './dialect';
import { stateRoute } from './state-route';

/** Options of {@link processorStatusDialect}. */
export interface ProcessorStatusDialectOptions {
  /**
   * The WebSocket path.
   * @default '/ws/processor-status'
   */
  path?: string;
  /**
   * The state channel the worker status is published on (by the bridge of `processor:status:realtime`).
   * @default 'processor:status'
   */
  channel?: string;
  /**
   * The REST path answering the current status as bare JSON (404 `not_found` before the first
   * status); null to serve none.
   * @default '/api/processor/status'
   */
  restPath?: string | null;
}

/**
 * The seed 000 dialect. A connection is subscribed to the status channel on open, receives the
 * current status at once (when there is one) and then every new status, each as the bare
 * publication data. Client messages are ignored. When the subscription fails (broker down,
 * forbidden) the socket is closed with the matching close code, as the seed's backend did.
 *
 * @example
 * ```ts
 * const hub = await createHub({ server, dialects: [processorStatusDialect()] });
 * ```
 */
export function processorStatusDialect(options: ProcessorStatusDialectOptions = {}): HubDialect {
  const channel = options.channel ?? channels.processorStatus();
  const restPath = options.restPath === undefined ? '/api/processor/status' : options.restPath;
  return defineDialect({
    name: 'processor-status',
    path: options.path ?? '/ws/processor-status',
    codec: createChannelCodec({
      name: 'processor-status',
      channels: () => [channel],
      encode: (p) => JSON.stringify(p.data),
    }),
    routes: restPath === null ? [] : [stateRoute({ path: restPath, channel })],
  });
}
