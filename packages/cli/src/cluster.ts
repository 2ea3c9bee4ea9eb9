/**
 * `--workers N`: N hub processes on one port with `node:cluster`. The primary only forks,
 * supervises and relays signals; every worker is a full hub with its own broker (its own Redis
 * subscriptions) and its own bridge runners (the lease keeps one active per bridge).
 * @module
 */
import cluster, { type Worker } from 'node:cluster';
import type { TaskpulseLogger } from '@taskpulse/protocol';
import { closeWithin, type HubProcess, startHubProcess } from './compose/start-hub';
import type { HubSettings } from './config/resolve';

/** Messages between the primary and its workers. */
type WorkerMessage =
  | { type: 'taskpulse:listening'; address: string; family: string; port: number }
  | { type: 'taskpulse:failed'; message: string };
type PrimaryMessage = { type: 'taskpulse:shutdown' };

/** What the primary reports when every worker listens. */
export interface ClusterReady {
  /** The shared address. */
  address: string;
  /** The address family. */
  family: string;
  /** The shared port. */
  port: number;
}

/** Options of {@link runPrimary}. */
export interface RunPrimaryOptions {
  /** The primary's logger. */
  logger: TaskpulseLogger;
  /** Called once when all workers listen. */
  onReady(ready: ClusterReady): void;
  /** Called with a fatal startup failure (a worker could not listen). */
  onFailed(message: string): void;
  /** Grace period for workers to close on shutdown, in ms. @default 15000 */
  shutdownTimeoutMs?: number;
  /** Delay before replacing a worker that died, in ms. @default 1000 */
  restartDelayMs?: number;
}

/**
 * Forks `settings.workers` workers (re-running this command with the same arguments) and
 * supervises them until SIGTERM/SIGINT. Resolves with the exit code.
 */
export function runPrimary(settings: HubSettings, options: RunPrimaryOptions): Promise<number> {
  const { logger } = options;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 15_000;
  const listening = new Set<number>();
  let ready = false;
  let stopping = false;

  return new Promise<number>((resolve) => {
    const live = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const shutdown = (code: number) => {
      if (stopping) return;
      stopping = true;
      const workers = live();
      if (workers.length === 0) {
        resolve(code);
        return;
      }
      for (const w of workers) {
        if (w.isConnected()) w.send({ type: 'taskpulse:shutdown' } satisfies PrimaryMessage);
        else w.process.kill('SIGTERM');
      }
      const force = setTimeout(() => {
        logger.error('workers did not stop in time; killing them', { timeoutMs: shutdownTimeoutMs });
        for (const w of live()) w.process.kill('SIGKILL');
      }, shutdownTimeoutMs);
      force.unref();
      cluster.on('exit', () => {
        if (live().length === 0) {
          clearTimeout(force);
          resolve(code);
        }
      });
    };

    const fork = () => {
      const worker = cluster.fork({ TASKPULSE_CLUSTER_WORKER: '1' });
      worker.on('message', (message: WorkerMessage) => {
        if (message?.type === 'taskpulse:listening') {
          listening.add(worker.id);
          if (!ready && listening.size >= settings.workers) {
            ready = true;
            options.onReady({ address: message.address, family: message.family, port: message.port });
          }
        } else if (message?.type === 'taskpulse:failed' && !ready) {
          options.onFailed(message.message);
          shutdown(1);
        }
      });
      worker.on('exit', (code, signal) => {
        listening.delete(worker.id);
        if (stopping) return;
        if (!ready) {
          options.onFailed(`worker ${worker.id} exited during startup (code ${code}, signal ${signal})`);
          shutdown(1);
          return;
        }
        logger.error('worker died; starting a replacement', { worker: worker.id, code, signal });
        setTimeout(() => {
          if (!stopping) fork();
        }, options.restartDelayMs ?? 1000).unref();
      });
    };

    const onSignal = (signal: NodeJS.Signals) => {
      logger.info('stopping', { signal, workers: live().length });
      shutdown(0);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    for (let i = 0; i < settings.workers; i++) fork();
  });
}

/**
 * Runs one cluster worker: a full hub process announcing client ids prefixed `w<id>-`. Resolves
 * with the exit code after a shutdown message or a signal.
 */
export async function runWorker(settings: HubSettings, logger: TaskpulseLogger): Promise<number> {
  const id = cluster.worker?.id ?? 0;
  let hubProcess: HubProcess;
  try {
    hubProcess = await startHubProcess(settings, { logger, clientIdPrefix: `w${id}-` });
  } catch (error) {
    process.send?.({ type: 'taskpulse:failed', message: (error as Error).message } satisfies WorkerMessage);
    throw error;
  }
  const { address, family, port } = hubProcess.address;
  process.send?.({ type: 'taskpulse:listening', address, family, port } satisfies WorkerMessage);
  logger.info('worker listening', { port });
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (reason: string) => {
      if (stopping) return;
      stopping = true;
      logger.info('worker stopping', { reason });
      void closeWithin(hubProcess, 10_000).then(resolve);
    };
    process.on('message', (message: PrimaryMessage) => {
      if (message?.type === 'taskpulse:shutdown') stop('shutdown');
    });
    // The primary relays signals; a Ctrl-C reaches the whole process group, so handle it here too.
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // The primary is gone: nobody supervises this worker any more.
    process.once('disconnect', () => stop('primary disconnected'));
  });
}
