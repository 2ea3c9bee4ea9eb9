/** Records what a subscription delivers and checks the exactly-once, in-order guarantee. */
import type {
  ClientError,
  ClientPublication,
  RecoveryFailedInfo,
  SubscribedInfo,
  SubscribeOptions,
} from '../../src/index';

/** Everything one subscription received. */
export class Collector<T = unknown> {
  readonly publications: ClientPublication<T>[] = [];
  readonly states: { latest: ClientPublication<T> | null; recovered?: boolean }[] = [];
  readonly errors: ClientError[] = [];
  readonly recoveryFailed: RecoveryFailedInfo<T>[] = [];
  readonly subscribed: SubscribedInfo[] = [];

  options(extra: Partial<SubscribeOptions<T>> = {}): SubscribeOptions<T> {
    return {
      onPublication: (p) => this.publications.push(p),
      onState: (latest, info) => this.states.push({ latest, ...info }),
      onError: (e) => this.errors.push(e),
      onRecoveryFailed: (info) => this.recoveryFailed.push(info),
      onSubscribed: (info) => this.subscribed.push(info),
      ...extra,
    };
  }

  /** Offsets received, in order. */
  offsets(): number[] {
    return this.publications.map((p) => p.offset);
  }
}

/** 1..n */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Resolves once `condition()` is truthy; rejects after `timeoutMs` naming `what`. */
export async function waitFor(condition: () => unknown, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
