/**
 * Finds the client a composable uses.
 * @module
 * @internal
 */
import type { TaskpulseClient } from '@taskpulse/fallback-client';
import { getCurrentScope, hasInjectionContext, inject } from 'vue';
import { TASKPULSE_CONTEXT } from '../plugin';
import { isServerRendering } from './environment';

/**
 * The client for a composable: the explicit one, else the plugin's. Null while rendering on the
 * server (the composable then returns its empty state and connects nothing).
 * @throws TypeError when neither a client nor the plugin is available, or outside an effect scope.
 * @internal
 */
export function resolveClient(name: string, explicit: TaskpulseClient | undefined): TaskpulseClient | null {
  if (!getCurrentScope()) {
    // Without a scope nothing would ever release the subscription.
    throw new TypeError(`${name}() must be called inside a component's setup() or an effectScope()`);
  }
  if (explicit) return isServerRendering() ? null : explicit;
  const context = hasInjectionContext() ? inject(TASKPULSE_CONTEXT, null) : null;
  if (!context) {
    throw new TypeError(
      `${name}(): no taskpulse client: install the plugin (app.use(taskpulse, { url })) or pass { client }`,
    );
  }
  return isServerRendering() ? null : context.getClient();
}
