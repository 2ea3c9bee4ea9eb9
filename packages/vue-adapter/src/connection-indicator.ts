/**
 * `ConnectionIndicator`: realtime / polling / offline / unauthorized, a "retry WebSocket" action
 * and the one-time "switched to polling" notice (seed 004 §6). Unstyled: style it by its classes.
 * @module
 */
import type { TaskpulseClient, TransportName } from '@taskpulse/fallback-client';
import {
  computed,
  createTextVNode,
  type DefineSetupFnComponent,
  defineComponent,
  h,
  type PropType,
  type SetupContext,
  type SlotsType,
  shallowRef,
  type VNode,
  watch,
} from 'vue';
import { type ConnectionIndicatorLabels, DEFAULT_INDICATOR_LABELS } from './connection-indicator-labels';
import { hideNoticeForever, isNoticeHidden } from './internal/notice-storage';
import { type ConnectionMode, useConnectionStatus } from './use-connection-status';

/** The localStorage key remembering "don't show again" by default. */
export const DEFAULT_NOTICE_STORAGE_KEY = 'taskpulse:polling-notice-hidden';

/** What the indicator's `default` slot receives (to render the status yourself). */
export interface ConnectionIndicatorSlotProps {
  /** realtime, polling, connecting, offline, unauthorized or closed. */
  mode: ConnectionMode;
  /** The transport in use, or null. */
  transport: TransportName | null;
  /** The polling interval while polling, in milliseconds, else null. */
  pollingIntervalMs: number | null;
  /** Whole seconds since the last message, or null. */
  lastMessageAgeSeconds: number | null;
  /** False while the hub reports its live data source down. */
  liveDataAvailable: boolean;
  /** The text the indicator would show. */
  label: string;
  /** Whether a "retry WebSocket" action makes sense now (polling, offline, or realtime over SSE). */
  canRetry: boolean;
  /** Tries WebSocket again now. */
  retryWebSocket: () => void;
}

/** What the indicator's `notice` slot receives (to render the polling notice yourself). */
export interface ConnectionIndicatorNoticeSlotProps {
  /** The polling interval, in milliseconds, or null. */
  pollingIntervalMs: number | null;
  /** Tries WebSocket again now. */
  retryWebSocket: () => void;
  /** Hides the notice for this page. */
  dismiss: () => void;
  /** Hides the notice for good (remembered in localStorage when available). */
  dismissForever: () => void;
}

/** Props of {@link ConnectionIndicator}. */
export interface ConnectionIndicatorProps {
  /** The client to show (read once, when the component is created). @default the one the plugin provides */
  client?: TaskpulseClient;
  /** Texts; missing ones take {@link DEFAULT_INDICATOR_LABELS}. */
  labels?: Partial<ConnectionIndicatorLabels>;
  /** Whether to show "updated N s ago". @default true */
  showAge?: boolean;
  /** Whether to show the one-time "switched to polling" notice. @default true */
  showNotice?: boolean;
  /** The localStorage key remembering "don't show again". @default {@link DEFAULT_NOTICE_STORAGE_KEY} */
  storageKey?: string;
  /** The root element's tag. @default 'div' */
  tag?: string;
}

/** Events of {@link ConnectionIndicator}. */
export type ConnectionIndicatorEmits = {
  /** The retry action was used. */
  retry: () => true;
  /** The notice was closed; `forever` for "don't show again". */
  'dismiss-notice': (info: { forever: boolean }) => boolean;
};

/** Slots of {@link ConnectionIndicator}. */
export interface ConnectionIndicatorSlots {
  /** Replaces dot, text, freshness and retry button. */
  default: ConnectionIndicatorSlotProps;
  /** Replaces the notice's content. */
  notice: ConnectionIndicatorNoticeSlotProps;
}

/** The type of {@link ConnectionIndicator}. */
export type ConnectionIndicatorComponent = DefineSetupFnComponent<
  ConnectionIndicatorProps,
  ConnectionIndicatorEmits,
  SlotsType<ConnectionIndicatorSlots>
>;

/**
 * A connection indicator, unstyled: every element carries a class (BEM, prefix
 * `taskpulse-indicator`) and the root a modifier and `data-mode` for the current mode.
 *
 * | element | class |
 * |---|---|
 * | root | `taskpulse-indicator taskpulse-indicator--{mode}` (+ `taskpulse-indicator--live-unavailable`), `data-mode`, `data-transport` |
 * | dot | `taskpulse-indicator__dot` (empty, `aria-hidden`) |
 * | text | `taskpulse-indicator__label` (`role="status"`) |
 * | live data paused | `taskpulse-indicator__live-unavailable` |
 * | freshness | `taskpulse-indicator__age` |
 * | retry button | `taskpulse-indicator__retry` |
 * | notice | `taskpulse-indicator__notice` with `__notice-text`, `__notice-retry`, `__notice-dismiss`, `__notice-never` |
 *
 * Slots: `default` (scoped, {@link ConnectionIndicatorSlotProps}) replaces dot, text, freshness and
 * retry button; `notice` (scoped, {@link ConnectionIndicatorNoticeSlotProps}) replaces the notice's content.
 * Events: `retry` when the retry action is used; `dismiss-notice` with `{ forever }`.
 *
 * The notice appears once, when automatic mode falls back to polling; "Close" hides it for the
 * page, "Don't show again" also stores `storageKey` in localStorage (when the browser allows).
 */
export const ConnectionIndicator: ConnectionIndicatorComponent = defineComponent(
  (
    props: ConnectionIndicatorProps,
    { slots, emit }: SetupContext<ConnectionIndicatorEmits, SlotsType<ConnectionIndicatorSlots>>,
  ) => {
    const connection = useConnectionStatus(props.client ? { client: props.client } : {});
    const labels = computed<ConnectionIndicatorLabels>(() => ({ ...DEFAULT_INDICATOR_LABELS, ...props.labels }));
    const dismissed = shallowRef(isNoticeHidden(props.storageKey ?? DEFAULT_NOTICE_STORAGE_KEY));
    const noticeVisible = computed(
      () =>
        props.showNotice !== false &&
        !dismissed.value &&
        connection.switchedToPolling.value &&
        connection.mode.value === 'polling',
    );
    // One-time: once shown, the notice does not come back after the connection recovers.
    watch(noticeVisible, (visible, was) => {
      if (was && !visible && connection.mode.value !== 'polling') dismissed.value = true;
    });

    const label = computed(() => {
      const l = labels.value;
      const mode = connection.mode.value;
      switch (mode) {
        case 'realtime':
          return l.realtime(connection.transport.value ?? 'websocket');
        case 'polling':
          return l.polling(connection.pollingIntervalMs.value);
        default:
          return l[mode];
      }
    });
    const canRetry = computed(() => {
      const mode = connection.mode.value;
      return mode === 'polling' || mode === 'offline' || (mode === 'realtime' && connection.transport.value === 'sse');
    });
    const retry = () => {
      connection.retryWebSocket();
      emit('retry');
    };
    const dismiss = () => {
      dismissed.value = true;
      emit('dismiss-notice', { forever: false });
    };
    const dismissForever = () => {
      dismissed.value = true;
      hideNoticeForever(props.storageKey ?? DEFAULT_NOTICE_STORAGE_KEY);
      emit('dismiss-notice', { forever: true });
    };

    const button = (className: string, text: string, onClick: () => void) =>
      h('button', { type: 'button', class: className, onClick }, text);

    const renderStatus = (): VNode[] => {
      const l = labels.value;
      const age = connection.lastMessageAgeSeconds.value;
      const nodes: VNode[] = [
        h('span', { class: 'taskpulse-indicator__dot', 'aria-hidden': 'true' }),
        h('span', { class: 'taskpulse-indicator__label', role: 'status' }, label.value),
      ];
      if (!connection.liveDataAvailable.value) {
        nodes.push(h('span', { class: 'taskpulse-indicator__live-unavailable' }, l.liveDataUnavailable));
      }
      if (props.showAge !== false && age !== null)
        nodes.push(h('span', { class: 'taskpulse-indicator__age' }, l.updatedAgo(age)));
      if (canRetry.value) nodes.push(button('taskpulse-indicator__retry', l.retryWebSocket, retry));
      // A space between the parts, so the indicator reads well without any stylesheet.
      return nodes.flatMap((node, i) => (i === 0 ? [node] : [createTextVNode(' '), node]));
    };

    const renderNotice = (): VNode => {
      const l = labels.value;
      const interval = connection.pollingIntervalMs.value;
      const content = slots.notice
        ? slots.notice({ pollingIntervalMs: interval, retryWebSocket: retry, dismiss, dismissForever })
        : [
            h('span', { class: 'taskpulse-indicator__notice-text' }, l.switchedToPolling(interval)),
            button('taskpulse-indicator__notice-retry', l.retryWebSocket, retry),
            button('taskpulse-indicator__notice-dismiss', l.dismiss, dismiss),
            button('taskpulse-indicator__notice-never', l.dontShowAgain, dismissForever),
          ];
      return h('div', { class: 'taskpulse-indicator__notice', role: 'status' }, content);
    };

    return () => {
      const mode = connection.mode.value;
      const classes = ['taskpulse-indicator', `taskpulse-indicator--${mode}`];
      if (!connection.liveDataAvailable.value) classes.push('taskpulse-indicator--live-unavailable');
      const status = slots.default
        ? slots.default({
            mode,
            transport: connection.transport.value,
            pollingIntervalMs: connection.pollingIntervalMs.value,
            lastMessageAgeSeconds: connection.lastMessageAgeSeconds.value,
            liveDataAvailable: connection.liveDataAvailable.value,
            label: label.value,
            canRetry: canRetry.value,
            retryWebSocket: retry,
          })
        : renderStatus();
      return h(
        props.tag ?? 'div',
        { class: classes, 'data-mode': mode, 'data-transport': connection.transport.value ?? 'none' },
        noticeVisible.value ? [...status, renderNotice()] : status,
      );
    };
  },
  {
    name: 'ConnectionIndicator',
    props: {
      client: { type: Object as PropType<TaskpulseClient>, default: undefined },
      labels: { type: Object as PropType<Partial<ConnectionIndicatorLabels>>, default: undefined },
      showAge: { type: Boolean, default: true },
      showNotice: { type: Boolean, default: true },
      storageKey: { type: String, default: DEFAULT_NOTICE_STORAGE_KEY },
      tag: { type: String, default: 'div' },
    },
    emits: {
      retry: () => true as const,
      'dismiss-notice': (info: { forever: boolean }) => typeof info?.forever === 'boolean',
    },
    slots: Object as SlotsType<ConnectionIndicatorSlots>,
  },
);
