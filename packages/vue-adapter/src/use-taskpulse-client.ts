/**
 * `useTaskpulseClient`: the shared client itself, for what the composables do not cover.
 * @module
 */
import type { TaskpulseClient } from '@taskpulse/fallback-client';
import { hasInjectionContext, inject } from 'vue';
import { isServerRendering } from './internal/environment';
import { TASKPULSE_CONTEXT } from './plugin';

/**
 * The client the plugin shares (created on first use), or null during server rendering. Whatever
 * you subscribe through it directly is yours to unsubscribe.
 * @throws TypeError outside `setup()` (or `app.runWithContext`) or without the plugin.
 */
export function useTaskpulseClient(): TaskpulseClient | null {
  const context = hasInjectionContext() ? inject(TASKPULSE_CONTEXT, null) : null;
  if (!context) {
    throw new TypeError(
      'useTaskpulseClient(): no taskpulse plugin: app.use(taskpulse, { url }) and call it in setup()',
    );
  }
  return isServerRendering() ? null : context.getClient();
}
