/**
 * Handling of native frames, shared by the WebSocket and SSE transports.
 * @module
 */
import { CHANNEL_ERROR_CODES, clientError } from '../errors';
import type { ClientSideFrame } from '../frame';
import type { Transport, TransportHost } from './transport';

/** Hooks a streaming transport adds to the shared handling. @internal */
export interface StreamHooks {
  welcome(heartbeatIntervalMs: number, protocolVersion: number, expiresAt?: number): void;
  /** A `subscribed`/`unsubscribed`/error answer for a channel (the WebSocket tracks its requests). */
  answered?(channel: string, outcome: 'subscribed' | 'unsubscribed' | 'error', code?: string): void;
  /** A connection-level error frame (no channel): the hub is about to close. */
  connectionError?(code: string, message: string, id?: string | number): void;
  /** `refreshed`: the credentials were refreshed in place, valid until `expiresAt`. */
  refreshed?(expiresAt: number | undefined): void;
  /** A `live` frame (the hub's broker went down or came back). */
  live?(available: boolean): void;
}

/** Applies one server frame. @internal */
export function dispatchFrame(
  frame: ClientSideFrame,
  host: TransportHost,
  transport: Transport,
  hooks: StreamHooks,
): void {
  const registry = host.registry;
  switch (frame.type) {
    case 'publication':
      registry.publication(frame);
      break;
    case 'batch':
      for (const p of frame.publications) registry.publication(p);
      break;
    case 'subscribed':
      hooks.answered?.(frame.channel, 'subscribed');
      registry.subscribed(frame);
      break;
    case 'unsubscribed':
      hooks.answered?.(frame.channel, 'unsubscribed');
      break;
    case 'welcome':
      hooks.welcome(frame.heartbeatIntervalMs, frame.protocolVersion, frame.expiresAt);
      break;
    case 'live':
      hooks.live?.(frame.available);
      host.live(
        transport,
        frame.available,
        frame.available ? undefined : clientError(frame.code ?? 'unavailable', frame.message ?? 'live data stopped'),
      );
      break;
    case 'error': {
      const channel = frame.channel;
      if (channel !== undefined) {
        hooks.answered?.(channel, 'error', frame.code);
        if (CHANNEL_ERROR_CODES.has(frame.code)) host.refuse(channel, clientError(frame.code, frame.message));
        else if (frame.code !== 'already_subscribed' && frame.code !== 'not_subscribed') {
          host.report(clientError(frame.code, frame.message));
        }
      } else if (hooks.connectionError) hooks.connectionError(frame.code, frame.message, frame.id);
      else host.report(clientError(frame.code, frame.message));
      break;
    }
    case 'refreshed':
      hooks.refreshed?.(frame.expiresAt);
      break;
    default:
      break; // pong, published: traffic only
  }
}
