/**
 * The texts of {@link ConnectionIndicator}, replaceable for other languages.
 * @module
 */

/** Texts of the connection indicator; pass some or all through its `labels` prop. */
export interface ConnectionIndicatorLabels {
  /** Realtime, with the transport (`websocket` or `sse`). */
  realtime: (transport: string) => string;
  /** Polling, with the interval in milliseconds (null when unknown). */
  polling: (intervalMs: number | null) => string;
  /** Before the first answer. */
  connecting: string;
  /** The browser is offline or every attempt fails. */
  offline: string;
  /** The hub refused the credentials. */
  unauthorized: string;
  /** The client was closed. */
  closed: string;
  /** Appended while the hub reports its live data source down. */
  liveDataUnavailable: string;
  /** Freshness, with whole seconds since the last message. */
  updatedAgo: (seconds: number) => string;
  /** The retry button. */
  retryWebSocket: string;
  /** The one-time notice after falling back to polling, with the interval in milliseconds. */
  switchedToPolling: (intervalMs: number | null) => string;
  /** Closes the notice for this page. */
  dismiss: string;
  /** Closes the notice for good (remembered in localStorage). */
  dontShowAgain: string;
}

const seconds = (ms: number | null) => (ms === null ? null : Math.round(ms / 1000));

/** The default (English) texts. */
export const DEFAULT_INDICATOR_LABELS: Readonly<ConnectionIndicatorLabels> = Object.freeze({
  realtime: (transport: string) => `Realtime (${transport === 'sse' ? 'SSE' : 'WebSocket'})`,
  polling: (intervalMs: number | null) => {
    const s = seconds(intervalMs);
    return s === null ? 'Polling' : `Polling (every ${s} s)`;
  },
  connecting: 'Connecting…',
  offline: 'Offline',
  unauthorized: 'Not authorized',
  closed: 'Disconnected',
  liveDataUnavailable: 'live data paused',
  updatedAgo: (s: number) => `updated ${s} s ago`,
  retryWebSocket: 'Retry WebSocket',
  switchedToPolling: (intervalMs: number | null) => {
    const s = seconds(intervalMs);
    return `Realtime push is unavailable; switched to polling${s === null ? '' : ` (every ${s} s)`}. Updates may be delayed.`;
  },
  dismiss: 'Close',
  dontShowAgain: "Don't show again",
});
