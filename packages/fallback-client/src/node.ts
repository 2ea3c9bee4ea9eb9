/**
 * The Node build of `@taskpulse/fallback-client` (selected by the `node` export condition): the
 * same API, but `createClient` picks up `ws` and `eventsource` when they are installed and the
 * platform has no global `WebSocket`/`EventSource` (Node 20). Never part of the browser bundle.
 *
 * @packageDocumentation
 */
import { createClientWith, globalPlatform } from './client';
import type { ResolvedPlatform } from './transports/transport';
import type { ClientOptions, EventSourceConstructor, TaskpulseClient, WebSocketConstructor } from './types';

export * from './index';

async function optional<T>(load: () => Promise<T>): Promise<T | undefined> {
  try {
    return await load();
  } catch {
    return undefined; // not installed: that transport is left out of `auto`
  }
}

/** Resolves the Node platform: given constructors, globals, then the optional peers. @internal */
export async function nodePlatform(options: ClientOptions): Promise<ResolvedPlatform> {
  const platform = globalPlatform(options.platform);
  if (!platform.WebSocket) {
    // biome-ignore lint/style/noRestrictedImports: Node-only entry; `ws` is the optional peer that provides WebSocket in Node 20.
    const ws = await optional(() => import('ws'));
    platform.WebSocket = (ws?.WebSocket ?? ws?.default) as unknown as WebSocketConstructor | undefined;
  }
  if (!platform.EventSource) {
    const es = await optional(() => import('eventsource'));
    platform.EventSource = es?.EventSource as unknown as EventSourceConstructor | undefined;
  }
  return platform;
}

/**
 * Creates a taskpulse client (Node build): like the browser `createClient`, and in Node 20 it
 * uses `ws` and `eventsource` when installed (optional peer dependencies) unless
 * `platform.WebSocket` / `platform.EventSource` are given.
 *
 * @example
 * ```ts
 * import { createClient } from '@taskpulse/fallback-client';
 * const client = createClient({ url: 'http://127.0.0.1:3000', token });
 * client.subscribe('processor:status', {
 *   onState: (latest) => render(latest?.data),
 *   onPublication: (publication) => render(publication.data),
 * });
 * ```
 */
export function createClient(options: ClientOptions): TaskpulseClient {
  return createClientWith(options, () => nodePlatform(options));
}
