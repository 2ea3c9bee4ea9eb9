import { channels } from '@taskpulse/protocol';
import { type CeleryTaskNotice, celeryTaskNoticeSchema, workerStatusSchema } from '@taskpulse/protocol/payloads';
import {
  ConnectionIndicator,
  taskpulse,
  useChannelEvents,
  useChannelState,
  useConnectionStatus,
  useTaskProgress,
} from '@taskpulse/vue-adapter';
import { computed, createApp, defineComponent, h, type PropType } from 'vue';

/** Seed 000's worker status panel, seed 002's last 20 notifications and seed 001's task progress. */
export const WorkerPanel = defineComponent({
  name: 'WorkerPanel',
  props: {
    /** The task whose progress is shown; null shows none. */
    taskId: { type: String as PropType<string | null>, default: null },
  },
  setup(props) {
    // Seed 000: the `status` object, filled on open, kept current, with a manual refresh button.
    const {
      data: status,
      error,
      refresh,
    } = useChannelState(channels.processorStatus(), {
      schema: workerStatusSchema,
    });
    // Seed 004 §6.3: "updated 3 s ago (polling)".
    const { lastMessageAgeSeconds, transport } = useConnectionStatus();
    // Seed 002: every task notification, newest first, the last 20 only.
    const { events: notices } = useChannelEvents<CeleryTaskNotice>(channels.celeryTasks(), {
      schema: celeryTaskNoticeSchema,
      limit: 20,
      order: 'newest-first',
    });
    // Seed 001: one task's progress; a new taskId resubscribes.
    const task = useTaskProgress(() => props.taskId);

    const freshness = computed(() =>
      lastMessageAgeSeconds.value === null ? '' : `updated ${lastMessageAgeSeconds.value} s ago (${transport.value})`,
    );

    return () =>
      h('section', { class: 'worker-panel' }, [
        h(ConnectionIndicator),
        h('h2', 'Processor'),
        status.value === null
          ? h('p', { class: 'loading' }, error.value ? `Error: ${error.value.message}` : 'Loading…')
          : h('dl', [
              h('dt', 'Running'),
              h('dd', { class: 'running' }, status.value.running ? 'yes' : 'no'),
              h('dt', 'Workers'),
              h('dd', { class: 'workers' }, String(status.value.workers)),
              h('dt', 'Pending / retry / dead'),
              h('dd', { class: 'queues' }, [
                `${status.value.queue_pending} / ${status.value.queue_retry} / ${status.value.queue_dead}`,
              ]),
              h('dt', 'Processed'),
              h('dd', { class: 'processed' }, String(status.value.processed_total)),
              h('dt', 'Last error'),
              h('dd', { class: 'last-error' }, status.value.last_error ?? '—'),
            ]),
        h('p', { class: 'freshness' }, [freshness.value, ' ', h('button', { onClick: () => refresh() }, 'Refresh')]),
        props.taskId === null
          ? null
          : h('div', { class: 'task' }, [
              h('progress', { max: 100, value: task.progress.value ?? 0 }),
              h('span', { class: 'task-step' }, task.currentStep.value ?? ''),
              h('span', { class: 'task-status' }, task.status.value ?? 'waiting'),
              task.error.value ? h('span', { class: 'task-error' }, task.error.value) : null,
            ]),
        h('h3', 'Recent notifications'),
        h(
          'ul',
          { class: 'notices' },
          notices.value.map((notice) =>
            h('li', { key: `${notice.epoch}:${notice.offset}`, class: notice.event }, [
              `${notice.event}: ${notice.data.avid ?? notice.data.task_id}`,
              notice.data.message ? ` — ${notice.data.message}` : '',
            ]),
          ),
        ),
      ]);
  },
});

/** Mounts the panel: one plugin call, no WebSocket code, no reconnect timers, no cleanup. */
export function mountWorkerPanel(selector: string, hubUrl: string, taskId: string | null = null) {
  return createApp(WorkerPanel, { taskId }).use(taskpulse, { url: hubUrl }).mount(selector);
}
