/**
 * Serves the built page (`dist/page`, written by `vite build`) for the example's server.
 */
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `vite build` writes the page. */
export const PAGE_DIR = fileURLToPath(new URL('../dist/page', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Thrown when the page has not been built. */
export class PageNotBuiltError extends Error {
  constructor(dir: string) {
    super(
      `the page is not built (no ${join(dir, 'index.html')}): run "npm run build -w @taskpulse/example-worker-status"`,
    );
    this.name = 'PageNotBuiltError';
  }
}

/** Checks that the page was built. @throws {@link PageNotBuiltError} */
export async function assertPageBuilt(dir = PAGE_DIR): Promise<void> {
  try {
    await stat(join(dir, 'index.html'));
  } catch {
    throw new PageNotBuiltError(dir);
  }
}

/**
 * Creates a request handler for the files under `dir` (GET and HEAD only; `/` is `index.html`;
 * nothing outside `dir`). Unknown paths answer 404.
 */
export function createStaticHandler(dir = PAGE_DIR): (request: IncomingMessage, response: ServerResponse) => void {
  const root = normalize(dir + sep);
  return (request, response) => {
    const send = (status: number, body: string) =>
      response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, 'method not allowed');
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    } catch {
      send(400, 'bad path');
      return;
    }
    const file = normalize(join(root, path === '/' ? 'index.html' : path));
    if (!file.startsWith(root)) {
      send(404, 'not found');
      return;
    }
    readFile(file).then(
      (body) => {
        const hashed = file.includes(`${sep}assets${sep}`);
        response.writeHead(200, {
          'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
          'content-length': body.length,
          // Vite's asset names carry a content hash; index.html must always be revalidated.
          'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
        });
        response.end(request.method === 'HEAD' ? undefined : body);
      },
      () => send(404, 'not found'),
    );
  };
}
