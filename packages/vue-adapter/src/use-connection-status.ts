/**
 * `useConnectionStatus`: the shared connection's state as refs, with a ticking freshness value.
 * @module
 */
import type {
  ClientError,
  ConnectionState,
  ConnectionStatus,
  TaskpulseClient,
  TransportName,
} from '@taskpulse/fallback-client';
import { type ComputedRef, computed, onScopeDispose, type Ref, shallowRef } from 'vue';
import { resolveClient } from './internal/resolve-client';

/**
 * What the connection looks like to a user:
 * - `realtime`: pushed over WebSocket or Server-Sent Events;
 * - `polling`: fetched periodically over HTTP (see `pollingIntervalMs`);
 * - `connecting`: before the first answer (also during server rendering);
 * - `offline`: the browser is offline or every attempt fails;
 * - `unauthorized`: the hub refused the credentials and `getToken()` could not fix it;
 * - `closed`: the client was closed.
 */
export type ConnectionMode = 'realtime' | 'polling' | 'connecting' | 'offline' | 'unauthorized' | 'closed';

/** The state shown before the client exists (server rendering) and as the initial value. */
export const INITIAL_CONNECTION_STATE: Readonly<ConnectionState> = Object.freeze({
  status: 'connecting',
  transport: null,
  pollingIntervalMs: null,
  lastMessageAt: null,
  liveDataAvailable: true,
  error: null,
  switchedToPolling: false,
});

/** Maps a client state to the {@link ConnectionMode} an indicator shows. */
export function connectionModeOf(state: Pick<ConnectionState, 'status' | 'transport'>): ConnectionMode {
  switch (state.status) {
    case 'connected':
    case 'degraded':
      if (state.transport === 'polling') return 'polling';
      return state.transport === null ? 'connecting' : 'realtime';
    default:
      return state.status;
  }
}

/** Options of {@link useConnectionStatus}. */
export interface UseConnectionStatusOptions {
  /** The client to watch. @default the one the plugin provides */
  client?: TaskpulseClient;
  /**
   * How often `lastMessageAgeMs` ticks, in milliseconds; 0 turns the ticking off.
   * @default 1000
   */
  freshnessIntervalMs?: number;
}

/** What {@link useConnectionStatus} returns. */
export interface UseConnectionStatusReturn {
  /** The client's whole state, replaced on every change. */
  state: ComputedRef<Readonly<ConnectionState>>;
  /** The client's status. */
  status: ComputedRef<ConnectionStatus>;
  /** What to show: realtime, polling, connecting, offline, unauthorized or closed. */
  mode: ComputedRef<ConnectionMode>;
  /** The transport in use, or null. */
  transport: ComputedRef<TransportName | null>;
  /** The polling interval while polling, in milliseconds, else null. */
  pollingIntervalMs: ComputedRef<number | null>;
  /** `Date.now()` of the last frame or response carrying data or a heartbeat, or null. */
  lastMessageAt: ComputedRef<number | null>;
  /**
   * Milliseconds since `lastMessageAt`, re-evaluated every `freshnessIntervalMs` (seed 004's
   * "updated N s ago"); null before the first message.
   */
  lastMessageAgeMs: Readonly<Ref<number | null>>;
  /** Whole seconds since `lastMessageAt` (for "updated N s ago"), or null. */
  lastMessageAgeSeconds: ComputedRef<number | null>;
  /** False while the hub reports its live data source down (values may be stale). */
  liveDataAvailable: ComputedRef<boolean>;
  /** True once automatic mode fell back to polling (for a one-time notice). */
  switchedToPolling: ComputedRef<boolean>;
  /** The last connection-level error, or null. */
  error: ComputedRef<ClientError | null>;
  /** Tries WebSocket again now (seed 004's "retry WebSocket" button). Does nothing during SSR. */
  retryWebSocket(): void;
}

/**
 * The shared connection's state as refs: status, transport, polling interval, last message time,
 * a ticking freshness value, and `retryWebSocket()`. Cleaned up with the component or effect scope;
 * during server rendering it returns the initial `connecting` state and starts no timer.
 *
 * @example
 * ```ts
 * const { mode, pollingIntervalMs, lastMessageAgeSeconds, retryWebSocket } = useConnectionStatus();
 * ```
 */
export function useConnectionStatus(options: UseConnectionStatusOptions = {}): UseConnectionStatusReturn {
  const intervalMs = options.freshnessIntervalMs ?? 1000;
  if (!Number.isFinite(intervalMs) || intervalMs < 0) {
    throw new TypeError(`useConnectionStatus: freshnessIntervalMs must be a number >= 0, got ${String(intervalMs)}`);
  }
  const client = resolveClient('useConnectionStatus', options.client);
  const state = shallowRef<Readonly<ConnectionState>>(client ? client.state : INITIAL_CONNECTION_STATE);
  const now = shallowRef(Date.now());

  if (client) {
    const off = client.onStateChange((next) => {
      state.value = next; // a new object on every change
      now.value = Date.now();
    });
    const timer =
      intervalMs > 0
        ? setInterval(() => {
            now.value = Date.now();
          }, intervalMs)
        : undefined;
    onScopeDispose(() => {
      off();
      if (timer !== undefined) clearInterval(timer);
    });
  }

  const lastMessageAt = computed(() => state.value.lastMessageAt);
  const lastMessageAgeMs = computed(() =>
    lastMessageAt.value === null ? null : Math.max(0, now.value - lastMessageAt.value),
  );
  return {
    state: computed(() => state.value),
    status: computed(() => state.value.status),
    mode: computed(() => connectionModeOf(state.value)),
    transport: computed(() => state.value.transport),
    pollingIntervalMs: computed(() => state.value.pollingIntervalMs),
    lastMessageAt,
    lastMessageAgeMs,
    lastMessageAgeSeconds: computed(() =>
      lastMessageAgeMs.value === null ? null : Math.floor(lastMessageAgeMs.value / 1000),
    ),
    liveDataAvailable: computed(() => state.value.liveDataAvailable),
    switchedToPolling: computed(() => state.value.switchedToPolling),
    error: computed(() => state.value.error),
    retryWebSocket() {
      client?.retryWebSocket();
    },
  };
}
