import { messageOf, type Publication } from '@taskpulse/protocol';
import { describe, expect, it } from 'vitest';
import { createChannelSync } from '../src/channel-sync';
import type { RawEntry, RawRead, ReadRequest } from '../src/history-reader';
import { range, waitUntil } from './helpers';

const CHANNEL = 't:busy';

/** A stored entry of a publication, with the text the publish script would have written. */
function entryOf(p: Publication): RawEntry {
  const message = messageOf(p);
  return { offset: p.offset, message, text: message.text };
}
const EPOCH = 'epoch-1';

/**
 * A fake channel: publications go to history first, then (unless lost) live to the synchronizer,
 * as with the publish script. A read takes a snapshot when it is sent and answers a few ms later,
 * so live publications keep arriving while it is in flight.
 */
function busyChannel(batchSize: number) {
  const history: Publication[] = [];
  const delivered: number[] = [];
  let reads = 0;
  /** Deliveries that happened synchronously inside `receive()`: the live path, no recovery running. */
  let livePath = 0;
  let inReceive = false;

  const read = (request: ReadRequest): Promise<RawRead> => {
    reads++;
    const head = history.length;
    const since = request.mode === 'since' ? request.since.offset : head;
    const limit = request.mode === 'head' ? 0 : request.limit;
    const entries = history.slice(since, since + limit).map(entryOf);
    const newest = history[head - 1] ?? null;
    const reply: RawRead = { epoch: EPOCH, offset: head, entries, newestEntry: newest && entryOf(newest) };
    return new Promise((resolve) => setTimeout(() => resolve(reply), 3));
  };

  const sync = createChannelSync({
    channel: CHANNEL,
    read,
    latest: (entry) => entry?.message?.publication() ?? null,
    deliver: (p) => {
      delivered.push(p.offset);
      if (inReceive) livePath++;
    },
    reset: (event) => {
      throw new Error(`unexpected reset ${JSON.stringify(event)}`);
    },
    invalid: (reason) => {
      throw new Error(`unexpected invalid: ${reason}`);
    },
    failed: (error) => {
      throw error;
    },
    duplicate: () => {},
    recovered: () => {},
    batchSize,
    retryDelayMs: 10,
    maxBuffered: 100_000,
    // The live path under test is the trusted one (verified delivery reads every message back).
    verify: false,
  });

  const publish = (live: boolean) => {
    const p: Publication = {
      channel: CHANNEL,
      epoch: EPOCH,
      offset: history.length + 1,
      event: 'e',
      data: history.length + 1,
      ts: 0,
    };
    history.push(p);
    if (!live) return;
    inReceive = true;
    try {
      sync.receive(messageOf(p));
    } finally {
      inReceive = false;
    }
  };

  return {
    sync,
    publish,
    delivered,
    published: () => history.length,
    reads: () => reads,
    livePath: () => livePath,
  };
}

describe('channel sync', () => {
  it.each([
    { cause: 'a gap (publications lost in transit)', batchSize: 500 },
    { cause: 'a gap larger than one history page', batchSize: 8 },
    { cause: 'a reconnect (resync)', batchSize: 500 },
  ])('finishes a recovery after $cause while publications keep flowing', async ({ cause, batchSize }) => {
    const ch = busyChannel(batchSize);
    await ch.sync.start();
    for (let i = 0; i < 5; i++) ch.publish(true);
    expect(ch.delivered).toEqual(range(1, 5));

    // Publish continuously (one live publication per timer tick, several per read) until told to stop.
    let publishing = true;
    const loop = (async () => {
      while (publishing) {
        ch.publish(true);
        await new Promise((r) => setTimeout(r, 0));
      }
    })();

    const readsBefore = ch.reads();
    for (let i = 0; i < 20; i++) ch.publish(false); // lost in transit
    // After a reconnect the subscriber resyncs; otherwise the next live publication reveals the gap.
    if (cause.startsWith('a reconnect')) ch.sync.resync();
    await waitUntil(() => ch.reads() > readsBefore, 'recovery started');

    // The recovery must end while publishing goes on: live publications then pass straight
    // through `receive()` again, and no more history reads are made.
    const liveBefore = ch.livePath();
    await waitUntil(() => ch.livePath() >= liveBefore + 100, 'live delivery resumed during continuous publishing');
    const readsAfterRecovery = ch.reads();
    const target = ch.published() + 100;
    await waitUntil(() => ch.published() >= target, 'more publications');
    publishing = false;
    await loop;
    await waitUntil(() => ch.delivered.length === ch.published(), 'delivery caught up');

    expect(ch.delivered).toEqual(range(1, ch.published()));
    expect(ch.reads()).toBe(readsAfterRecovery);
    expect(ch.sync.position()).toEqual({ epoch: EPOCH, offset: ch.published() });
    ch.sync.close();
  });
});
