import { decodeCeleryMessage } from '../../src/celery/decode';
import { type CeleryOutput, CeleryTracker, type TrackerResult } from '../../src/celery/tracker';
import { namesOf, readCapture } from './fixtures';

/** A tracker with the bridge's defaults (heartbeat timeout 6 s). */
export function newTracker(): CeleryTracker {
  return new CeleryTracker({
    progressEvents: ['task-progress'],
    heartbeatTimeoutMs: (freq) => Math.max(3 * (freq ?? 2) * 1000, 6000),
    taskTtlMs: 3_600_000,
    maxTasks: 10_000,
    maxWorkers: 100,
  });
}

/** One input of a replay and what it produced. */
export interface ReplayStep {
  seq: number;
  atMs: number;
  result: TrackerResult;
}

/** Replays a capture through a tracker, message by message, with the capture's own clock. */
export function replay(
  variant: string,
  tracker = newTracker(),
  until?: (seq: number) => boolean,
  skip?: (seq: number) => boolean,
) {
  const names = namesOf(variant);
  const steps: ReplayStep[] = [];
  for (const line of readCapture(variant)) {
    if (until?.(line.seq ?? 0)) break;
    if (skip?.(line.seq ?? 0)) continue;
    const atMs = (line.recv_ts ?? 0) * 1000;
    const m = decodeCeleryMessage(line.channel, line.payload, {
      names,
      backendPrefix: 'celery-task-meta-',
      maxMessageBytes: 1 << 20,
    });
    let result: TrackerResult | undefined;
    if (m.kind === 'events') result = tracker.events(m.events, atMs);
    else if (m.kind === 'backend') result = tracker.backend(m.message, atMs);
    else if (m.kind === 'control') result = tracker.control(m.method, m.destination, atMs, m.arguments);
    if (result) steps.push({ seq: line.seq ?? 0, atMs, result });
  }
  const outputs: CeleryOutput[] = steps.flatMap((s) => s.result.outputs);
  return { tracker, steps, outputs };
}

/** The lifecycle of each task as published on its own channel, keyed by task id. */
export function lifecycles(
  outputs: CeleryOutput[],
): Map<string, Array<{ event: string; data: Record<string, unknown> }>> {
  const byTask = new Map<string, Array<{ event: string; data: Record<string, unknown> }>>();
  for (const o of outputs) {
    if (!o.channel.startsWith('celery-task:')) continue;
    const id = o.channel.slice('celery-task:'.length);
    const list = byTask.get(id) ?? [];
    list.push({ event: o.event, data: o.data as Record<string, unknown> });
    byTask.set(id, list);
  }
  return byTask;
}

/** The task id whose first event names `name` (and, optionally, has these args). */
export function taskIdByName(outputs: CeleryOutput[], name: string, argsrepr?: string): string {
  const hit = outputs.find((o) => {
    const d = o.data as { name?: string; argsrepr?: string; task_id?: string };
    return o.channel === 'celery:tasks' && d.name === name && (argsrepr === undefined || d.argsrepr === argsrepr);
  });
  if (!hit) throw new Error(`no task named ${name}`);
  return (hit.data as { task_id: string }).task_id;
}
