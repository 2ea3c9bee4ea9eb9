/**
 * `createClient`: the registry, the status store and the connection manager, wired together.
 * @module
 */
import { SubscriptionHandle } from './channels/handle';
import { ChannelRegistry } from './channels/registry';
import { ConnectionManager } from './connection-manager';
import { clientError } from './errors';
import { isPublication } from './frame';
import { resolveOptions } from './options';
import { defaultEnvironment } from './platform/environment';
import { StatusStore } from './status-store';
import { getInit } from './transports/diagnose';
import type { ResolvedPlatform } from './transports/transport';
import type {
  ClientError,
  ClientOptions,
  ClientPlatform,
  ClientPublication,
  ConnectionState,
  SubscribeOptions,
  Subscription,
  TaskpulseClient,
} from './types';

/** The browser platform: the given constructors, else the globals. @internal */
export function globalPlatform(given: ClientPlatform | undefined): ResolvedPlatform {
  const g = globalThis as { WebSocket?: unknown; EventSource?: unknown; fetch?: typeof fetch };
  const f = given?.fetch ?? g.fetch;
  return {
    WebSocket: (given?.WebSocket ?? g.WebSocket) as ResolvedPlatform['WebSocket'],
    EventSource: (given?.EventSource ?? g.EventSource) as ResolvedPlatform['EventSource'],
    fetch: f
      ? (input, init) => f(input, init)
      : () => Promise.reject(new TypeError('no fetch implementation: pass platform.fetch')),
  };
}

/**
 * Creates a client with a platform resolver (the Node entry resolves `ws`/`eventsource` lazily).
 * @internal
 */
export function createClientWith(
  options: ClientOptions,
  resolvePlatform: () => Promise<ResolvedPlatform>,
): TaskpulseClient {
  const resolved = resolveOptions(options);
  const logger = resolved.logger;
  const report = (error: ClientError) => {
    logger?.warn(`taskpulse client: ${error.message}`, { code: error.code });
    try {
      options.onError?.(error);
    } catch (cause) {
      logger?.error('taskpulse client: onError threw', { cause });
    }
  };
  const store = new StatusStore((cause) => report(clientError('callback_error', 'a state listener threw', cause)));
  // One getToken() call at a time: concurrent connection attempts, probes and refresh() reads
  // share the call in flight instead of sending a storm of refreshes to the auth server.
  let tokenInFlight: Promise<string | null> | null = null;
  const getToken = (): Promise<string | null> => {
    const hook = options.getToken;
    if (!hook) return Promise.resolve(options.token ?? null);
    if (!tokenInFlight) {
      const call = (async () => (await hook()) ?? null)();
      tokenInFlight = call;
      const done = () => {
        if (tokenInFlight === call) tokenInFlight = null;
      };
      call.then(done, done);
    }
    return tokenInFlight;
  };
  let manager: ConnectionManager | undefined;
  const registry = new ChannelRegistry({
    changed: () => manager?.channelsChanged(),
    report,
    gap: (channel, expected, got) =>
      logger?.warn(`taskpulse client: ${channel} skipped from offset ${expected} to ${got}`, { channel }),
    readState: async (channel) => {
      const token = manager ? await manager.token() : await getToken();
      const platform = await resolvePlatform();
      const response = await platform.fetch(
        `${resolved.httpBase}/channels/${encodeURIComponent(channel)}/state`,
        getInit(token, resolved.withCredentials),
      );
      if (!response.ok) {
        let message = `HTTP ${response.status}`;
        let code = `http_${response.status}`;
        try {
          const body = (await response.json()) as { error?: { code?: string; message?: string } };
          code = body.error?.code ?? code;
          message = body.error?.message ?? message;
        } catch {
          // no JSON body
        }
        throw clientError(code, `reading the state of ${channel}: ${message}`);
      }
      const body = (await response.json()) as { latest?: unknown };
      if (body.latest === null || body.latest === undefined) return null;
      if (!isPublication(body.latest)) throw clientError('bad_frame', `state of ${channel}: not a publication`);
      return body.latest as ClientPublication;
    },
  });
  manager = new ConnectionManager({
    registry,
    options: resolved,
    store,
    environment: options.platform?.environment ?? defaultEnvironment(),
    resolvePlatform,
    getToken,
    canRefreshToken: typeof options.getToken === 'function',
    report,
  });
  const m = manager;
  let closed = false;
  m.start();
  return {
    get state(): ConnectionState {
      return store.state;
    },
    onStateChange: (listener) => store.listen(listener),
    subscribe<T = unknown>(channel: string, subscribeOptions: SubscribeOptions<T> = {}): Subscription<T> {
      if (closed) {
        // An inert handle: nothing is registered or sent; its onError gets `closed` (a component
        // unmounting after close() must not throw).
        const error = clientError(
          'closed',
          `subscribe(${JSON.stringify(channel)}) after close(): the client is closed`,
        );
        const handle = new SubscriptionHandle<T>(channel, subscribeOptions, {
          kind: null,
          position: null,
          remove: () => {},
          refresh: () => Promise.reject(error),
          report: () => {},
        });
        queueMicrotask(() => handle.error(error));
        return handle;
      }
      return registry.subscribe(channel, subscribeOptions);
    },
    retryWebSocket: () => m.retryBest(),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      m.close();
      registry.clear();
      store.clear();
    },
  };
}

/**
 * Creates a taskpulse client: WebSocket first, then SSE, then HTTP polling (`transports: 'auto'`),
 * resuming every channel from its last position on every reconnect and transport switch.
 *
 * In browsers the native `WebSocket`, `EventSource` and `fetch` are used. In Node ≥ 20, import the
 * package normally: its Node build picks up `ws` and `eventsource` when installed, or pass them in
 * `platform`.
 *
 * @example
 * ```ts
 * const client = createClient({ url: 'https://app.example.com', getToken: () => auth.token });
 * const sub = client.subscribe('task:8f2c', {
 *   schema: taskProgressSchema,
 *   onPublication: (p) => render(p.data),
 *   onRecoveryFailed: () => refetchTask(),
 * });
 * client.onStateChange((s) => indicator.set(s.status, s.transport));
 * ```
 */
export function createClient(options: ClientOptions): TaskpulseClient {
  const platform = globalPlatform(options?.platform);
  return createClientWith(options, async () => platform);
}
