/**
 * Channel reads over HTTP: history (latest N, or since a position) and current state.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type HistoryOptions, TaskpulseError } from '@taskpulse/protocol';
import type { HubCore } from '../core/hub-core';
import type { Principal } from '../core/principal';
import { ifNoneMatch, intParam, sendJson } from './http-io';
import { parsePosition } from './positions-cursor';

/** Handles `GET {base}/channels/{channel}/history?limit=&since_epoch=&since_offset=`. */
export async function handleHistory(
  core: HubCore,
  principal: Principal,
  channel: string,
  url: URL,
  response: ServerResponse,
  limits: { defaultLimit: number; maxLimit: number },
  headers: Record<string, string>,
): Promise<void> {
  const limit = intParam(url, 'limit', limits.defaultLimit, 0, limits.maxLimit);
  const sinceEpoch = url.searchParams.get('since_epoch');
  const sinceOffset = url.searchParams.get('since_offset');
  const options: HistoryOptions = { limit };
  if (sinceEpoch !== null || sinceOffset !== null) {
    if (sinceEpoch === null || sinceOffset === null) {
      throw new TaskpulseError('bad_request', 'bad position: give both since_epoch and since_offset');
    }
    if (!/^\d{1,16}$/.test(sinceOffset)) {
      throw new TaskpulseError('bad_request', 'bad position: since_offset must be a non-negative integer');
    }
    options.since = parsePosition({ epoch: sinceEpoch, offset: Number(sinceOffset) }, channel);
  }
  const result = await core.readHistory(principal, channel, options);
  const kind = core.broker.namespaceOptions(channel).kind;
  sendJson(response, 200, { channel, kind, ...result }, { ...headers, 'cache-control': 'private, no-cache' });
}

/** Handles `GET {base}/channels/{channel}/state` (ETag = the channel's position; `If-None-Match` → 304). */
export async function handleState(
  core: HubCore,
  principal: Principal,
  channel: string,
  request: IncomingMessage,
  response: ServerResponse,
  headers: Record<string, string>,
): Promise<void> {
  const state = await core.readState(principal, channel);
  const etag = `"${encodeURIComponent(state.epoch)}.${state.offset}"`;
  const cacheHeaders = {
    ...headers,
    etag,
    'cache-control': 'private, no-cache',
    vary: 'Origin, Authorization, Cookie',
  };
  if (ifNoneMatch(request).includes(etag)) {
    response.writeHead(304, cacheHeaders);
    response.end();
    return;
  }
  const kind = core.broker.namespaceOptions(channel).kind;
  sendJson(response, 200, { channel, kind, ...state }, cacheHeaders);
}
