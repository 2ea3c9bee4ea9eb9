/**
 * Small HTTP helpers shared by the endpoints: JSON responses, JSON error bodies, bounded request
 * bodies and query parameters, API keys.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ErrorCode, httpStatusFor, TaskpulseError } from '@taskpulse/protocol';
import type { HubCore } from '../core/hub-core';

/** The HTTP status of an error: `details.status` when the code has several (429/503), else the code's. */
export function statusOf(error: TaskpulseError): number {
  const status = error.details?.status;
  return typeof status === 'number' && status >= 400 && status < 600 ? status : httpStatusFor(error.code);
}

/** An error whose HTTP status differs from its code's (405, 414): the status travels in `details.status`. */
export function httpError(code: ErrorCode, status: number, message: string, details: Record<string, unknown> = {}) {
  return new TaskpulseError(code, message, { details: { ...details, status } });
}

/** Sends a JSON body (unless the response was already started). */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  sendJsonText(response, status, JSON.stringify(body), headers);
}

/** Sends a body already serialized as JSON text (unless the response was already started). */
export function sendJsonText(
  response: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent || response.writableEnded) return;
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(text);
}

/**
 * Sends `{error: {code, message, details?}}` with the error's status, and counts it. Unexpected
 * errors (`internal`) are logged and answered without their message.
 */
export function sendError(
  core: HubCore,
  response: ServerResponse,
  error: unknown,
  headers: Record<string, string> = {},
) {
  let e = TaskpulseError.from(error, 'internal');
  if (e.code === 'internal') {
    core.logger.error('http request failed', { error: String(error) });
    e = new TaskpulseError('internal', 'internal server error');
  }
  core.metrics.errors.inc({ code: e.code });
  const extra: Record<string, string> = { ...headers };
  if (e.code === 'unauthorized') extra['www-authenticate'] = 'Bearer';
  const allow = e.details?.allow;
  if (typeof allow === 'string') extra.allow = allow;
  if (statusOf(e) === 503) extra['retry-after'] = '1';
  const retryAfter = e.details?.retryAfterSeconds;
  if (typeof retryAfter === 'number') extra['retry-after'] = String(retryAfter);
  sendJson(response, statusOf(e), e.toJSON(), extra);
}

/** Reads a request body of at most `maxBytes` and parses it as JSON (`frame_too_large`, `bad_request`). */
export async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    request.resume();
    throw new TaskpulseError('frame_too_large', `request body is larger than ${maxBytes} bytes`, {
      details: { maxBytes },
    });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      request.resume();
      throw new TaskpulseError('frame_too_large', `request body is larger than ${maxBytes} bytes`, {
        details: { maxBytes },
      });
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new TaskpulseError('bad_request', 'request body is empty; expected JSON');
  try {
    return JSON.parse(text);
  } catch {
    throw new TaskpulseError('bad_request', 'request body is not valid JSON');
  }
}

/** Parses a non-negative integer query parameter within bounds (`bad_request` otherwise). */
export function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d{1,16}$/.test(raw)) throw new TaskpulseError('bad_request', `${name} must be a non-negative integer`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new TaskpulseError('bad_request', `${name} must be between ${min} and ${max}`, { details: { min, max } });
  }
  return value;
}

/** The API key of a request: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function apiKeyOf(request: IncomingMessage): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header !== '') return header;
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  return undefined;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Throws `unauthorized` unless the request carries one of `keys`. Keys are compared as SHA-256
 * digests with `timingSafeEqual`, so the comparison time does not leak a key's prefix.
 */
export function requireApiKey(request: IncomingMessage, keys: readonly string[], what: string): void {
  const given = apiKeyOf(request);
  if (given === undefined) {
    throw new TaskpulseError('unauthorized', `${what} needs an API key (Authorization: Bearer <key> or X-API-Key)`);
  }
  const d = digest(given);
  let ok = false;
  for (const key of keys) if (timingSafeEqual(d, digest(key))) ok = true;
  if (!ok) throw new TaskpulseError('unauthorized', `invalid API key for ${what}`);
}

/** Parses an `If-None-Match` header into its entity tags (weak prefixes dropped), or `*`. */
export function ifNoneMatch(request: IncomingMessage): string[] {
  const header = request.headers['if-none-match'];
  if (typeof header !== 'string' || header === '') return [];
  return header.split(',').map((t) => t.trim().replace(/^W\//, ''));
}
