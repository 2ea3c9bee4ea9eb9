/**
 * `GET {base}/sse`: one Server-Sent Events stream for several channels, resumable with
 * `Last-Event-ID`.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CloseCode } from '@taskpulse/protocol';
import type { HubCore } from '../core/hub-core';
import type { Principal } from '../core/principal';
import type { Session } from '../core/session';
import { queryChannelRequest, resolveLastId } from './channel-params';
import { SseTransport } from './sse-transport';

/** Settings of the SSE endpoint. */
export interface SseSettings {
  heartbeatIntervalMs: number;
  retryMs: number;
  /** Tracks open streams so that the handler can end them on close. */
  track(transport: SseTransport): () => void;
}

/**
 * Opens the stream. Everything that can be refused is checked before the 200 head is written
 * (channel names, positions, authorization, admission), so a refusal is a plain JSON 4xx/5xx
 * that makes an `EventSource` stop instead of retrying forever.
 */
export async function handleSse(
  core: HubCore,
  principal: Principal,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  settings: SseSettings,
  headers: Record<string, string>,
): Promise<void> {
  // Last-Event-ID (a reconnecting EventSource) wins over `lastEventId` (polyfills) and `since`.
  const header = request.headers['last-event-id'];
  const lastEventId =
    (typeof header === 'string' && header !== '' ? header : undefined) ??
    url.searchParams.get('lastEventId') ??
    undefined;
  const channelRequest = queryChannelRequest(url, core.limits.maxChannelsPerConnection, lastEventId);
  const { channels } = channelRequest;
  for (const channel of channels) await core.authorize(principal, channel, 'subscribe');
  const positions = await resolveLastId(core.broker, channelRequest);
  core.admit(principal);
  // The client may have gone while we were authenticating; a stream on a dead socket never ends.
  if (request.socket.destroyed) return;

  const transport = new SseTransport(core, response, {
    heartbeatIntervalMs: settings.heartbeatIntervalMs,
    retryMs: settings.retryMs,
    onEnd: () => untrack(),
  });
  const untrack = settings.track(transport);
  // Every event id names every position of the stream, resumed channels included from the start.
  transport.attach(core.openSession(principal, transport), positions);
  const session = transport.session as Session;
  request.socket.setTimeout(0);
  // A peer that vanished without a FIN is found by TCP keep-alive probes as well as by heartbeats.
  request.socket.setKeepAlive(true, Math.max(1000, settings.heartbeatIntervalMs));
  transport.start({ ...headers, vary: 'Origin' });
  // A stream that resumes (it carries positions) and names a channel it has no position for
  // cannot resume that channel: its `subscribed` says `recovered: false`.
  const resuming = positions.size > 0;
  // One at a time, in request order: `subscribed` events arrive in the order the client asked.
  for (const channel of channels) {
    if (transport.ended) break;
    const since = positions.get(channel);
    if (await session.subscribe(channel, since, undefined, resuming && since === undefined)) continue;
    // A channel could not be subscribed (the broker is unavailable): an open stream that delivers
    // nothing would look healthy to the EventSource forever. End it after the error event, so
    // the browser reconnects (after `retry:`) with the last id it read and resumes.
    if (!transport.ended) {
      session.sendLive(false);
      transport.close(CloseCode.Unavailable, 'subscribe failed');
    }
    return;
  }
}
