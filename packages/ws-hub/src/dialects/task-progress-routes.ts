/**
 * Seed 001's REST reads: latest progress, progress history, progress stats, connection stats.
 * @module
 */
import { channels, type Publication, TaskpulseError } from '@taskpulse/protocol';
import type { HubStats } from '../core/hub-core';
import type { DialectRequestContext, DialectRoute } from './dialect';

/** Most entries `/progress/{task_id}/history` returns (seed 001 keeps 100 per task). */
const MAX_HISTORY = 100;

function taskChannel(taskId: string): string {
  return channels.task(taskId);
}

async function readTask(ctx: DialectRequestContext, taskId: string, limit: number): Promise<Publication[]> {
  const result = await ctx.core.readHistory(await ctx.principal(), taskChannel(taskId), { limit });
  return result.publications;
}

function parseLimit(url: URL): number {
  const raw = url.searchParams.get('limit');
  if (raw === null || raw === '') return 20;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_HISTORY) {
    throw new TaskpulseError('bad_request', `limit must be an integer from 1 to ${MAX_HISTORY}`);
  }
  return Number(raw);
}

/** The routes of {@link taskProgressDialect}, under `prefix` (`/api/v1`). */
export function taskProgressRoutes(prefix: string): DialectRoute[] {
  return [
    {
      // Before `/progress/:task_id`, which would otherwise read a task named "stats".
      method: 'GET',
      path: `${prefix}/progress/stats`,
      handle(ctx) {
        ctx.requireOpsKey();
        const byTask: Record<string, number> = {};
        for (const [channel, listeners] of ctx.core.router.channels()) {
          if (channel.startsWith('task:')) byTask[channel.slice(5)] = listeners;
        }
        const ns = ctx.core.broker.namespaceOptions(taskChannel('stats'));
        return {
          tracked_tasks: Object.keys(byTask).length,
          by_task: byTask,
          max_history: ns.historySize,
          history_ttl_seconds: Math.round(ns.historyTtlMs / 1000),
        };
      },
    },
    {
      method: 'GET',
      path: `${prefix}/progress/:task_id/history`,
      async handle(ctx) {
        const taskId = ctx.params.task_id as string;
        const limit = parseLimit(ctx.url);
        const progress = (await readTask(ctx, taskId, MAX_HISTORY)).filter((p) => p.event === 'progress');
        return { task_id: taskId, history: progress.slice(-limit).map((p) => p.data) };
      },
    },
    {
      method: 'GET',
      path: `${prefix}/progress/:task_id`,
      async handle(ctx) {
        const taskId = ctx.params.task_id as string;
        const history = await readTask(ctx, taskId, MAX_HISTORY);
        let progress: Publication | undefined;
        let status: Publication | undefined;
        for (const p of history) {
          if (p.event === 'progress') {
            progress = p;
            status = undefined;
          } else if (p.event === 'status') status = p;
        }
        if (!progress && !status) {
          throw new TaskpulseError('not_found', `no progress recorded for task ${taskId}`, {
            details: { task_id: taskId },
          });
        }
        if (!progress) return (status as Publication).data;
        const later = status?.data as { status?: unknown } | undefined;
        const base = progress.data as Record<string, unknown>;
        return later?.status !== undefined ? { ...base, status: later.status } : base;
      },
    },
    {
      method: 'GET',
      path: `${prefix}/websocket/stats`,
      handle(ctx) {
        ctx.requireOpsKey();
        const { total_clients, by_user, by_project }: HubStats = ctx.core.stats();
        return { total_clients, by_user, by_project };
      },
    },
  ];
}
