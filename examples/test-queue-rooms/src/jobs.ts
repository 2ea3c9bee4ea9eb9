/**
 * The simulated test jobs of the example: what the producer puts in the `tests` queue and what a
 * worker does with it (progress with metrics, some failing, some cancelled).
 */
import type { Job } from 'bullmq';

/** The data of one test job (seed 003's test: id, type, URL, owner). */
export interface TestJobData {
  /** The test id (also the BullMQ job id), e.g. `stress_12`. */
  testId: string;
  /** `stress`, `performance`, `api` or `security`. */
  testType: string;
  /** The URL under test. */
  url: string;
  /** Who started it (their notifications go to `user-notifications-{userId}`). */
  userId: string;
  /** How the simulated run ends. */
  outcome: 'pass' | 'fail' | 'cancel';
  /** Progress steps. */
  steps: number;
  /** Time per step, in ms. */
  stepMs: number;
}

const TYPES = ['stress', 'performance', 'api', 'security'] as const;

/** The `n`-th job of a run: every 5th fails, every 7th is cancelled, the rest pass. */
export function testJob(
  run: string,
  n: number,
  options: { stepMs?: number; steps?: number; userId?: string } = {},
): TestJobData {
  const testType = TYPES[n % TYPES.length] as string;
  return {
    testId: `${testType}_${run}_${n}`,
    testType,
    url: `https://shop.example/${testType}/${n}`,
    userId: options.userId ?? 'demo',
    outcome: n % 5 === 4 ? 'fail' : n % 7 === 6 ? 'cancel' : 'pass',
    steps: options.steps ?? 5,
    stepMs: options.stepMs ?? 400,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one simulated test: progress with metrics per step, then a result or an error. */
export async function runTestJob(job: Job<TestJobData>): Promise<{ passed: boolean; requests: number; p95Ms: number }> {
  const { steps, stepMs, outcome } = job.data;
  let requests = 0;
  for (let step = 1; step <= steps; step++) {
    await sleep(stepMs);
    requests += 100 + step * 7;
    const metrics = { requests, rps: Math.round(requests / ((step * stepMs) / 1000)), p95Ms: 80 + step * 3, errors: 0 };
    await job.updateProgress({
      progress: Math.round((step / steps) * 100),
      metrics,
      message: `step ${step} of ${steps}`,
    });
    if (outcome === 'cancel' && step === 2) throw new Error('cancelled by user');
    if (outcome === 'fail' && step === steps - 1) throw new Error(`assertion failed: p95 above budget at step ${step}`);
  }
  return { passed: true, requests, p95Ms: 80 + steps * 3 };
}
