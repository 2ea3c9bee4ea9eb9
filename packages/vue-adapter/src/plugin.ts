/**
 * The plugin: one shared client per app, provided to every composable.
 * @module
 */
import { type ClientOptions, createClient, type TaskpulseClient } from '@taskpulse/fallback-client';
import type { App, InjectionKey, Plugin } from 'vue';
import { isBrowser } from './internal/environment';

/** Options of the plugin when it creates the client: the client's own options. */
export interface TaskpulseCreateOptions extends ClientOptions {
  /** Not allowed together with the client options. */
  client?: undefined;
}

/** Options of the plugin when you created the client yourself. */
export interface TaskpulseProvideOptions {
  /** The client to share. */
  client: TaskpulseClient;
  /**
   * Whether `app.unmount()` closes the client.
   * @default false (you created it, you close it)
   */
  closeOnUnmount?: boolean;
}

/**
 * Options of {@link taskpulse}: either the client's options (the plugin creates the client on the
 * first use in a browser, never during server rendering, and closes it on `app.unmount()`), or
 * `{ client }` to share a client you created.
 */
export type TaskpulsePluginOptions = TaskpulseCreateOptions | TaskpulseProvideOptions;

/**
 * What the plugin provides: a lazy getter, so that server rendering never creates a client.
 * @internal
 */
export interface TaskpulseContext {
  /** The shared client, created on first call in a browser; null during server rendering. */
  getClient(): TaskpulseClient | null;
}

/** @internal */
export const TASKPULSE_CONTEXT: InjectionKey<TaskpulseContext> = Symbol('taskpulse');

function isProvideOptions(options: TaskpulsePluginOptions): options is TaskpulseProvideOptions {
  return options.client !== undefined;
}

/**
 * Creates the context for one app. Exported for the composables' `client` option.
 * @internal
 */
export function createTaskpulseContext(options: TaskpulsePluginOptions): {
  context: TaskpulseContext;
  close(): Promise<void>;
} {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('taskpulse plugin: options must be an object: app.use(taskpulse, { url }) or { client }');
  }
  if (isProvideOptions(options)) {
    const { client } = options;
    if (typeof client.subscribe !== 'function' || typeof client.onStateChange !== 'function') {
      throw new TypeError('taskpulse plugin: options.client must be a TaskpulseClient (createClient())');
    }
    return {
      context: { getClient: () => client },
      close: () => (options.closeOnUnmount ? client.close() : Promise.resolve()),
    };
  }
  if (typeof options.url !== 'string' || options.url.length === 0) {
    throw new TypeError('taskpulse plugin: options.url must be the hub URL, e.g. { url: "https://example.com" }');
  }
  let client: TaskpulseClient | null = null;
  let closed = false;
  return {
    context: {
      getClient() {
        // Never connect while rendering on the server (or after the app was unmounted).
        if (client === null && !closed && isBrowser()) client = createClient(options);
        return client;
      },
    },
    close() {
      closed = true;
      const created = client;
      client = null;
      return created ? created.close() : Promise.resolve();
    },
  };
}

/**
 * The Vue plugin: shares one taskpulse client with every component of the app. Components share
 * its one connection, and a channel used by several components is subscribed once.
 *
 * @example the plugin creates the client (lazily, in the browser only)
 * ```ts
 * createApp(App).use(taskpulse, { url: 'https://status.example.com', getToken: () => auth.token }).mount('#app');
 * ```
 * @example share a client you created
 * ```ts
 * const client = createClient({ url: 'https://status.example.com' });
 * createApp(App).use(taskpulse, { client }).mount('#app');
 * ```
 */
export const taskpulse: Plugin<[TaskpulsePluginOptions]> = {
  install(app: App, options: TaskpulsePluginOptions) {
    const { context, close } = createTaskpulseContext(options);
    app.provide(TASKPULSE_CONTEXT, context);
    app.onUnmount(() => {
      // Closing is asynchronous; a failure to close has no one to report to but the client's logger.
      close().catch(() => {});
    });
  },
};
