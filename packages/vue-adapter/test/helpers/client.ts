/** Client options for Node-side tests: `ws` and `eventsource` as the platform, short backoff. */
import {
  type ClientOptions,
  createClient,
  type EventSourceConstructor,
  type TaskpulseClient,
  type WebSocketConstructor,
} from '@taskpulse/fallback-client';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';

export function clientOptions(url: string, extra: Partial<ClientOptions> = {}): ClientOptions {
  return {
    url,
    platform: {
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      EventSource: EventSource as unknown as EventSourceConstructor,
    },
    backoff: { initialDelayMs: 50, maxDelayMs: 400, jitter: 'none', healthyAfterMs: 200 },
    connectTimeoutMs: 3_000,
    ...extra,
  };
}

export function testClient(url: string, extra: Partial<ClientOptions> = {}): TaskpulseClient {
  return createClient(clientOptions(url, extra));
}
