/**
 * Serves the dashboard's built files from a directory: no path outside it, a content type per
 * extension, long caching for hashed assets, none for the page.
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Headers on every dashboard response: no sniffing, no framing, no referrer outside the origin (form posts keep their `Origin`). @internal */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
});

/** The page's content security policy: its own scripts only, connections to its own origin only. @internal */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/**
 * Reads `relative` under `root`; resolves null when the file does not exist or the path leaves
 * the directory (`..`, absolute paths, encoded separators are refused before any file access).
 * @internal
 */
export async function readStaticFile(
  root: string,
  relative: string,
): Promise<{ body: Buffer; contentType: string } | null> {
  if (relative.includes('\0') || relative.includes('\\')) return null;
  const base = resolve(root);
  const full = resolve(base, `.${sep}${relative}`);
  if (!full.startsWith(base + sep)) return null;
  try {
    const body = await readFile(full);
    return { body, contentType: TYPES[extname(full).toLowerCase()] ?? 'application/octet-stream' };
  } catch {
    return null;
  }
}

/**
 * Writes a file response.
 * @param immutable - a content-hashed asset (cached for a year by this browser only)
 * @internal
 */
export function sendFile(
  response: ServerResponse,
  file: { body: Buffer; contentType: string },
  immutable: boolean,
  headers: Record<string, string> = {},
): void {
  response.writeHead(200, {
    ...SECURITY_HEADERS,
    ...headers,
    'content-type': file.contentType,
    'content-length': file.body.length,
    'cache-control': immutable ? 'private, max-age=31536000, immutable' : 'no-store',
  });
  response.end(file.body);
}
