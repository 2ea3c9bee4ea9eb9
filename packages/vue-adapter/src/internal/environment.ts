/**
 * Where the code runs: a browser, or a server rendering HTML.
 * @module
 * @internal
 */
import { hasInjectionContext, inject, ssrContextKey } from 'vue';

/** True in a browser-like environment (a `window` and a `document`). @internal */
export function isBrowser(): boolean {
  return typeof window !== 'undefined' && typeof document !== 'undefined';
}

/**
 * True while rendering on the server: outside a browser, or inside an app rendered by
 * `vue/server-renderer` (which provides the SSR context, also under a DOM emulation).
 * @internal
 */
export function isServerRendering(): boolean {
  if (!isBrowser()) return true;
  return hasInjectionContext() && inject(ssrContextKey, null) !== null;
}
