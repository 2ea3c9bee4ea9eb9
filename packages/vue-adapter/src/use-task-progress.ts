/**
 * `useTaskProgress`: one task's progress (seed 001) as refs.
 * @module
 */
import type { ClientError, ClientPublication, Subscription, TaskpulseClient } from '@taskpulse/fallback-client';
import {
  type TaskProgress,
  type TaskStatus,
  type TaskStatusUpdate,
  taskProgressSchema,
  taskStatusUpdateSchema,
} from '@taskpulse/protocol/payloads';
import { type ComputedRef, computed, type MaybeRefOrGetter, type ShallowRef, shallowRef, toValue } from 'vue';
import { toClientError } from './internal/errors';
import { isNotOlder } from './internal/order';
import { resolveClient } from './internal/resolve-client';
import { watchChannel } from './internal/watch-channel';

/** Options of {@link useTaskProgress}. */
export interface UseTaskProgressOptions {
  /** The client to use. @default the one the plugin provides */
  client?: TaskpulseClient;
  /** Called with every error (besides setting `channelError`). */
  onError?: (error: ClientError) => void;
}

/** Steps done and in all. */
export interface TaskSteps {
  /** Steps done. */
  completed: number;
  /** Steps in all. */
  total: number;
}

/** What {@link useTaskProgress} returns. */
export interface UseTaskProgressReturn {
  /** Percent complete (0–100): 100 once the task completed, null before the first progress report. */
  progress: ComputedRef<number | null>;
  /** Name of the step being executed, or null. */
  currentStep: ComputedRef<string | null>;
  /** Steps done and in all, or null. */
  steps: ComputedRef<TaskSteps | null>;
  /** The last progress message (`正在转码视频...`), or null. */
  message: ComputedRef<string | null>;
  /** The task's state (`pending`, `running`, `completed`, `failed`, `cancelled`) as last reported, or null. */
  status: Readonly<ShallowRef<TaskStatus | null>>;
  /** True once the task completed, failed or was cancelled. */
  finished: ComputedRef<boolean>;
  /** The task's result (from the `completed` status update), or undefined. */
  result: ComputedRef<unknown>;
  /** The task's error message (from the `failed` status update), or null. */
  error: ComputedRef<string | null>;
  /** When the last report was made (the publisher's ISO-8601 `timestamp`), or null. */
  updatedAt: ComputedRef<string | null>;
  /** The last progress report as published, or null. */
  lastProgress: Readonly<ShallowRef<TaskProgress | null>>;
  /** The last status update as published, or null. */
  lastStatus: Readonly<ShallowRef<TaskStatusUpdate | null>>;
  /** True once the hub answered the subscription and the current progress was read. */
  ready: Readonly<ShallowRef<boolean>>;
  /** A problem with the channel or the data (forbidden, invalid payload…), null when fine. */
  channelError: Readonly<ShallowRef<ClientError | null>>;
}

const FINISHED: ReadonlySet<TaskStatus> = new Set(['completed', 'failed', 'cancelled']);

/**
 * Follows one task (seed 001): `progress` events (percent, step, steps, message) and `status`
 * events (completion with a result, failure with an error) on the channel `task:{taskId}`. The
 * current progress is read when the subscription opens, so a page opened mid-task starts from it.
 * `taskId` may be a value, a ref or a getter; null follows nothing.
 *
 * @example
 * ```ts
 * const { progress, currentStep, status, result } = useTaskProgress(() => route.params.taskId as string);
 * ```
 */
export function useTaskProgress(
  taskId: MaybeRefOrGetter<string | number | null | undefined>,
  options: UseTaskProgressOptions = {},
): UseTaskProgressReturn {
  const client = resolveClient('useTaskProgress', options.client);
  const lastProgress = shallowRef<TaskProgress | null>(null);
  const lastStatus = shallowRef<TaskStatusUpdate | null>(null);
  const status = shallowRef<TaskStatus | null>(null);
  const ready = shallowRef(false);
  const channelError = shallowRef<ClientError | null>(null);
  // The newest publication applied, so a re-read never rolls the task back.
  let newest: ClientPublication<unknown> | null = null;

  const fail = (problem: ClientError) => {
    channelError.value = problem;
    options.onError?.(problem);
  };

  const apply = (publication: ClientPublication<unknown>) => {
    if (!isNotOlder(publication, newest)) return;
    if (publication.event === 'progress') {
      const parsed = taskProgressSchema.safeParse(publication.data);
      if (!parsed.success) {
        fail({ code: 'bad_data', message: `invalid progress on ${publication.channel}: ${parsed.error.message}` });
        return;
      }
      lastProgress.value = parsed.data;
      if (parsed.data.status !== undefined) status.value = parsed.data.status;
    } else if (publication.event === 'status') {
      const parsed = taskStatusUpdateSchema.safeParse(publication.data);
      if (!parsed.success) {
        fail({ code: 'bad_data', message: `invalid status on ${publication.channel}: ${parsed.error.message}` });
        return;
      }
      lastStatus.value = parsed.data;
      status.value = parsed.data.status;
    } else {
      return; // other events on a task channel are not progress
    }
    newest = publication;
  };

  const channel = () => {
    const id = toValue(taskId);
    if (id === null || id === undefined || id === '') return null;
    return `task:${String(id)}`;
  };

  watchChannel(client, channel, {
    reset() {
      newest = null;
      lastProgress.value = null;
      lastStatus.value = null;
      status.value = null;
      ready.value = false;
      channelError.value = null;
    },
    fail,
    open(c, name, isCurrent) {
      let subscription: Subscription<unknown> | undefined;
      // A task channel keeps an ordered log, not a state: read its latest entry over HTTP (it
      // arrives through onState) so that a page opened mid-task shows the current progress.
      // Deferred: the client may answer a shared channel's subscriber inside subscribe().
      const readLatest = () => {
        Promise.resolve()
          .then(() => (subscription && isCurrent() ? subscription.refresh() : null))
          .then(
            () => {
              if (isCurrent()) ready.value = true;
            },
            (cause: unknown) => {
              if (!isCurrent()) return;
              ready.value = true;
              fail(toClientError(cause, 'network'));
            },
          );
      };
      subscription = c.subscribe<unknown>(name, {
        onPublication(publication) {
          if (isCurrent()) apply(publication);
        },
        onState(latest) {
          if (isCurrent() && latest !== null) apply(latest);
        },
        onSubscribed() {
          if (isCurrent()) readLatest();
        },
        onError(problem) {
          if (isCurrent()) fail(problem);
        },
      });
      // A channel another component already follows is answered: no onSubscribed may come.
      if (subscription.kind !== null) readLatest();
      return subscription;
    },
  });

  return {
    // A completed task is done, also when its last progress report said less (or none was read:
    // a page opened after the end reads only the final status).
    progress: computed(() => (status.value === 'completed' ? 100 : (lastProgress.value?.progress ?? null))),
    currentStep: computed(() => lastProgress.value?.current_step ?? null),
    steps: computed(() =>
      lastProgress.value === null
        ? null
        : { completed: lastProgress.value.completed_steps, total: lastProgress.value.total_steps },
    ),
    message: computed(() => lastProgress.value?.message ?? null),
    status,
    finished: computed(() => status.value !== null && FINISHED.has(status.value)),
    result: computed(() => lastStatus.value?.result),
    error: computed(() => lastStatus.value?.error ?? null),
    updatedAt: computed(() => {
      const p = lastProgress.value?.timestamp ?? null;
      const s = lastStatus.value?.timestamp ?? null;
      if (p === null) return s;
      if (s === null) return p;
      return Date.parse(s) >= Date.parse(p) ? s : p;
    }),
    lastProgress,
    lastStatus,
    ready,
    channelError,
  };
}
