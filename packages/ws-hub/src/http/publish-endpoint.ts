/**
 * `POST {base}/publish`: publishing over HTTP for backends that cannot reach Redis, guarded by an
 * API key.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertChannel, type PublishOptions, type PublishResult, TaskpulseError } from '@taskpulse/protocol';
import type { HubCore } from '../core/hub-core';
import { readJsonBody, requireApiKey, sendJson } from './http-io';

/** Most publications accepted in one request. */
const MAX_BATCH = 100;

interface PublishInput {
  channel: string;
  event: string;
  data: unknown;
  options: PublishOptions;
}

function parseOne(value: unknown, where: string): PublishInput {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TaskpulseError('bad_request', `${where} must be an object {channel, event, data}`);
  }
  const v = value as Record<string, unknown>;
  const channel = assertChannel(v.channel);
  if (typeof v.event !== 'string' || v.event.length === 0 || v.event.length > 128) {
    throw new TaskpulseError('bad_request', `${where}.event must be a string of 1 to 128 characters`);
  }
  if (!('data' in v)) throw new TaskpulseError('bad_request', `${where}.data is missing`);
  const options: PublishOptions = {};
  if (v.id !== undefined) {
    if (typeof v.id !== 'string' || v.id.length > 128) {
      throw new TaskpulseError('bad_request', `${where}.id must be a string of at most 128 characters`);
    }
    options.id = v.id;
  }
  if (v.priority !== undefined) {
    if (typeof v.priority !== 'number' || !Number.isInteger(v.priority) || v.priority < 1 || v.priority > 4) {
      throw new TaskpulseError('bad_request', `${where}.priority must be an integer from 1 to 4`);
    }
    options.priority = v.priority;
  }
  return { channel, event: v.event, data: v.data, options };
}

/**
 * The error of batch item `index`, naming it in the message and in `details.index`. An unexpected
 * error is logged and answered as `unavailable` without its message (an `internal` answer would
 * lose the index).
 */
function atIndex(core: HubCore, error: unknown, index: number): TaskpulseError {
  let e = TaskpulseError.from(error, 'internal');
  if (e.code === 'internal') {
    core.logger.error('http publish failed', { index, error: String(error) });
    e = new TaskpulseError('unavailable', 'publishing failed');
  }
  return new TaskpulseError(e.code, `publications[${index}]: ${e.message}`, {
    cause: error,
    details: { ...e.details, index },
  });
}

/**
 * Handles `POST {base}/publish` with body `{channel, event, data, id?, priority?}` (answers
 * `{channel, epoch, offset}`) or `{publications: [...]}` (answers `{results: [...]}`, in order).
 * A batch is checked whole (shape, channel names, namespaces) before any item is published; an
 * item that then fails (broker down) ends the request with an error whose `details.index` names
 * it: the items before it are published, the later ones are not.
 */
export async function handlePublish(
  core: HubCore,
  request: IncomingMessage,
  response: ServerResponse,
  settings: { apiKeys: readonly string[] | undefined; maxBodyBytes: number },
  headers: Record<string, string>,
): Promise<void> {
  if (!settings.apiKeys || settings.apiKeys.length === 0) {
    throw new TaskpulseError('forbidden', 'HTTP publishing is disabled (no publishApiKeys configured)');
  }
  requireApiKey(request, settings.apiKeys, 'publishing');
  const body = await readJsonBody(request, settings.maxBodyBytes);
  if (body !== null && typeof body === 'object' && 'publications' in body) {
    const list = (body as { publications: unknown }).publications;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BATCH) {
      throw new TaskpulseError('bad_request', `publications must be an array of 1 to ${MAX_BATCH} items`);
    }
    const inputs = list.map((item, i) => parseOne(item, `publications[${i}]`));
    // Every namespace first (unknown_channel…): a bad item k must not leave items before it published.
    inputs.forEach((p, i) => {
      try {
        core.broker.namespaceOptions(p.channel);
      } catch (error) {
        throw atIndex(core, error, i);
      }
    });
    const results: PublishResult[] = [];
    // One after the other: offsets of one channel follow the order of the request.
    for (const [i, p] of inputs.entries()) {
      try {
        results.push(await core.publish(p.channel, p.event, p.data, { ...p.options, source: 'http' }));
      } catch (error) {
        // Items before `index` are published (their offsets are lost to the client), later ones not.
        throw atIndex(core, error, i);
      }
    }
    sendJson(response, 200, { results }, headers);
    return;
  }
  const p = parseOne(body, 'body');
  const result = await core.publish(p.channel, p.event, p.data, { ...p.options, source: 'http' });
  sendJson(response, 200, result, headers);
}
