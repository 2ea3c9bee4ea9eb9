/**
 * `server.static`: files served beside the hub (a built page), for every path the hub does not
 * answer. GET and HEAD only; `/` and directories are `index.html`; nothing outside the directory.
 * @module
 */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

function sendText(response: ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...extra }).end(text);
}

/** Creates the request listener serving `dir`. */
export function createStaticHandler(dir: string): (request: IncomingMessage, response: ServerResponse) => void {
  const root = normalize(dir + sep);
  return (request, response) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      sendText(response, 405, 'method not allowed', { allow: 'GET, HEAD' });
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    } catch {
      sendText(response, 400, 'bad path');
      return;
    }
    let file = normalize(join(root, path));
    if (!file.startsWith(root) && `${file}${sep}` !== root) {
      sendText(response, 404, 'not found');
      return;
    }
    void (async () => {
      try {
        if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
        const body = await readFile(file);
        response.writeHead(200, {
          'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
          'content-length': body.length,
          // Content-hashed assets (Vite's `assets/`) never change; everything else is revalidated.
          'cache-control': file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache',
        });
        response.end(request.method === 'HEAD' ? undefined : body);
      } catch {
        if (!response.headersSent) sendText(response, 404, 'not found');
      }
    })();
  };
}
