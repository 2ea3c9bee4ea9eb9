/**
 * The BullMQ source: reads a queue's event stream with XREAD from the stored cursor, maps each
 * entry to native publications, republishes them with ids derived from the entry id, and advances
 * the cursor after each entry. Run it with the bridge runner (`createBullmqBridge`).
 * @module
 */
import { TaskpulseError } from '@taskpulse/protocol';
import type { BridgeContext } from '../bridge-runner';
import { DEFAULT_PREFIX, isCluster, type RedisClient } from '../connection';
import { streamCursor } from './cursor';
import { BULLMQ_JOB_EVENTS, type BullmqJobRecord, parseJsonField, parseStreamEntry } from './events';
import type { BullmqPublication, BullmqSource, BullmqSourceOptions, BullmqSourceStats } from './options';
import { alreadyInHistory, resolveStart, StreamGapError } from './resume';

const JOB_CACHE_SIZE = 1000;

/** The publication id of the `index`-th publication of a stream entry. @internal */
export function bullmqPublicationId(queue: string, streamId: string, index: number): string {
  return `bullmq:${queue}:${streamId}:${index}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

/** Creates the source half of the BullMQ bridge (for `createBridgeRunner`). */
export function createBullmqSource(options: BullmqSourceOptions): BullmqSource {
  const { queue } = options;
  const bullPrefix = options.bullmqPrefix ?? 'bull';
  const streamKey = `${bullPrefix}:${queue}:events`;
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const cursorKey = options.cursorKey ?? `${prefix}bridge:bullmq:${bullPrefix}:${queue}:cursor`;
  const events = new Set(options.events ?? BULLMQ_JOB_EVENTS);
  const batchSize = options.batchSize ?? 100;
  const blockMs = options.blockMs ?? 1000;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const stats: BullmqSourceStats = { cursor: null, skipped: 0, alreadyPublished: 0, gaps: 0 };
  const jobs = new Map<string, BullmqJobRecord | null>();
  let stopped = true;
  let blocking: RedisClient | null = null;
  let loop: Promise<void> = Promise.resolve();

  const loadJob = async (redis: RedisClient, jobId: string, fresh: boolean): Promise<BullmqJobRecord | null> => {
    if (!fresh && jobs.has(jobId)) return jobs.get(jobId) ?? null;
    const hash = await redis.hgetall(`${bullPrefix}:${queue}:${jobId}`);
    const record: BullmqJobRecord | null =
      hash && Object.keys(hash).length > 0
        ? {
            id: jobId,
            name: hash.name ?? '',
            data: parseJsonField(hash.data),
            attemptsMade: Number(hash.atm ?? hash.attemptsMade ?? 0),
          }
        : null;
    // Only found jobs are cached: a job looked up before it was stored is looked up again.
    if (record) {
      jobs.delete(jobId);
      if (jobs.size >= JOB_CACHE_SIZE) jobs.delete(jobs.keys().next().value as string);
      jobs.set(jobId, record);
    }
    return record;
  };

  /**
   * Republishes one entry. Returns false when the lease was lost (stop reading). `uncertain`:
   * an earlier attempt may have published part of this entry (first entry after a start or a
   * failure), so publications the channel already holds are not sent again.
   */
  const handle = async (
    context: BridgeContext,
    streamId: string,
    flat: readonly string[],
    uncertain: boolean,
  ): Promise<boolean> => {
    context.received();
    const parsed = parseStreamEntry(queue, streamId, flat, (jobId, fresh) => loadJob(context.redis, jobId, fresh));
    if ('invalid' in parsed) {
      context.invalid(parsed.invalid, { queue, streamId });
      return true;
    }
    if (!events.has(parsed.event)) {
      stats.skipped++;
      return true;
    }
    let publications: readonly BullmqPublication[] | null;
    try {
      publications = await options.map(parsed);
    } catch (error) {
      if (error instanceof TaskpulseError && error.code === 'unavailable') throw error;
      context.invalid(`mapping failed: ${(error as Error)?.message ?? String(error)}`, {
        queue,
        streamId,
        event: parsed.event,
      });
      return true;
    }
    for (const [index, p] of (publications ?? []).entries()) {
      const id = bullmqPublicationId(queue, streamId, index);
      if (uncertain && (await alreadyInHistory(context.redis, prefix, p.channel, id))) {
        stats.alreadyPublished++;
        continue;
      }
      try {
        const result = await context.publish(p.channel, p.event, p.data, {
          id,
          ts: parsed.ts,
          ...(p.priority !== undefined ? { priority: p.priority } : {}),
        });
        if (result === null) return false;
      } catch (error) {
        const e = TaskpulseError.from(error, 'unavailable');
        // Redis trouble: retried from this entry. Anything else is this publication's fault.
        if (e.code === 'unavailable' || e.code === 'internal') throw e;
        context.invalid(`publication rejected: ${e.message}`, { queue, streamId, channel: p.channel, code: e.code });
      }
    }
    return true;
  };

  const run = async (context: BridgeContext, startId: string) => {
    const cursor = streamCursor(context.redis, cursorKey);
    let position = startId;
    let uncertain = true;
    while (!stopped) {
      try {
        const connection = blocking as RedisClient;
        const reply = (await connection.xread(
          'COUNT',
          batchSize,
          'BLOCK',
          blockMs,
          'STREAMS',
          streamKey,
          position,
        )) as Array<[string, Array<[string, string[]]>]> | null;
        if (stopped) return;
        for (const [id, flat] of reply?.[0]?.[1] ?? []) {
          if (!(await handle(context, id, flat, uncertain))) return;
          uncertain = false;
          // Not moved: the stored position is at or past this entry already — a former holder,
          // paused between publishing an entry and storing its position, stored it late. That
          // entry was handled (publication ids make a repeat harmless), and a holder that lost
          // its lease is stopped by the fenced publish above, not here: go on reading.
          await cursor.advance(id);
          position = id;
          stats.cursor = id;
          if (stopped) return;
        }
      } catch (error) {
        if (stopped) return;
        uncertain = true;
        context.error(error, { phase: 'read', queue });
        await sleep(retryDelayMs);
      }
    }
  };

  return {
    name: `bullmq:${bullPrefix}:${queue}`,
    sourceStats: () => ({ ...stats }),
    async start(context) {
      const { redis } = context;
      const cursor = streamCursor(redis, cursorKey);
      let startId: string;
      try {
        startId = await resolveStart(redis, cursor, streamKey, options.startAt ?? 'end');
      } catch (error) {
        if (!(error instanceof StreamGapError)) throw error;
        // Report the loss and go on from the oldest entry still there.
        stats.gaps++;
        context.error(error, { phase: 'resume', queue });
        startId = error.from;
      }
      stats.cursor = startId;
      const connection: RedisClient = isCluster(redis) ? redis.duplicate() : redis.duplicate({ lazyConnect: false });
      connection.on('error', () => {});
      if (connection.status !== 'ready') {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5000);
          timer.unref?.();
          connection.once('ready', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      blocking = connection;
      stopped = false;
      loop = run(context, startId);
    },
    async stop() {
      stopped = true;
      const connection = blocking;
      blocking = null;
      // Disconnecting ends a pending XREAD BLOCK at once (it rejects; the loop sees `stopped`).
      connection?.disconnect();
      await loop.catch(() => {});
    },
  };
}
