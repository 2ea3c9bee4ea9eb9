/**
 * Parsing of a request's target (`request.url`), shared by the HTTP and WebSocket bindings.
 * @module
 */

/**
 * Parses a request target into a URL, or null when it cannot be parsed. Paths are concatenated
 * onto a fixed origin rather than resolved against the client's `Host`, so `//host/path` stays a
 * path and a forged `Host` header cannot change what is parsed.
 * @internal
 */
export function parseRequestUrl(raw: string | undefined): URL | null {
  const target = raw ?? '/';
  try {
    return target.startsWith('/') ? new URL(`http://localhost${target}`) : new URL(target);
  } catch {
    return null;
  }
}
