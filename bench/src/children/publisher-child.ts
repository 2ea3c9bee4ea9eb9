/**
 * The publisher process: publishes ~200-byte payloads through Redis with the variant's own
 * publisher, either at a fixed rate or closed-loop (as fast as the whole system delivers).
 *
 * Closed loop: the orchestrator relays the load generators' received-delivery counts (every
 * ~10 ms); the publisher keeps `published × fanout − received` under a window of deliveries. So
 * "max" is whatever the slowest stage (server, load generator, Redis) sustains, without letting
 * queues grow without bound.
 */
import { emitToParent, serveIpc } from '../ipc';
import { makePayload } from '../payload';
import { loadVariant } from '../servers/index';
import type { BenchPublisher, VariantName } from '../servers/types';

/** Arguments of the `run` command. */
export interface PublishRunArgs {
  mode: 'rate' | 'closed';
  /** Channels, published to round-robin. */
  channels: string[];
  /** Clients per channel (deliveries per publication). */
  fanout: number;
  /** Publications per second (rate mode). */
  pubsPerSec: number;
  /** How long to publish, ms. */
  durationMs: number;
  /** Closed loop: most deliveries outstanding (published but not yet received). */
  windowDeliveries: number;
  /** Most publish promises outstanding towards Redis. */
  maxInFlight: number;
}

/** Result of the `run` command. */
export interface PublishRunResult {
  published: number;
  errors: number;
  firstError: string | null;
  elapsedMs: number;
}

let publisher: BenchPublisher | null = null;
let variantName: VariantName | null = null;
let received = 0;
let wake: (() => void) | null = null;
let seq = 0;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function run(args: PublishRunArgs): Promise<PublishRunResult> {
  if (!publisher) throw new Error('publisher not set up');
  const pub = publisher;
  const started = performance.now();
  const deadline = started + args.durationMs;
  const windowPubs = Math.max(2, Math.ceil(args.windowDeliveries / args.fanout));
  let published = 0;
  let inFlight = 0;
  let errors = 0;
  let firstError: string | null = null;
  let channelIndex = 0;
  received = 0;

  const publishOne = () => {
    const channel = args.channels[channelIndex] as string;
    channelIndex = (channelIndex + 1) % args.channels.length;
    published++;
    const p = pub.publish(channel, makePayload(++seq));
    if (p) {
      inFlight++;
      p.then(
        () => inFlight--,
        (err: unknown) => {
          inFlight--;
          errors++;
          firstError ??= String(err);
        },
      );
    }
  };

  if (args.mode === 'rate') {
    // a schedule, not a sleep per publication: catch up after a late timer instead of drifting
    while (performance.now() < deadline) {
      const due = Math.floor(((performance.now() - started) / 1000) * args.pubsPerSec) - published;
      for (let i = 0; i < due && inFlight < args.maxInFlight; i++) publishOne();
      await sleep(1);
    }
  } else {
    while (performance.now() < deadline) {
      const outstandingPubs = published - Math.floor(received / args.fanout);
      if (outstandingPubs < windowPubs && inFlight < args.maxInFlight) {
        const room = Math.min(windowPubs - outstandingPubs, args.maxInFlight - inFlight, 1000);
        for (let i = 0; i < room; i++) publishOne();
        // let ioredis flush and progress messages arrive before publishing more
        await new Promise((r) => setImmediate(r));
      } else {
        await Promise.race([new Promise<void>((r) => (wake = r)), sleep(20)]);
        wake = null;
      }
    }
  }
  const drainUntil = performance.now() + 5000;
  while (inFlight > 0 && performance.now() < drainUntil) await sleep(2);
  return { published, errors, firstError, elapsedMs: performance.now() - started };
}

serveIpc({
  async setup(args: { variant: VariantName; redisUrl: string; historySize: number }) {
    if (variantName === args.variant && publisher) return true;
    const previous = publisher;
    publisher = null;
    variantName = null;
    await previous?.close();
    const variant = await loadVariant(args.variant);
    publisher = await variant.createPublisher({ redisUrl: args.redisUrl, historySize: args.historySize });
    variantName = args.variant;
    return true;
  },
  run,
  /** Notification from the orchestrator: total deliveries received by all load generators in this run. */
  progress(args: { received: number }) {
    received = args.received;
    wake?.();
  },
  /** Publishes `count` publications on one channel as fast as allowed, for the recovery scenario. */
  async burst(args: { channel: string; count: number; maxInFlight: number }) {
    if (!publisher) throw new Error('publisher not set up');
    const started = performance.now();
    const pending = new Set<Promise<unknown>>();
    let errors = 0;
    for (let done = 0; done < args.count; done++) {
      const p = publisher.publish(args.channel, makePayload(++seq));
      if (!p) continue;
      const tracked: Promise<unknown> = p.catch(() => errors++).finally(() => pending.delete(tracked));
      pending.add(tracked);
      if (pending.size >= args.maxInFlight) await Promise.race(pending);
    }
    await Promise.all(pending);
    return { published: args.count, errors, elapsedMs: performance.now() - started };
  },
  sample() {
    const cpu = process.cpuUsage();
    return { cpuUs: cpu.user + cpu.system, rssBytes: process.memoryUsage().rss };
  },
  async close() {
    await publisher?.close();
    publisher = null;
    return true;
  },
});

emitToParent('ready', { pid: process.pid });
