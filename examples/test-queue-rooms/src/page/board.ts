/**
 * The board's model: jobs by state, folded from `GET /api/jobs` (BullMQ's records) and the
 * `queue-updates` events, where a later state never goes back to an earlier one.
 */

/** A job's state on the board. */
export type BoardState = 'waiting' | 'active' | 'completed' | 'failed' | 'cancelled';

/** One job on the board. */
export interface BoardJob {
  jobId: string;
  testId: string;
  testType: string;
  state: BoardState;
  progress: number;
  error?: string;
}

const RANK: Record<BoardState, number> = { waiting: 0, active: 1, completed: 2, failed: 2, cancelled: 2 };

/** Applies a state to a job, never moving it back (events may arrive after the snapshot). */
export function advance(jobs: Map<string, BoardJob>, next: BoardJob): void {
  const current = jobs.get(next.jobId);
  if (!current || RANK[next.state] >= RANK[current.state]) {
    jobs.set(next.jobId, { ...current, ...next, progress: Math.max(next.progress, current?.progress ?? 0) });
  } else if (next.progress > current.progress) {
    jobs.set(next.jobId, { ...current, progress: next.progress });
  }
}

/** Folds one `queue-updates` event into the board. */
export function applyQueueEvent(jobs: Map<string, BoardJob>, event: string, data: Record<string, unknown>): void {
  const jobId = String(data.jobId ?? '');
  if (!jobId) return;
  const base = {
    jobId,
    testId: String(data.testId ?? jobId),
    testType: String(data.testType ?? ''),
    progress: typeof data.progress === 'number' ? data.progress : 0,
  };
  switch (event) {
    case 'queue:job:added':
      advance(jobs, { ...base, state: 'waiting' });
      return;
    case 'queue:job:started':
    case 'queue:job:progress':
      advance(jobs, { ...base, state: 'active' });
      return;
    case 'queue:job:completed':
      advance(jobs, { ...base, state: 'completed', progress: 100 });
      return;
    case 'queue:job:failed':
      advance(jobs, {
        ...base,
        state: data.status === 'cancelled' ? 'cancelled' : 'failed',
        ...(typeof data.error === 'string' ? { error: data.error } : {}),
      });
      return;
  }
}

/** A BullMQ state from `/api/jobs` as a board state. */
export function boardStateOf(state: string, failedReason: string | undefined): BoardState {
  if (state === 'failed') return /^cancell?ed/i.test(failedReason ?? '') ? 'cancelled' : 'failed';
  if (state === 'completed' || state === 'active') return state;
  return 'waiting';
}
