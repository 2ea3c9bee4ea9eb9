/**
 * Publishes a node's figures on the system channel every `intervalMs`, through the broker, so a
 * dashboard on any node of a Redis-backed deployment sees every node.
 * @module
 */
import { type NodeFigures, SYSTEM_NODES_CHANNEL, SystemEvents } from '@taskpulse/protocol';
import type { HubCore } from '../core/hub-core';
import type { NodeFiguresCollector } from './node-figures';
import { SYSTEM_SOURCE } from './system-guard';

/** Publishes figures on a timer. @internal */
export interface FiguresPublisher {
  /** The latest figures taken (published or not: while the broker is down they stay local). */
  latest(): NodeFigures | null;
  /** Takes figures now (used by the dashboard's local read before the first tick). */
  sampleNow(): Promise<NodeFigures>;
  /** Stops the timer and announces `node.stopped` (bounded wait). */
  close(): Promise<void>;
}

/**
 * Starts publishing. Figures that cannot be published (the broker is down) are kept as
 * {@link FiguresPublisher.latest}; the first failure of an outage is logged as a warning.
 * @internal
 */
export function startFiguresPublisher(
  core: HubCore,
  collector: NodeFiguresCollector,
  options: { nodeId: string; intervalMs: number },
): FiguresPublisher {
  let latest: NodeFigures | null = null;
  let running: Promise<void> | null = null;
  let failing = false;
  let closed = false;

  const publish = async (event: string, data: unknown) => {
    const result = await core.publish(SYSTEM_NODES_CHANNEL, event, data, { source: SYSTEM_SOURCE });
    collector.noteEpoch(result.epoch);
  };

  const tick = async () => {
    const figures = await collector.sample();
    latest = figures;
    if (closed) return;
    try {
      await publish(SystemEvents.NODE_FIGURES, figures);
      if (failing) core.logger.info('dashboard figures are published again', { nodeId: options.nodeId });
      failing = false;
    } catch (error) {
      if (!failing) {
        core.logger.warn('dashboard figures could not be published', {
          nodeId: options.nodeId,
          error: String(error),
        });
      }
      failing = true;
    }
  };

  const run = () => {
    if (running || closed) return; // a slow tick (broker timeouts) is never overlapped
    running = tick()
      .catch((error) => core.logger.error('dashboard figures failed', { error: String(error) }))
      .finally(() => {
        running = null;
      });
  };

  const figuresTimer = setInterval(run, options.intervalMs);
  figuresTimer.unref();
  // The first figures at once, so a dashboard opened right after start has something to show.
  queueMicrotask(run);

  return {
    latest: () => latest,
    async sampleNow() {
      if (running) await running;
      if (latest) return latest;
      latest = await collector.sample();
      return latest;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(figuresTimer);
      if (running) await running;
      collector.close();
      if (core.broker.status() !== 'ready') return;
      // Dashboards drop the node at once instead of waiting for it to go stale.
      const stopped = publish(SystemEvents.NODE_STOPPED, { nodeId: options.nodeId }).catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stopped, new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)))]);
      clearTimeout(timer);
    },
  };
}
