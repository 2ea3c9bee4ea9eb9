/**
 * Operations endpoints: stats, liveness, readiness, Prometheus metrics.
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { HubCore } from '../core/hub-core';
import { sendJson } from './http-io';

/** `GET {base}/stats`: connections in total, by user, project, channel and transport (this node). */
export function handleStats(core: HubCore, response: ServerResponse, headers: Record<string, string>): void {
  sendJson(response, 200, core.stats(), headers);
}

/** `GET {base}/healthz`: the process answers. */
export function handleHealthz(response: ServerResponse, headers: Record<string, string>): void {
  sendJson(response, 200, { status: 'ok' }, headers);
}

/** `GET {base}/readyz`: 200 when the broker is reachable, else 503 with an `unavailable` error body. */
export function handleReadyz(core: HubCore, response: ServerResponse, headers: Record<string, string>): void {
  const broker = core.broker.status();
  if (core.ready()) {
    sendJson(response, 200, { status: 'ready', broker }, headers);
    return;
  }
  core.metrics.errors.inc({ code: 'unavailable' });
  const message = core.closed ? 'the hub is shutting down' : `the broker is ${broker}`;
  sendJson(
    response,
    503,
    { status: 'not_ready', broker, error: { code: 'unavailable', message } },
    { ...headers, 'retry-after': '1' },
  );
}

/** `GET {base}/metrics`: the hub's Prometheus registry in the text exposition format. */
export async function handleMetrics(core: HubCore, response: ServerResponse, headers: Record<string, string>) {
  const text = await core.metrics.registry.metrics();
  response.writeHead(200, {
    ...headers,
    'content-type': core.metrics.registry.contentType,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}
