/**
 * `{basePath}/dashboard`: the page, its assets, the login form and two small JSON reads, all
 * behind the operations credential (the ops key in `X-API-Key`, or the session cookie the login
 * form sets).
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SYSTEM_NODES_CHANNEL, TaskpulseError } from '@taskpulse/protocol';
import type { HubCore } from '../core/hub-core';
import { httpError, sendError, sendJson } from '../http/http-io';
import type { ResolvedDashboardOptions } from './dashboard-options';
import type { FiguresPublisher } from './figures-publisher';
import { loginPage } from './login-page';
import { createLoginThrottle } from './login-throttle';
import { OPS_COOKIE, type OpsCredential, sameOrigin } from './ops-credential';
import { PAGE_CSP, readStaticFile, SECURITY_HEADERS, sendFile } from './static-files';

/** What the dashboard route needs. @internal */
export interface DashboardRouteContext {
  core: HubCore;
  options: ResolvedDashboardOptions;
  credential: OpsCredential;
  publisher: FiguresPublisher;
  /** The hub's HTTP base path, e.g. `/taskpulse`. */
  basePath: string;
  /** Path of the session cookie (it must reach the WebSocket path and the HTTP endpoints). */
  cookiePath: string;
}

const MAX_LOGIN_BODY_BYTES = 4096;
/** Failed logins allowed per client address per minute on one node before it answers 429. */
const MAX_FAILED_LOGINS_PER_MINUTE = 20;

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const type = String(request.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim();
  if (type !== 'application/x-www-form-urlencoded') {
    request.resume();
    throw httpError('bad_request', 415, 'log in with a form: Content-Type application/x-www-form-urlencoded');
  }
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_LOGIN_BODY_BYTES) {
      request.resume();
      throw new TaskpulseError('frame_too_large', `login body is larger than ${MAX_LOGIN_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function sendHtml(response: ServerResponse, status: number, html: string, headers: Record<string, string> = {}) {
  response.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-security-policy': PAGE_CSP,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    ...headers,
  });
  response.end(html);
}

function isHttps(request: IncomingMessage): boolean {
  const forwarded = request.headers['x-forwarded-proto'];
  return (
    (request.socket as { encrypted?: boolean }).encrypted === true ||
    (typeof forwarded === 'string' && forwarded.split(',')[0]?.trim() === 'https')
  );
}

/**
 * Creates the dashboard's request handler: resolves true when the path was the dashboard's.
 * @internal
 */
export function createDashboardRoute(ctx: DashboardRouteContext) {
  const { core, credential, options, publisher } = ctx;
  const root = `${ctx.basePath}/dashboard`;
  const throttle = createLoginThrottle(MAX_FAILED_LOGINS_PER_MINUTE, 60_000);

  const cookie = (request: IncomingMessage, value: string, maxAgeSec: number) =>
    `${OPS_COOKIE}=${value}; Path=${ctx.cookiePath}; Max-Age=${maxAgeSec}; HttpOnly; SameSite=Strict${isHttps(request) ? '; Secure' : ''}`;

  const requireMethod = (request: IncomingMessage, method: string) => {
    if (request.method !== method && !(method === 'GET' && request.method === 'HEAD')) {
      throw httpError('bad_request', 405, `method ${request.method} not allowed here (allowed: ${method})`, {
        allow: method,
      });
    }
  };

  async function login(request: IncomingMessage, response: ServerResponse): Promise<void> {
    requireMethod(request, 'POST');
    const address = request.socket.remoteAddress ?? 'unknown';
    if (throttle.blocked(address, Date.now())) {
      request.resume();
      core.metrics.rejections.inc({ reason: 'rate_limited' });
      sendHtml(response, 429, loginPage(`${root}/login`, 'Too many failed attempts: wait a minute.'), {
        'retry-after': '60',
      });
      return;
    }
    const key = (await readForm(request)).get('key') ?? '';
    if (key === '' || !credential.verifyKey(key)) {
      throttle.fail(address, Date.now());
      core.metrics.rejections.inc({ reason: 'unauthorized' });
      core.logger.warn('dashboard login refused', { remote: address });
      sendHtml(response, 401, loginPage(`${root}/login`, 'That key is not valid.'));
      return;
    }
    response.writeHead(303, {
      ...SECURITY_HEADERS,
      location: `${root}/`,
      'set-cookie': cookie(request, credential.issueToken(), Math.floor(options.sessionTtlMs / 1000)),
      'cache-control': 'no-store',
      'content-length': 0,
    });
    response.end();
  }

  async function page(response: ServerResponse): Promise<void> {
    if (!options.assetsDir) {
      throw new TaskpulseError(
        'not_found',
        'the dashboard page is not installed on this node: pass dashboard.assetsDir (dashboardAssetsDir of @taskpulse/dashboard)',
      );
    }
    const file = await readStaticFile(options.assetsDir, 'index.html');
    if (!file) throw new TaskpulseError('internal', `dashboard.assetsDir has no index.html: ${options.assetsDir}`);
    // Relative asset URLs resolve under the dashboard whether the page was asked with or without
    // the trailing slash.
    const html = file.body.toString('utf8').replace(/<head>/i, `<head><base href="${root}/">`);
    sendHtml(response, 200, html);
  }

  async function asset(response: ServerResponse, relative: string): Promise<void> {
    const file = options.assetsDir ? await readStaticFile(options.assetsDir, relative) : null;
    if (!file) throw new TaskpulseError('not_found', `no dashboard file ${relative}`);
    sendFile(response, file, relative.startsWith('assets/'));
  }

  async function route(request: IncomingMessage, response: ServerResponse, rest: string): Promise<void> {
    if ((rest === '/login' || rest === '/logout') && !sameOrigin(request)) {
      request.resume();
      throw new TaskpulseError('forbidden', 'log in and out from the dashboard page itself');
    }
    if (rest === '/login') return login(request, response);
    if (rest === '/logout') {
      requireMethod(request, 'POST');
      request.resume();
      response.writeHead(303, { location: `${root}/`, 'set-cookie': cookie(request, '', 0), 'content-length': 0 });
      response.end();
      return;
    }
    const isPage = rest === '' || rest === '/' || rest === '/index.html';
    if (!credential.hasCredential(request)) {
      core.metrics.rejections.inc({ reason: 'unauthorized' });
      if (isPage) {
        sendHtml(response, 401, loginPage(`${root}/login`, undefined), { 'www-authenticate': 'Cookie' });
        return;
      }
      throw new TaskpulseError('unauthorized', 'the dashboard needs the operations credential');
    }
    requireMethod(request, 'GET');
    if (isPage) return page(response);
    if (rest === '/api/config') {
      sendJson(response, 200, {
        basePath: ctx.basePath,
        channel: SYSTEM_NODES_CHANNEL,
        nodeId: options.nodeId,
        intervalMs: options.intervalMs,
      });
      return;
    }
    if (rest === '/api/figures') {
      sendJson(response, 200, await publisher.sampleNow());
      return;
    }
    return asset(response, rest.slice(1));
  }

  return {
    /** Handles `{basePath}/dashboard` and below; resolves false for any other path. */
    async handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> {
      if (path !== root && !path.startsWith(`${root}/`)) return false;
      try {
        await route(request, response, path.slice(root.length));
      } catch (error) {
        sendError(core, response, error, { ...SECURITY_HEADERS });
      }
      return true;
    },
  };
}
