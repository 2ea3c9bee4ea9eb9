/**
 * Position cursors, the hub's format: base64url of the JSON `{"channel": [epoch, offset]}`. The
 * client builds them from its own positions for SSE `since=` and GET polls, so a resume never
 * depends on what the server (or the browser's `Last-Event-ID`) remembered.
 * @module
 */
import type { ChannelPosition } from './types';

/** Encodes positions as a cursor; undefined when there is none. @internal */
export function encodeCursor(positions: Iterable<[string, ChannelPosition | null]>): string | undefined {
  let json = '';
  for (const [channel, p] of positions) {
    if (!p) continue;
    json += `${json ? ',' : ''}${JSON.stringify(channel)}:[${JSON.stringify(p.epoch)},${p.offset}]`;
  }
  if (!json) return undefined;
  const bytes = new TextEncoder().encode(`{${json}}`);
  let binary = '';
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i] as number);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
