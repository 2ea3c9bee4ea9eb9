/**
 * The `tests` queue, its Node workers and the producer: plain BullMQ, nothing taskpulse-specific
 * (the bridge reads BullMQ's own event stream).
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { runTestJob, type TestJobData, testJob } from './jobs';

/** The queue name. */
export const QUEUE_NAME = 'tests';

/** A BullMQ connection (workers need `maxRetriesPerRequest: null`). */
function connection(redisUrl: string): Redis {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  return redis;
}

/** The queue, the workers and a producer. */
export interface TestQueue {
  /** The BullMQ queue. */
  readonly queue: Queue<TestJobData>;
  /** Adds a run of `count` jobs; resolves with their test ids. */
  produce(
    count: number,
    options?: { stepMs?: number; steps?: number; userId?: string; run?: string },
  ): Promise<string[]>;
  /**
   * (Re)starts the test `stress_123`, the one seed 003's client code follows
   * (`room:join`, `test-progress-stress_123`): a finished run of it is removed first.
   */
  produceSeedTest(options?: { stepMs?: number; steps?: number }): Promise<void>;
  /** Closes workers, queue and connections. */
  close(): Promise<void>;
}

let runs = 0;

/** Starts the queue with `workers` Node workers (each running `concurrency` jobs at once). */
export function startTestQueue(options: {
  redisUrl: string;
  workers?: number;
  concurrency?: number;
  prefix?: string;
}): TestQueue {
  const connections: Redis[] = [];
  const open = () => {
    const c = connection(options.redisUrl);
    connections.push(c);
    return c;
  };
  const prefix = options.prefix ?? 'bull';
  const queue = new Queue<TestJobData>(QUEUE_NAME, { connection: open(), prefix });
  const workers = Array.from(
    { length: options.workers ?? 2 },
    () =>
      new Worker<TestJobData>(QUEUE_NAME, runTestJob, {
        connection: open(),
        prefix,
        concurrency: options.concurrency ?? 3,
      }),
  );
  for (const w of workers) w.on('error', () => {});
  return {
    queue,
    async produce(count, jobOptions = {}) {
      const run = jobOptions.run ?? `${Date.now().toString(36)}${(runs++).toString(36)}`;
      const ids: string[] = [];
      for (let n = 0; n < count; n++) {
        const data = testJob(run, n, jobOptions);
        await queue.add(data.testType, data, { jobId: data.testId, removeOnComplete: 500, removeOnFail: 500 });
        ids.push(data.testId);
      }
      return ids;
    },
    async produceSeedTest(jobOptions = {}) {
      const old = await queue.getJob('stress_123');
      if (old) {
        const state = await old.getState();
        if (state !== 'completed' && state !== 'failed') return; // still running
        await old.remove();
      }
      const data = {
        ...testJob('seed', 0, jobOptions),
        testId: 'stress_123',
        testType: 'stress',
        outcome: 'pass' as const,
      };
      await queue.add('stress', data, { jobId: 'stress_123', removeOnComplete: 500, removeOnFail: 500 });
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await queue.close();
      for (const c of connections) c.disconnect();
    },
  };
}
