/**
 * `@taskpulse/vue-adapter`: taskpulse for Vue 3. A plugin sharing one client, composables for the
 * connection status, a state channel's value, a channel's recent events and a task's progress, and
 * an unstyled connection indicator. No WebSocket code, no reconnect timers, no cleanup in your
 * components; nothing connects during server rendering.
 *
 * @packageDocumentation
 */

// Component
export {
  ConnectionIndicator,
  type ConnectionIndicatorComponent,
  type ConnectionIndicatorEmits,
  type ConnectionIndicatorNoticeSlotProps,
  type ConnectionIndicatorProps,
  type ConnectionIndicatorSlotProps,
  type ConnectionIndicatorSlots,
  DEFAULT_NOTICE_STORAGE_KEY,
} from './connection-indicator';
export { type ConnectionIndicatorLabels, DEFAULT_INDICATOR_LABELS } from './connection-indicator-labels';
// Plugin
export {
  type TaskpulseCreateOptions,
  type TaskpulsePluginOptions,
  type TaskpulseProvideOptions,
  taskpulse,
} from './plugin';
// Composables
export {
  type UseChannelEventsOptions,
  type UseChannelEventsReturn,
  useChannelEvents,
} from './use-channel-events';
export { type UseChannelStateOptions, type UseChannelStateReturn, useChannelState } from './use-channel-state';
export {
  type ConnectionMode,
  connectionModeOf,
  INITIAL_CONNECTION_STATE,
  type UseConnectionStatusOptions,
  type UseConnectionStatusReturn,
  useConnectionStatus,
} from './use-connection-status';
export {
  type TaskSteps,
  type UseTaskProgressOptions,
  type UseTaskProgressReturn,
  useTaskProgress,
} from './use-task-progress';
export { useTaskpulseClient } from './use-taskpulse-client';
